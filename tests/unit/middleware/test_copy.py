"""copy filter against the in-memory Swift of test_dlo.py (FakeSwift): it
turns COPY and PUT+X-Copy-From into a GET and a PUT of the app."""
import hashlib

import pytest
from webob import Request, Response

from middleware import copy
from middleware.copy import ServerSideCopy, SourceReader
from tests.unit.middleware.test_dlo import LAST_MODIFIED, FakeSwift, call


@pytest.fixture
def swift():
    fake = FakeSwift()
    fake.put('/v1/a/c/src', b'0123456789', content_type='image/png',
             x_object_meta_keep='k', x_object_meta_gone='g',
             content_encoding='gzip',
             x_object_sysmeta_av_verdict='clean',
             x_object_sysmeta_other='s')
    return fake


@pytest.fixture
def app(swift):
    return ServerSideCopy(swift, {})


def test_put_with_x_copy_from_is_a_get_and_a_put(app, swift):
    resp = call(app, '/v1/a/c/dst', 'PUT', {'X-Copy-From': '/c/src',
                                            'X-Object-Meta-New': 'n'}, b'')
    assert resp.status_int == 201
    assert [c[:3] for c in swift.calls] == [
        ('GET', '/v1/a/c/src', ''), ('PUT', '/v1/a/c/dst', '')]
    assert all(c[3]['swift.source'] == 'SSC' for c in swift.calls)
    stored, body = swift.objects['/v1/a/c/dst']
    assert body == b'0123456789'
    assert stored['content-type'] == 'image/png'
    assert stored['x-object-meta-keep'] == 'k'
    assert stored['x-object-meta-new'] == 'n'
    put_env = swift.calls[1][3]
    # verified against the source's ETag; no copy headers left on the PUT
    assert put_env['HTTP_ETAG'] == hashlib.md5(b'0123456789').hexdigest()
    assert 'HTTP_X_COPY_FROM' not in put_env
    assert put_env['HTTP_CONTENT_ENCODING'] == 'gzip'
    assert resp.headers['X-Copied-From'] == 'c/src'
    assert resp.headers['X-Copied-From-Account'] == 'a'
    assert resp.headers['X-Copied-From-Last-Modified'] == LAST_MODIFIED
    assert resp.headers['X-Object-Meta-New'] == 'n'


def test_copy_method_becomes_the_put_at_the_destination(app, swift):
    resp = call(app, '/v1/a/c/src', 'COPY', {
        'Destination': 'c2/d%C3%A9st', 'Destination-Account': 'b',
        'Content-Type': 'text/x-new'})
    assert resp.status_int == 201
    stored, body = swift.objects['/v1/b/c2/d\xc3\xa9st']
    assert body == b'0123456789' and stored['content-type'] == 'text/x-new'
    assert resp.headers['X-Copied-From'] == 'c/src'
    assert resp.headers['X-Copied-From-Account'] == 'a'
    assert swift.calls[1][3]['REQUEST_METHOD'] == 'PUT'


def test_source_system_metadata_is_carried_even_with_fresh_metadata(
        app, swift):
    """The verdict sysmeta of the source reaches the destination PUT
    (clamav, right of copy, decides what to do with it)."""
    resp = call(app, '/v1/a/c/dst', 'PUT', {'X-Copy-From': 'c/src',
                                            'X-Fresh-Metadata': 'true',
                                            'X-Object-Meta-New': 'n'}, b'')
    assert resp.status_int == 201
    stored, _body = swift.objects['/v1/a/c/dst']
    assert stored['x-object-sysmeta-av-verdict'] == 'clean'
    assert stored['x-object-sysmeta-other'] == 's'
    assert stored['x-object-meta-new'] == 'n'
    assert 'x-object-meta-keep' not in stored
    assert 'HTTP_CONTENT_ENCODING' not in swift.calls[1][3]


def test_request_metadata_overrides_and_removes_source_metadata(app, swift):
    call(app, '/v1/a/c/dst', 'PUT', {
        'X-Copy-From': 'c/src', 'X-Object-Meta-Keep': 'mine',
        'X-Remove-Object-Meta-Gone': 'x'}, b'')
    stored, _body = swift.objects['/v1/a/c/dst']
    assert stored['x-object-meta-keep'] == 'mine'
    assert 'x-object-meta-gone' not in stored
    assert 'x-remove-object-meta-gone' not in stored
    call(app, '/v1/a/c/dst2', 'PUT', {
        'X-Copy-From': 'c/src', 'X-Object-Meta-Keep': ''}, b'')
    assert 'x-object-meta-keep' not in swift.objects['/v1/a/c/dst2'][0]


def test_range_applies_to_the_source_and_the_copy_gets_its_own_etag(
        app, swift):
    resp = call(app, '/v1/a/c/dst', 'PUT', {'X-Copy-From': 'c/src',
                                            'Range': 'bytes=2-4'}, b'')
    assert resp.status_int == 201
    assert swift.objects['/v1/a/c/dst'][1] == b'234'
    assert 'HTTP_ETAG' not in swift.calls[1][3]
    assert swift.calls[0][3]['HTTP_RANGE'] == 'bytes=2-4'


