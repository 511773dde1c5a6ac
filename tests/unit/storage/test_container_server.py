"""ContainerServer through webob Request.blank on a temporary devices dir."""
import json
import time
import os
from urllib.parse import quote

import pytest
from webob import Request

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.storage.container_server import ContainerServer


@pytest.fixture
def server(tmp_path):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    app = ContainerServer({'devices': str(tmp_path), 'fsync': 'false',
                           'log_address': '/nonexistent'})
    yield app
    app.reporter.stop()


def call(app, path, method='GET', headers=None, **environ):
    environ['REQUEST_METHOD'] = method
    return Request.blank(path, environ=environ,
                         headers=headers or {}).get_response(app)


def put_container(app, ts='1', path='/sda/1/a/c', **headers):
    headers['X-Timestamp'] = ts
    return call(app, path, 'PUT', headers)


def put_row(app, name, ts, size=3, ctype='text/plain', etag='e'):
    return call(app, '/sda/1/a/c/' + quote(name), 'PUT', {
        'X-Timestamp': ts, 'X-Size': str(size), 'X-Content-Type': ctype,
        'X-Etag': etag, 'X-Backend-Layer': 'container'})


def test_put_creates_db_at_swift_path(server, tmp_path):
    resp = put_container(server)
    assert resp.status_int == 201
    h = hash_path('a', 'c')
    assert os.path.exists(tmp_path / 'sda' / 'containers' / '1' / h[-3:] /
                          h / (h + '.db'))
    assert put_container(server, '2').status_int == 202


def test_put_requires_timestamp(server):
    assert call(server, '/sda/1/a/c', 'PUT').status_int == 400
    resp = call(server, '/sda/1/a/c', 'PUT', {'X-Timestamp': 'soon'})
    assert resp.status_int == 400 and b'X-Timestamp' in resp.body


def test_head_headers_and_metadata(server):
    put_container(server, '1', **{'X-Container-Meta-Color': 'blue',
                                  'X-Container-Read': '.r:*',
                                  'X-Container-Sysmeta-Thing': 'x',
                                  'X-Other': 'ignored'})
    put_row(server, 'o1', '2', size=5)
    put_row(server, 'o2', '2', size=7)
    resp = call(server, '/sda/1/a/c', 'HEAD')
    assert resp.status_int == 204
    h = resp.headers
    assert h['X-Container-Object-Count'] == '2'
    assert h['X-Container-Bytes-Used'] == '12'
    assert h['X-Container-Meta-Color'] == 'blue'
    assert h['X-Container-Read'] == '.r:*'
    assert h['X-Container-Sysmeta-Thing'] == 'x'
    assert 'X-Other' not in h
    assert h['X-Backend-Put-Timestamp'] == '0000000001.00000'
    assert h['X-Put-Timestamp'] == '0000000001.00000'
    assert 'X-Timestamp' in h and 'X-Backend-Status-Changed-At' in h
    assert h['Content-Type'].startswith('text/plain')
    # POST: newer metadata wins, older is ignored, '' removes
    assert call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '3', 'X-Container-Meta-Color': 'red',
        'X-Container-Meta-New': 'n'}).status_int == 204
    call(server, '/sda/1/a/c', 'POST', {'X-Timestamp': '2.5',
                                        'X-Container-Meta-Color': 'old'})
    call(server, '/sda/1/a/c', 'POST', {'X-Timestamp': '4',
                                        'X-Container-Meta-New': ''})
    h = call(server, '/sda/1/a/c', 'HEAD').headers
    assert h['X-Container-Meta-Color'] == 'red'
    assert 'X-Container-Meta-New' not in h


def test_metadata_limits(server):
    resp = put_container(server, '1', **{'X-Container-Meta-Big': 'x' * 300})
    assert resp.status_int == 400
    put_container(server, '1')
    resp = call(server, '/sda/1/a/c', 'POST',
                {'X-Timestamp': '2', 'X-Container-Meta-' + 'k' * 200: 'v'})
    assert resp.status_int == 400


