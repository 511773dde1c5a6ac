"""bulk_delete: reading the list of names and running the deletes.

delete_iter and Deleter are driven directly with the bulk filter's own
settings object and test_bulk's FakeSwift as the rest of the pipeline.
"""
import io
import json

import pytest
from webob import Request

from middleware import bulk, bulk_delete
from middleware.bulk_answers import BulkError
from objproxy.common.constraints import LIMITS
from tests.unit.middleware.test_bulk import FakeSwift
from tests.unit.middleware.test_dlo import ListLogger


def settings(app, **conf):
    filt = bulk.filter_factory({}, **conf)(app)
    filt.retry_interval = 0     # retries of a busy container are not timed
    filt.logger = ListLogger()
    return filt


def request(body, path='/v1/AUTH_a', **headers):
    req = Request.blank(path, method='POST', body=body, headers=headers)
    req.environ['swift.trans_id'] = 'tx-bd'
    return req


def run(filt, body, out_format='application/json', path='/v1/AUTH_a',
        **headers):
    req = request(body, path, **headers)
    chunks = list(bulk_delete.delete_iter(filt, req, out_format))
    return chunks, (json.loads(chunks[-1]) if out_format ==
                    'application/json' else chunks[-1])


def read_env(body, **extra):
    env = {'wsgi.input': io.BytesIO(body),
           'CONTENT_LENGTH': str(len(body))}
    env.update(extra)
    return env


# ------------------------------------------------------------ read_names

def test_max_path_length_fits_a_container_and_an_object_name():
    assert bulk_delete.max_path_length() == (
        LIMITS['max_object_name_length'] +
        LIMITS['max_container_name_length'] + 2)


def test_read_names_unquotes_each_line_and_skips_blank_ones():
    body = b'/c/o%20one\r\n\n  c2/caf%C3%A9  \n/c3'
    assert bulk_delete.read_names(read_env(body), 10) == [
        b'/c/o one', b'c2/caf\xc3\xa9', b'/c3']


def test_read_names_joins_lines_split_across_reads():
    names = [('/c/%s' % ('n%04d' % i) * 40).encode() for i in range(60)]
    body = b'\n'.join(names) + b'\n'
    assert len(body) > 3 * bulk_delete.max_path_length()
    assert bulk_delete.read_names(read_env(body), 100) == names


def test_read_names_of_a_chunked_body():
    env = read_env(b'/c/a\n/c/b', HTTP_TRANSFER_ENCODING='chunked')
    del env['CONTENT_LENGTH']
    assert bulk_delete.read_names(env, 10) == [b'/c/a', b'/c/b']


def test_too_many_names_is_413():
    body = b''.join(b'/c/o%d\n' % i for i in range(4))
    with pytest.raises(BulkError) as err:
        bulk_delete.read_names(read_env(body), 3)
    assert (err.value.status, err.value.body) == (
        413, 'Maximum Bulk Deletes: 3 per request')
    assert bulk_delete.read_names(read_env(body), 4)


def test_an_endless_line_is_400_invalid_file_name():
    body = b'/c/' + b'x' * (3 * bulk_delete.max_path_length())
    with pytest.raises(BulkError) as err:
        bulk_delete.read_names(read_env(body), 10)
    assert (err.value.status, err.value.body) == (400, 'Invalid File Name')


def test_a_body_without_length_is_411():
    env = read_env(b'/c/o')
    del env['CONTENT_LENGTH']
    with pytest.raises(BulkError) as err:
        bulk_delete.read_names(env, 10)
    assert err.value.status == 411


@pytest.mark.parametrize('name, ok', [
    (b'caf\xc3\xa9', True), (b'plain', True), (b'\xff\xfe', False),
    (b'a\x00b', False)])
def test_valid_utf8(name, ok):
    assert bulk_delete.valid_utf8(name) is ok


# ------------------------------------------------------------ delete_iter

def test_objects_go_before_containers_and_are_counted():
    fake = FakeSwift(containers={'c', 'd'},
                     objects={('c', 'o1'): b'', ('c', 'o2'): b''})
    _, result = run(settings(fake), b'/c\n/c/o1\n/d/gone\n/c/o2\n')
    assert [r.path_info for r in fake.calls] == [
        '/v1/AUTH_a/c/o1', '/v1/AUTH_a/d/gone', '/v1/AUTH_a/c/o2',
        '/v1/AUTH_a/c']
    assert result['Response Status'] == '200 OK'
    assert result['Number Deleted'] == 3
    assert result['Number Not Found'] == 1
    assert result['Errors'] == []
    assert fake.containers == {'d'}