def test_the_source_verdict_is_handed_over_only_for_its_whole_content(
        app, swift):
    """clamav may keep a source's verdict only for the very bytes it
    judged: the whole object, not a range or a DLO's manifest; the
    verdict travels in the environ, where no client can put it."""
    assert call(app, '/v1/a/c/whole', 'PUT', {'X-Copy-From': 'c/src'},
                b'').status_int == 201
    whole = swift.calls[-1][3]
    assert whole[copy.COPIED_VERDICT_ENV] == {
        'x-object-sysmeta-av-verdict': 'clean'}
    assert call(app, '/v1/a/c/part', 'PUT', {'X-Copy-From': 'c/src',
                                             'Range': 'bytes=2-4'},
                b'').status_int == 201
    assert copy.COPIED_VERDICT_ENV not in swift.calls[-1][3]
    swift.put('/v1/a/c/man', b'', x_object_manifest='segs/p_',
              x_object_sysmeta_av_verdict='clean')
    assert call(app, '/v1/a/c/joined', 'PUT', {'X-Copy-From': 'c/man'},
                b'').status_int == 201
    assert copy.COPIED_VERDICT_ENV not in swift.calls[-1][3]


@pytest.mark.parametrize('headers,status', [
    ({'If-Match': '"nope"'}, 412),
    ({'If-None-Match': hashlib.md5(b'0123456789').hexdigest()}, 304),
])
def test_conditional_headers_apply_to_the_source(app, swift, headers,
                                                  status):
    headers = dict(headers, **{'X-Copy-From': 'c/src'})
    assert call(app, '/v1/a/c/dst', 'PUT', headers, b'').status_int == status
    assert '/v1/a/c/dst' not in swift.objects
    assert not swift.methods('PUT')


@pytest.mark.parametrize('method,headers,status,body', [
    ('COPY', {}, 412, b'Destination header required'),
    ('COPY', {'Destination': 'nocontainer'}, 412,
     b'Destination header must be of the form <container name>/<object '
     b'name>'),
    ('COPY', {'Destination': 'c/o', 'Destination-Account': 'x/y'}, 412,
     b'Bad Destination-Account header'),
    ('PUT', {'X-Copy-From': 'c'}, 412,
     b'X-Copy-From header must be of the form <container name>/<object '
     b'name>'),
    ('PUT', {'X-Copy-From': 'c/%FF'}, 412, b'Invalid UTF8 or contains NULL'),
    ('PUT', {'X-Copy-From': 'c/o%00'}, 412,
     b'Invalid UTF8 or contains NULL'),
])
def test_malformed_locations_are_412(app, swift, method, headers, status,
                                     body):
    resp = call(app, '/v1/a/c/src', method, headers,
                b'' if method == 'PUT' else None)
    assert (resp.status_int, resp.body) == (status, body)
    assert not swift.calls


def test_a_copy_with_a_body_is_400(app, swift):
    resp = call(app, '/v1/a/c/dst', 'PUT', {'X-Copy-From': 'c/src'}, b'x')
    assert (resp.status_int, resp.body) == (
        400, b'Copy requests require a zero byte body')
    assert not swift.calls


def test_a_missing_source_is_its_404_and_nothing_is_written(app, swift):
    resp = call(app, '/v1/a/c/dst', 'PUT', {'X-Copy-From': 'c/none'}, b'')
    assert resp.status_int == 404
    assert not swift.methods('PUT')


def test_source_read_is_authorised_as_the_client(swift):
    """swift.authorize of the client judges the source GET and the PUT."""
    seen = []

    def authorize(req):
        seen.append((req.method, req.path_info))
        if req.path_info.startswith('/v1/secret/'):
            return Response(status=403)
        return None
    swift.put('/v1/secret/c/o', b'hidden')
    app = ServerSideCopy(swift, {})
    resp = call(app, '/v1/a/c/dst', 'PUT', {
        'X-Copy-From': 'c/o', 'X-Copy-From-Account': 'secret'}, b'',
        env={'swift.authorize': authorize})
    assert resp.status_int == 403
    assert seen == [('GET', '/v1/secret/c/o')]
    assert '/v1/a/c/dst' not in swift.objects


def test_a_source_without_length_is_413(swift):
    def chunked(env, start_response):
        if env['REQUEST_METHOD'] == 'GET':
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [b'abc']
        return swift(env, start_response)
    resp = call(ServerSideCopy(chunked, {}), '/v1/a/c/dst', 'PUT',
                {'X-Copy-From': 'c/src'}, b'')
    assert resp.status_int == 413
    assert not swift.methods('PUT')