def test_missing_container(server):
    assert call(server, '/sda/1/a/c', 'HEAD').status_int == 404
    assert call(server, '/sda/1/a/c').status_int == 404
    assert put_row(server, 'o', '1').status_int == 404
    assert call(server, '/sda/1/a/c', 'POST',
                {'X-Timestamp': '1'}).status_int == 404
    assert call(server, '/sda/1/a/c', 'DELETE',
                {'X-Timestamp': '1'}).status_int == 404


def test_object_rows_and_delete_conflict(server):
    put_container(server, '1')
    assert put_row(server, 'o', '2').status_int == 201
    resp = call(server, '/sda/1/a/c', 'DELETE', {'X-Timestamp': '3'})
    assert resp.status_int == 409
    assert call(server, '/sda/1/a/c/o', 'DELETE',
                {'X-Timestamp': '4'}).status_int == 204
    assert call(server, '/sda/1/a/c', 'HEAD').headers[
        'X-Container-Object-Count'] == '0'
    assert call(server, '/sda/1/a/c', 'DELETE',
                {'X-Timestamp': '5'}).status_int == 204
    resp = call(server, '/sda/1/a/c', 'HEAD')
    assert resp.status_int == 404
    assert resp.headers['X-Backend-Delete-Timestamp'] == '0000000005.00000'
    assert call(server, '/sda/1/a/c', 'DELETE',
                {'X-Timestamp': '6'}).status_int == 404


def test_bad_object_row_headers(server):
    put_container(server, '1')
    resp = call(server, '/sda/1/a/c/o', 'PUT', {'X-Timestamp': '2',
                                                'X-Size': 'lots'})
    assert resp.status_int == 400
    resp = call(server, '/sda/1/a/c/o', 'PUT', {'X-Timestamp': '2'})
    assert resp.status_int == 400


def test_delete_then_revive(server):
    put_container(server, '1', **{'X-Container-Meta-A': 'x'})
    call(server, '/sda/1/a/c', 'DELETE', {'X-Timestamp': '2'})
    # an older PUT does not revive: 409
    assert put_container(server, '1.5').status_int == 409
    resp = put_container(server, '3')
    assert resp.status_int == 201
    h = call(server, '/sda/1/a/c', 'HEAD').headers
    assert h['X-Backend-Status-Changed-At'] == '0000000003.00000'
    assert 'X-Container-Meta-A' not in h  # cleared by the delete


def test_delete_older_than_put_is_409(server):
    put_container(server, '5')
    assert call(server, '/sda/1/a/c', 'DELETE',
                {'X-Timestamp': '4'}).status_int == 409
    assert call(server, '/sda/1/a/c', 'HEAD').status_int == 204


def test_listing_formats_over_http(server):
    put_container(server, '1')
    for name in ('a', 'b/1', 'b/2', 'c', '\u2603'):
        put_row(server, name, '1234567890.5', size=4, etag='abc')
    resp = call(server, '/sda/1/a/c')
    assert resp.status_int == 200
    assert resp.content_type == 'text/plain'
    assert resp.body.decode('utf-8').split('\n') == [
        'a', 'b/1', 'b/2', 'c', '\u2603', '']
    resp = call(server, '/sda/1/a/c?format=json&limit=2&marker=a')
    data = json.loads(resp.body)
    assert [d['name'] for d in data] == ['b/1', 'b/2']
    assert data[0] == {'name': 'b/1', 'hash': 'abc', 'bytes': 4,
                       'content_type': 'text/plain',
                       'last_modified': '2009-02-13T23:31:30.500000'}
    resp = call(server, '/sda/1/a/c?delimiter=/',
                headers={'Accept': 'application/json'})
    assert resp.content_type == 'application/json'
    assert json.loads(resp.body)[1] == {'subdir': 'b/'}
    resp = call(server, '/sda/1/a/c?format=xml&prefix=b/')
    assert resp.content_type == 'application/xml'
    assert resp.body.count(b'<object>') == 2
    resp = call(server, '/sda/1/a/c?path=b&format=json')
    assert [d['name'] for d in json.loads(resp.body)] == ['b/1', 'b/2']
    resp = call(server, '/sda/1/a/c?reverse=true&end_marker=b/2')
    assert resp.body == '\u2603\nc\n'.encode('utf-8')
    # empty plain listing is a 204, empty json is []
    assert call(server, '/sda/1/a/c?prefix=zzz').status_int == 204
    resp = call(server, '/sda/1/a/c?prefix=zzz&format=json')
    assert resp.status_int == 200 and resp.body == b'[]'


