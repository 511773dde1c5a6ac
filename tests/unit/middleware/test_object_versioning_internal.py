"""object_versioning_internal: how versioning subrequests are built from
the client's environ, how their answers become the client's answer, and
the two readers that stream bodies through them."""
import io

import pytest
from webob import Request, Response

from middleware import object_versioning_internal as internal
from middleware.object_versioning_internal import (
    CountingReader, IterReader, VersioningError, call, check, drain, make_env)
from middleware.object_versioning_names import ALLOW_RESERVED
from objproxy.common.paths import reserved_names_allowed
from tests.unit.middleware.closing_body import ClosingBody


def client_env(**extra):
    env = Request.blank('/v1/a/c/o', environ={
        'REQUEST_METHOD': 'PUT', 'HTTP_X_AUTH_TOKEN': 'tok',
        'swift.trans_id': 'tx1', 'swift.cache': 'the-cache',
        'HTTP_X_OBJECT_META_COLOR': 'blue', 'HTTP_RANGE': 'bytes=0-1',
        'swift.source': 'CLIENT'}).environ
    env.update(extra)
    return env


class Recorder(object):
    """An app that records the request and answers ``status`` with a body
    whose closing is recorded."""

    def __init__(self, status=200, body=b'answer', content_type=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.seen = []
        self.closed = 0

    def __call__(self, env, start_response):
        req = Request(env)
        self.seen.append((req.method, req.path_info, req.body))
        kwargs = {'content_type': self.content_type} \
            if self.content_type else {}
        Response(status=self.status, body=self.body, **kwargs)(
            env, start_response)
        return ClosingBody(self, [self.body[:3], self.body[3:]])


# --- make_env ----------------------------------------------------------------

def test_a_subrequest_keeps_the_clients_identity_but_not_its_request():
    req = make_env(client_env(), 'HEAD', '/v1/a/c')
    env = req.environ
    assert env['HTTP_X_AUTH_TOKEN'] == 'tok'
    assert env['swift.trans_id'] == 'tx1'
    assert env['swift.cache'] == 'the-cache'
    assert env['swift.source'] == internal.SOURCE == 'OV'
    assert req.method == 'HEAD' and env['SCRIPT_NAME'] == ''
    # the client's headers for its own request do not leak in
    assert 'HTTP_X_OBJECT_META_COLOR' not in env
    assert 'HTTP_RANGE' not in env
    assert req.body == b'' and env['CONTENT_LENGTH'] == '0'


def test_a_subrequest_path_is_text_and_its_query_is_percent_quoted():
    req = make_env(client_env(), 'GET', '/v1/a/c/sn\u2603w',
                   query={'prefix': 'a b/\u00e9', 'format': 'json'})
    assert req.environ['PATH_INFO'] == '/v1/a/c/sn\u2603w'.encode(
        'utf-8').decode('latin-1')
    assert req.path_info == '/v1/a/c/sn\u2603w'
    assert req.environ['QUERY_STRING'] == \
        'prefix=a%20b%2F%C3%A9&format=json'


def test_headers_given_as_none_are_left_out():
    req = make_env(client_env(), 'PUT', '/v1/a/c/o',
                   headers={'X-Object-Meta-A': 'b', 'X-Gone': None})
    assert req.headers['X-Object-Meta-A'] == 'b'
    assert 'X-Gone' not in req.headers


def test_preauth_replaces_the_auth_hook_with_one_that_allows():
    denied = Response(status=403)
    env = client_env(**{'swift.authorize': lambda req: denied})
    plain = make_env(env, 'GET', '/v1/a/c/o')
    assert plain.environ['swift.authorize'](plain) is denied
    assert 'swift.authorize_override' not in plain.environ
    pre = make_env(env, 'GET', '/v1/a/c/o', preauth=True)
    assert pre.environ['swift.authorize'](pre) is None
    assert pre.environ['swift.authorize_override'] is True


def test_only_reserved_subrequests_may_name_hidden_containers():
    assert not reserved_names_allowed(
        make_env(client_env(), 'HEAD', '/v1/a/c').environ)
    hidden = make_env(client_env(), 'HEAD', '/v1/a/\x00versions\x00c',
                      reserved=True)
    assert hidden.headers[ALLOW_RESERVED] == 'true'
    assert reserved_names_allowed(hidden.environ)


def test_a_body_without_a_length_is_still_read_by_the_app():
    source = io.BytesIO(b'streamed body')
    req = make_env(client_env(), 'PUT', '/v1/a/c/o', body=source)
    assert req.environ['wsgi.input'] is source
    assert 'CONTENT_LENGTH' not in req.environ
    app = Recorder(status=201)
    call(app, req)
    assert app.seen == [('PUT', '/v1/a/c/o', b'streamed body')]


# --- call, drain, check -----------------------------------------------------------

def test_call_returns_the_answer_unread_and_drain_closes_it():
    app = Recorder(body=b'abcdef')
    resp = call(app, make_env(client_env(), 'GET', '/v1/a/c/o'))
    assert resp.status_int == 200
    assert app.closed == 0
    drain(resp)
    assert app.closed == 1


def test_drain_closes_even_when_reading_fails():
    class Broken(object):
        closed = False

        def __iter__(self):
            raise IOError('connection lost')

        def close(self):
            self.closed = True
    resp = Response()
    resp.app_iter = Broken()
    with pytest.raises(IOError):
        drain(resp)
    assert resp.app_iter.closed


def test_drain_accepts_a_body_without_close():
    resp = Response(body=b'plain list')
    drain(resp)
    assert resp.status_int == 200


@pytest.mark.parametrize('status', [200, 201, 204, 206])
def test_check_lets_a_success_through(status):
    assert check(Response(status=status)) is None


def test_check_turns_not_found_into_the_given_status():
    with pytest.raises(VersioningError) as err:
        check(Response(status=404, body=b'nope'))
    assert err.value.response.status_int == 412
    with pytest.raises(VersioningError) as err:
        check(Response(status=404), not_found_status=404)
    assert err.value.response.status_int == 404


def test_check_passes_other_client_errors_with_body_and_type():
    answer = Response(status=413, body=b'{"too": "big"}',
                      content_type='application/json')
    with pytest.raises(VersioningError) as err:
        check(answer)
    resp = err.value.response
    assert resp.status_int == 413
    assert resp.body == b'{"too": "big"}'
    assert resp.get_header('Content-Type').startswith('application/json')


@pytest.mark.parametrize('status', [500, 503, 507])
def test_check_turns_a_server_error_into_503(status):
    with pytest.raises(VersioningError) as err:
        check(Response(status=status, body=b'node trouble'))
    assert err.value.response.status_int == 503
    assert b'node trouble' not in err.value.response.body


def test_versioning_error_encodes_text_and_adds_headers():
    err = VersioningError(409, 'caf\u00e9', headers={'X-Extra': 'yes'})
    resp = err.response
    assert resp.status_int == 409
    assert resp.body == 'caf\u00e9'.encode('utf-8')
    assert resp.get_header('Content-Type') == 'text/plain; charset=UTF-8'
    assert resp.get_header('X-Extra') == 'yes'
    assert err.args == (409,)


# --- readers ------------------------------------------------------------------------

def test_iter_reader_reads_exact_sizes_across_chunks():
    reader = IterReader([b'ab', b'cde', b'', b'fghij'])
    assert reader.read(4) == b'abcd'
    assert reader.read(1) == b'e'
    assert reader.read(100) == b'fghij'
    assert reader.read(1) == b''


def test_iter_reader_reads_the_rest_with_no_size():
    reader = IterReader(iter([b'ab', b'cd', b'ef']))
    assert reader.read(3) == b'abc'
    assert reader.read() == b'def'
    assert reader.read() == b''


def test_iter_reader_close_closes_the_body_it_reads():
    app = Recorder()
    body = app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/',
                'wsgi.input': io.BytesIO()}, lambda *a: None)
    reader = IterReader(body)
    assert reader.read() == b'answer'
    reader.close()
    assert app.closed == 1
    IterReader([b'no close']).close()


def test_iter_reader_streams_a_copy_into_a_put():
    source = Recorder(body=b'x' * 10)
    got = call(source, make_env(client_env(), 'GET', '/v1/a/c/o'))
    sink = Recorder(status=201)
    call(sink, make_env(client_env(), 'PUT', '/v1/a/c/copy',
                        body=IterReader(got.app_iter)))
    assert sink.seen == [('PUT', '/v1/a/c/copy', b'x' * 10)]


def test_counting_reader_counts_reads_and_lines():
    reader = CountingReader(io.BytesIO(b'line one\nline two\nrest'))
    assert reader.readline() == b'line one\n'
    assert reader.read(4) == b'line'
    assert reader.readline(3) == b' tw'
    assert reader.read() == b'o\nrest'
    assert reader.read() == b''
    assert reader.bytes_read == 22