def test_failed_put_gets_no_copied_from_headers(app, swift):
    def failing(env, start_response):
        if env['REQUEST_METHOD'] == 'PUT':
            start_response('503 Service Unavailable', [
                ('Content-Length', '0')])
            return []
        return swift(env, start_response)
    resp = call(ServerSideCopy(failing, {}), '/v1/a/c/dst', 'PUT',
                {'X-Copy-From': 'c/src'}, b'')
    assert resp.status_int == 503
    assert 'X-Copied-From' not in resp.headers


def test_manifest_get_copies_a_dlo_manifest_itself(app, swift):
    swift.put('/v1/a/c/man', b'', x_object_manifest='segs/p_')
    resp = call(app, '/v1/a/c/man2', 'PUT', {'X-Copy-From': 'c/man'}, b'',
                query='multipart-manifest=get')
    assert resp.status_int == 201
    get, put = swift.calls
    assert get[2] == 'multipart-manifest=get&format=raw'
    assert put[2] == ''        # a plain PUT carrying the manifest header
    assert swift.objects['/v1/a/c/man2'][0]['x-object-manifest'] == 'segs/p_'


def test_manifest_get_of_an_slo_uploads_the_manifest_again(swift):
    def slo_like(env, start_response):
        if env['REQUEST_METHOD'] == 'GET':
            body = b'[{"path": "/s/one"}]'
            start_response('200 OK', [
                ('Content-Type', 'application/json'),
                ('X-Static-Large-Object', 'True'),
                ('X-Object-Sysmeta-Slo-Etag', 'e'),
                ('Content-Length', str(len(body)))])
            return [body]
        return swift(env, start_response)
    resp = call(ServerSideCopy(slo_like, {}), '/v1/a/c/m2', 'PUT',
                {'X-Copy-From': 'c/m'}, b'',
                query='multipart-manifest=get&version-id=1')
    assert resp.status_int == 201
    put = swift.methods('PUT')[0]
    assert put[2] == 'multipart-manifest=put'
    assert 'HTTP_ETAG' not in put[3]
    assert 'HTTP_X_STATIC_LARGE_OBJECT' not in put[3]
    assert 'HTTP_X_OBJECT_SYSMETA_SLO_ETAG' not in put[3]


def test_the_source_body_is_streamed_not_buffered(swift):
    """The PUT reads the source chunk by chunk as it goes."""
    big = b'x' * 100000
    swift.put('/v1/a/c/big', big)
    reads = []

    def reader(env, start_response):
        if env['REQUEST_METHOD'] == 'PUT':
            source = env['wsgi.input']
            while True:
                chunk = source.read(1000)
                if not chunk:
                    break
                reads.append(len(source._buf))
            start_response('201 Created', [('Content-Length', '0')])
            return []
        return swift(env, start_response)
    call(ServerSideCopy(reader, {}), '/v1/a/c/dst', 'PUT',
         {'X-Copy-From': 'c/big'}, b'')
    assert len(reads) == 100 and max(reads) < 1000 + swift.chunk


def test_source_is_closed_when_the_answer_is(swift):
    closed = []

    class Body(object):
        def __iter__(self):
            return iter([b'abc'])

        def close(self):
            closed.append(True)

    def app(env, start_response):
        if env['REQUEST_METHOD'] == 'GET':
            start_response('200 OK', [('Content-Length', '3')])
            return Body()
        return swift(env, start_response)
    resp = call(ServerSideCopy(app, {}), '/v1/a/c/dst', 'PUT',
                {'X-Copy-From': 'c/src'}, b'')
    assert resp.status_int == 201 and closed == [True]


def test_other_requests_pass_through(app, swift):
    assert call(app, '/v1/a/c/src').body == b'0123456789'
    call(app, '/v1/a/c', 'PUT', {'X-Copy-From': 'c/src'}, b'')
    assert swift.calls[-1][:2] == ('PUT', '/v1/a/c')


def test_options_allows_copy(swift):
    def options(env, start_response):
        start_response('200 OK', [('Allow', 'GET, HEAD, PUT'),
                                  ('Content-Length', '0')])
        return []
    resp = call(ServerSideCopy(options, {}), '/v1/a/c/o', 'OPTIONS')
    assert resp.headers['Allow'] == 'GET, HEAD, PUT, COPY'


def test_source_reader_reads_across_chunks():
    reader = SourceReader([b'ab\ncd', b'ef', b'g\nh'])
    assert reader.read(2) == b'ab'
    assert reader.readline() == b'\n'
    assert reader.read(4) == b'cdef'
    assert reader.readline() == b'g\n'
    assert reader.read() == b'h'
    assert reader.read(5) == b''


def test_unknown_option_is_refused():
    with pytest.raises(Exception) as err:
        copy.filter_factory({}, bogus='1')
    assert 'bogus' in str(err.value)


def test_request_blank_copy_keeps_the_original_environ_untouched(app):
    req = Request.blank('/v1/a/c/src', method='COPY',
                        headers={'Destination': 'c/dst'})
    req.get_response(app)
    assert req.environ['REQUEST_METHOD'] == 'COPY'
    assert req.environ['PATH_INFO'] == '/v1/a/c/src'