def test_listing_bad_params(server):
    put_container(server, '1')
    assert call(server, '/sda/1/a/c?limit=10001').status_int == 412
    assert call(server, '/sda/1/a/c?limit=10000').status_int == 204
    assert call(server, '/sda/1/a/c?prefix=%ff').status_int == 400
    assert call(server, '/sda/1/a/c',
                headers={'Accept': 'image/png'}).status_int == 406


@pytest.mark.parametrize('path,status', [
    ('/sda/1/a/..', 400),
    ('/sda/1/../c', 400),
    ('/../1/a/c', 400),
    ('/sda/-1/a/c', 400),
    ('/sda/abc/a/c', 400),
    ('/sda/99999999999/a/c', 400),
    ('/sda/1/a/c%ff', 400),
    ('/sda/1/' + 'a' * 257 + '/c', 400),
    ('/sda/1/a/' + 'c' * 257, 400),
    ('/sda/1/a', 400),
    ('/nodev/1/a/c', 507),
    ('/sda/1/a/c/' + 'o' * 1025, 400),
])
def test_bad_paths_never_500(server, path, status):
    for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE'):
        resp = call(server, path, method, {'X-Timestamp': '1'})
        assert resp.status_int == status, (method, path, resp.body)


def test_method_not_allowed(server):
    resp = call(server, '/sda/1/a/c', 'PATCH')
    assert resp.status_int == 405 and 'PUT' in resp.headers['Allow']


def test_bad_account_targets(server):
    resp = put_container(server, '1', **{'X-Account-Host': '1.2.3.4:5',
                                         'X-Account-Partition': 'x',
                                         'X-Account-Device': 'sdb'})
    assert resp.status_int == 400


def test_trans_id_echoed(server):
    resp = call(server, '/sda/1/a/c', 'HEAD', {'X-Trans-Id': 'tx123'})
    assert resp.headers['X-Trans-Id'] == 'tx123'


def test_mount_check(tmp_path):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    app = ContainerServer({'devices': str(tmp_path), 'mount_check': 'true',
                           'log_address': '/nonexistent'})
    assert call(app, '/sda/1/a/c', 'HEAD').status_int == 507


# -- object rows through the pending file ------------------------------------
def container_db(server):
    return server.get_broker('sda', '1', 'a', 'c')


def test_object_rows_are_queued_and_read_back_current(server):
    put_container(server, '1')
    for i in range(5):
        assert put_row(server, 'o%d' % i, str(2 + i), size=10).status_int \
            == 201
    assert call(server, '/sda/1/a/c/o4', 'DELETE',
                {'X-Timestamp': '9', 'X-Backend-Layer': 'container'}
                ).status_int == 204
    broker = container_db(server)
    assert broker.pending_size() > 0          # nothing merged yet
    assert broker.get_info(fresh=False)['object_count'] == 0
    resp = call(server, '/sda/1/a/c', 'HEAD')
    assert resp.headers['X-Container-Object-Count'] == '4'
    assert resp.headers['X-Container-Bytes-Used'] == '40'
    assert broker.pending_size() == 0
    put_row(server, 'p', '10')
    resp = call(server, '/sda/1/a/c', QUERY_STRING='format=json')
    assert [o['name'] for o in json.loads(resp.body)] == \
        ['o0', 'o1', 'o2', 'o3', 'p']