def test_each_delete_is_made_as_the_client():
    fake = FakeSwift(objects={('c', 'o'): b''})
    run(settings(fake), b'/c/o', **{'X-Auth-Token': 'AUTH_tk',
                                    'User-Agent': 'curl'})
    sub = fake.calls[0]
    assert sub.method == 'DELETE'
    assert sub.headers['X-Auth-Token'] == 'AUTH_tk'
    assert sub.headers['User-Agent'] == 'curl BulkDelete'
    assert sub.environ['swift.source'] == 'BD'
    assert sub.environ['swift.trans_id'] == 'tx-bd'


def test_busy_container_is_retried_then_reported_409():
    fake = FakeSwift(containers={'c'}, objects={('c', 'keep'): b''})
    _, result = run(settings(fake, delete_container_retry_count='2'), b'/c')
    assert [r.method for r in fake.calls] == ['DELETE'] * 3
    assert result['Response Status'] == '400 Bad Request'
    assert result['Errors'] == [['/c', '409 Conflict']]


def test_server_errors_make_the_answer_502():
    fake = FakeSwift(objects={('c', 'a'): b''})
    fake.status['/v1/AUTH_a/c/b'] = 503
    _, result = run(settings(fake), b'/c/a\n/c/b\n')
    assert result['Response Status'] == '502 Bad Gateway'
    assert result['Number Deleted'] == 1
    assert result['Errors'] == [['/c/b', '503 Service Unavailable']]


def test_name_that_is_not_utf8_is_412_and_never_sent():
    fake = FakeSwift(objects={('c', 'o'): b''})
    _, result = run(settings(fake), b'/c/%FF\n/c/o\n')
    assert result['Errors'] == [['/c/%FF', '412 Precondition Failed']]
    assert [r.path_info for r in fake.calls] == ['/v1/AUTH_a/c/o']


def test_max_failed_deletes_abandons_the_rest():
    fake = FakeSwift()
    for name in 'abcdef':
        fake.status['/v1/AUTH_a/c/%s' % name] = 403
    filt = settings(fake, max_failed_deletes='2', delete_concurrency='1')
    body = b''.join(b'/c/%s\n' % n.encode() for n in 'abcdef')
    _, result = run(filt, body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'Max delete failures exceeded'
    assert len(result['Errors']) == 2
    assert len(fake.calls) == 2


def test_an_empty_list_is_an_invalid_bulk_delete():
    fake = FakeSwift()
    _, result = run(settings(fake), b'\n\n')
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'Invalid bulk delete.'
    assert fake.calls == []


@pytest.mark.parametrize('out_format, path, headers, status', [
    (None, '/v1/AUTH_a', {}, '406 Not Acceptable'),
    ('text/plain', '/v1', {}, '404 Not Found'),
    ('text/plain', '/v1/AUTH_a',
     {'Content-Type': 'application/json'}, '406 Not Acceptable'),
])
def test_refusals_before_any_delete(out_format, path, headers, status):
    fake = FakeSwift(objects={('c', 'o'): b''})
    chunks = list(bulk_delete.delete_iter(
        settings(fake), request(b'/c/o', path, **headers), out_format))
    assert ('Response Status: %s' % status).encode() in chunks[-1]
    assert fake.calls == []


def test_a_failing_pipeline_is_logged_and_answered_500():
    def broken(env, start_response):
        raise RuntimeError('proxy exploded')
    filt = settings(broken)
    _, result = run(filt, b'/c/o')
    assert result['Response Status'] == '500 Internal Error'
    assert filt.logger.lines == ['Error in bulk delete.']


def test_heartbeats_are_sent_while_deletes_settle():
    fake = FakeSwift(objects=dict((('c', str(i)), b'') for i in range(3)))
    filt = settings(fake, yield_frequency='1')
    ticks = iter(range(0, 100, 2))
    filt.clock = lambda: next(ticks)
    chunks, _ = run(filt, b'/c/0\n/c/1\n/c/2\n')
    assert chunks[:3] == [b' ', b' ', b' ']
    assert chunks[-1].startswith(b'\r\n\r\n{')