def test_delete_sees_pending_rows(server):
    put_container(server, '1')
    put_row(server, 'o', '2')
    assert call(server, '/sda/1/a/c', 'DELETE',
                {'X-Timestamp': '3'}).status_int == 409


def test_timer_merges_pending_rows(server):
    put_container(server, '1')
    put_row(server, 'o', '2')
    put_row(server, 'p', '3')
    broker = container_db(server)
    assert broker.db_file in server._pending
    assert server.commit_pending() == 2
    assert broker.pending_size() == 0 and not server._pending
    assert broker.get_info(fresh=False)['object_count'] == 2


@pytest.mark.parametrize('threadpool', ['true', 'false'])
def test_pending_options(tmp_path, threadpool):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    app = ContainerServer({'devices': str(tmp_path), 'fsync': 'false',
                           'db_pending_cap': '0',
                           'db_threadpool': threadpool,
                           'log_address': '/nonexistent'})
    try:
        put_container(app, '1')
        put_row(app, 'o', '2')
        broker = container_db(app)
        assert broker.pending_size() == 0          # merged at once
        assert broker.get_info(fresh=False)['object_count'] == 1
        assert (app.offload is None) == (threadpool == 'false')
    finally:
        app.reporter.stop()


def test_slo_rows_list_their_total_size(server):
    put_container(server, '1')
    put_row(server, 'slo', '2', size=120,
            ctype='application/octet-stream;swift_bytes=1048576')
    put_row(server, 'plain', '3', size=5, ctype='text/plain;charset=utf-8')
    resp = call(server, '/sda/1/a/c', QUERY_STRING='format=json')
    rows = dict((o['name'], o) for o in json.loads(resp.body))
    assert rows['slo']['bytes'] == 1048576
    assert rows['slo']['content_type'] == 'application/octet-stream'
    assert rows['plain']['bytes'] == 5
    assert rows['plain']['content_type'] == 'text/plain;charset=utf-8'
    resp = call(server, '/sda/1/a/c', QUERY_STRING='format=xml')
    assert b'<bytes>1048576</bytes>' in resp.body
    assert b'swift_bytes' not in resp.body
    # the container's own usage counts what was stored (as Swift)
    assert call(server, '/sda/1/a/c', 'HEAD').headers[
        'X-Container-Bytes-Used'] == '125'


# -- a busy database fails one request, never the node ----------------------
def _db_file(tmp_path, account, container):
    h = hash_path(account, container)
    return str(tmp_path / 'sda' / 'containers' / '1' / h[-3:] / h /
               (h + '.db'))


@pytest.fixture
def quick_server(tmp_path):
    """A server whose requests wait at most 0.3 s for a database lock."""
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    app = ContainerServer({'devices': str(tmp_path), 'fsync': 'false',
                           'log_address': '/nonexistent',
                           'db_lock_timeout': '0.3'})
    yield app
    app.reporter.stop()


def test_locked_database_answers_busy_for_that_request_only(
        quick_server, tmp_path):
    """While another thread holds c1's write lock, a write to c1 gets 503
    with X-Backend-Busy (the proxy then does not count it against the
    node); meanwhile the hub keeps serving: c2 answers at once, object
    rows for c1 are still queued, and nothing stalls for 0.5 s."""
    import eventlet
    from tests.unit.storage.hub_watch import HubWatch, WriteLockHolder
    assert put_container(quick_server, '1', '/sda/1/a/c1').status_int == 201
    assert put_container(quick_server, '1', '/sda/1/a/c2').status_int == 201
    with WriteLockHolder(_db_file(tmp_path, 'a', 'c1')), \
            HubWatch() as watch:
        post = eventlet.spawn(call, quick_server, '/sda/1/a/c1', 'POST',
                              {'X-Timestamp': '2',
                               'X-Container-Meta-K': 'v'})
        eventlet.sleep(0)
        start = time.monotonic()
        assert call(quick_server, '/sda/1/a/c2', 'HEAD').status_int == 204
        assert call(quick_server, '/sda/1/a/c1/o', 'PUT', {
            'X-Timestamp': '3', 'X-Size': '1', 'X-Content-Type': 't',
            'X-Etag': 'e', 'X-Backend-Layer': 'container'}).status_int == 201
        assert time.monotonic() - start < 0.25
        resp = post.wait()
    assert resp.status_int == 503
    assert resp.headers['X-Backend-Busy'] == 'true'
    assert watch.max_gap < 0.5
    # the lock is gone: the same request now works
    assert call(quick_server, '/sda/1/a/c1', 'POST', {
        'X-Timestamp': '2', 'X-Container-Meta-K': 'v'}).status_int == 204


def test_locked_pending_file_answers_busy(quick_server, tmp_path):
    """An object row whose pending file stays locked (by another worker
    or process) gets 503 + X-Backend-Busy after db_lock_timeout."""
    from tests.unit.storage.hub_watch import FlockHolder, HubWatch
    assert put_container(quick_server, '1', '/sda/1/a/c').status_int == 201
    pending = _db_file(tmp_path, 'a', 'c') + '.pending'
    with FlockHolder(pending), HubWatch() as watch:
        resp = put_row(quick_server, 'o', '2')
    assert resp.status_int == 503
    assert resp.headers['X-Backend-Busy'] == 'true'
    assert watch.max_gap < 0.5
    assert put_row(quick_server, 'o', '2').status_int == 201


def test_other_database_errors_are_not_marked_busy(server, monkeypatch):
    """Only a lock timeout is the request's own problem; an I/O error is
    the node's and stays a plain 503."""
    import sqlite3
    from objproxy.storage.container_broker import ContainerBroker
    assert put_container(server).status_int == 201

    def broken(self, fresh=True):
        raise sqlite3.OperationalError('disk I/O error')
    monkeypatch.setattr(ContainerBroker, 'get_info_and_metadata', broken)
    resp = call(server, '/sda/1/a/c', 'HEAD')
    assert resp.status_int == 503
    assert 'X-Backend-Busy' not in resp.headers


def test_utf8_content_type_of_a_row_lists_as_sent(server):
    put_container(server, '1')
    ctype = 'text/\u2603; charset=\u00e9t\u00e9'
    # a real server hands headers over as WSGI text (one char per byte)
    wsgi_ctype = ctype.encode('utf-8').decode('latin-1')
    assert put_row(server, 'o', '2', ctype=wsgi_ctype).status_int == 201
    data = json.loads(call(server, '/sda/1/a/c?format=json').body)
    assert data[0]['content_type'] == ctype
    body = call(server, '/sda/1/a/c?format=xml').body.decode('utf-8')
    assert '<content_type>%s</content_type>' % ctype in body


def test_post_moves_put_timestamp_unless_told_not_to(server):
    put_container(server, '0000000001.00000')
    assert call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '0000000005.00000',
        'X-Container-Meta-A': '1'}).status_int == 204
    h = call(server, '/sda/1/a/c', 'HEAD').headers
    assert h['X-Put-Timestamp'] == '0000000005.00000'
    assert call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '0000000007.00000',
        'X-Backend-No-Timestamp-Update': 'true',
        'X-Container-Meta-A': '2'}).status_int == 204
    h = call(server, '/sda/1/a/c', 'HEAD').headers
    assert h['X-Put-Timestamp'] == '0000000005.00000'
    assert h['X-Container-Meta-A'] == '2'


def test_stored_metadata_over_overall_size_is_refused(server):
    # 15 values of 256 bytes and 4-byte names: 3900 of the 4096 bytes
    meta = dict(('X-Container-Meta-%04d' % i, 'k' * 256) for i in range(15))
    put_container(server, '1', **meta)
    room = 4096 - 15 * 260
    # one more key that fits exactly (name 'k' + value) is fine
    assert call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '2',
        'X-Container-Meta-K': 'y' * (room - 1)}).status_int == 204
    # one byte more is over the limit once merged: refused, nothing stored
    resp = call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '3', 'X-Container-Meta-K': 'z' * room})
    assert resp.status_int == 400
    assert b'Total metadata too large' in resp.body
    h = call(server, '/sda/1/a/c', 'HEAD').headers
    assert h['X-Container-Meta-K'] == 'y' * (room - 1)
    assert h['X-Put-Timestamp'] == '0000000002.00000'
    # clearing keys makes room again
    assert call(server, '/sda/1/a/c', 'POST', {
        'X-Timestamp': '4', 'X-Container-Meta-0000': '',
        'X-Container-Meta-K': 'z' * room}).status_int == 204
    # a PUT to the existing container is held to the same limit
    resp = put_container(server, '5', **{'X-Container-Meta-More': 'm' * 256})
    assert resp.status_int == 400


def test_listing_multi_char_delimiter_and_nul_marker(server):
    put_container(server, '1')
    for name in ('test', 'test-&bar', 'test-&foo', "test-'baz"):
        put_row(server, name, '2')
    resp = call(server, '/sda/1/a/c?delimiter=-%26')
    assert resp.body == b"test\ntest-&\ntest-'baz\n"
    resp = call(server, '/sda/1/a/c?delimiter=-%26&reverse=on')
    assert resp.body == b"test-'baz\ntest-&\ntest\n"
    resp = call(server, '/sda/1/a/c?marker=test%00&end_marker=test-%26foo')
    assert resp.body == b'test-&bar\n'


def test_path_listing_skips_the_directory_marker(server):
    put_container(server, '1')
    for name in ('dir1/', 'dir1/file2', 'dir1/sub/', 'dir1/sub/f', 'file1'):
        put_row(server, name, '2', ctype='application/directory')
    assert call(server, '/sda/1/a/c?path=').body == b'dir1/\nfile1\n'
    for path in ('dir1', 'dir1/'):
        resp = call(server, '/sda/1/a/c?path=' + path)
        assert resp.body == b'dir1/file2\ndir1/sub/\n'
    assert call(server, '/sda/1/a/c?path=dir1/sub/').body == b'dir1/sub/f\n'


ALLOW_RESERVED = {'X-Backend-Allow-Reserved-Names': 'true'}


def test_reserved_names_are_stored_and_listed_only_when_allowed(server):
    """NUL-led names (Swift's reserved namespace) are valid on a node --
    only the proxy talks to it -- but a listing shows them only to a
    request carrying X-Backend-Allow-Reserved-Names: true."""
    assert put_container(server, '1', path='/sda/1/a/%00versions%00c'
                         ).status_int == 201
    put_container(server, '1')
    for name in ('\x00o\x00one', '\x00o\x00two', 'plain', 'x\x00y'):
        assert put_row(server, name, '2').status_int == 201
    resp = call(server, '/sda/1/a/c?format=json')
    assert [r['name'] for r in json.loads(resp.body)] == ['plain', 'x\x00y']
    resp = call(server, '/sda/1/a/c?format=json', headers=ALLOW_RESERVED)
    assert [r['name'] for r in json.loads(resp.body)] == [
        '\x00o\x00one', '\x00o\x00two', 'plain', 'x\x00y']
    # JSON carries NUL escaped, as Swift's listings do
    assert b'"\\u0000o\\u0000one"' in resp.body
    resp = call(server, '/sda/1/a/c?format=json&reverse=on&prefix=%00o',
                headers=ALLOW_RESERVED)
    assert [r['name'] for r in json.loads(resp.body)] == [
        '\x00o\x00two', '\x00o\x00one']
    resp = call(server, '/sda/1/a/c?format=json&prefix=%00o')
    assert json.loads(resp.body) == []
    resp = call(server, '/sda/1/a/c?format=json&reverse=on')
    assert [r['name'] for r in json.loads(resp.body)] == ['x\x00y', 'plain']
    head = call(server, '/sda/1/a/c', 'HEAD')
    assert head.headers['X-Container-Object-Count'] == '4'
