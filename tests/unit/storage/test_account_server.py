"""AccountServer through webob Request.blank on a temporary devices dir."""
import json

import pytest
from webob import Request

from objproxy.common.hashing import set_hash_config
from objproxy.storage.account_server import AccountServer


@pytest.fixture
def server(tmp_path):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    return AccountServer({'devices': str(tmp_path), 'fsync': 'false',
                          'log_address': '/nonexistent'})


def call(app, path, method='GET', headers=None):
    return Request.blank(path, environ={'REQUEST_METHOD': method},
                         headers=headers or {}).get_response(app)


def report(app, name, put_ts, del_ts='0', count=0, used=0, acct='a'):
    return call(app, '/sda/1/%s/%s' % (acct, name), 'PUT', {
        'X-Backend-Layer': 'account', 'X-Put-Timestamp': put_ts,
        'X-Delete-Timestamp': del_ts, 'X-Object-Count': str(count),
        'X-Bytes-Used': str(used), 'X-Timestamp': put_ts})


def test_put_head_totals(server):
    assert call(server, '/sda/1/a', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    assert call(server, '/sda/1/a', 'PUT',
                {'X-Timestamp': '2'}).status_int == 202
    assert report(server, 'c1', '1', count=3, used=30).status_int == 201
    assert report(server, 'c2', '1', count=2, used=5).status_int == 201
    resp = call(server, '/sda/1/a', 'HEAD')
    assert resp.status_int == 204
    assert resp.headers['X-Account-Container-Count'] == '2'
    assert resp.headers['X-Account-Object-Count'] == '5'
    assert resp.headers['X-Account-Bytes-Used'] == '35'
    assert resp.headers['X-Put-Timestamp'] == '0000000002.00000'
    # a container deletion report: 204, and it leaves the totals
    assert report(server, 'c2', '1', del_ts='3').status_int == 204
    resp = call(server, '/sda/1/a', 'HEAD')
    assert resp.headers['X-Account-Container-Count'] == '1'
    assert resp.headers['X-Account-Object-Count'] == '3'


def test_container_report_needs_account(server):
    assert report(server, 'c', '1').status_int == 404
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    resp = call(server, '/sda/1/a/c', 'PUT', {'X-Backend-Layer': 'account',
                                              'X-Put-Timestamp': 'x'})
    assert resp.status_int == 400
    resp = call(server, '/sda/1/a/c', 'PUT', {'X-Put-Timestamp': '1',
                                              'X-Object-Count': '-1'})
    assert resp.status_int == 400


def test_listing(server):
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    for name in ('x1', 'x2', 'y', 'z-1', 'z-2'):
        report(server, name, '1234567890', count=1, used=2)
    resp = call(server, '/sda/1/a?format=json&limit=2')
    assert json.loads(resp.body) == [
        {'name': 'x1', 'count': 1, 'bytes': 2,
         'last_modified': '2009-02-13T23:31:30.000000',
         'storage_policy': 'Policy-0'},
        {'name': 'x2', 'count': 1, 'bytes': 2,
         'last_modified': '2009-02-13T23:31:30.000000',
         'storage_policy': 'Policy-0'}]
    resp = call(server, '/sda/1/a?delimiter=-')
    assert resp.body == b'x1\nx2\ny\nz-\n'
    resp = call(server, '/sda/1/a?reverse=1&marker=y&format=xml')
    assert resp.body.index(b'<name>x2</name>') < \
        resp.body.index(b'<name>x1</name>')
    resp = call(server, '/sda/1/a?prefix=q')
    assert resp.status_int == 204
    assert call(server, '/sda/1/a?limit=10001').status_int == 412
    assert call(server, '/sda/1/a?end_marker=%ff').status_int == 400


def test_metadata_and_acl(server):
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1',
                                     'X-Account-Meta-Quota': '10'})
    resp = call(server, '/sda/1/a', 'POST', {
        'X-Timestamp': '2', 'X-Account-Meta-Color': 'blue',
        'X-Account-Access-Control': '{"read-only":["bob"]}'})
    assert resp.status_int == 204
    h = call(server, '/sda/1/a', 'HEAD').headers
    assert h['X-Account-Meta-Quota'] == '10'
    assert h['X-Account-Meta-Color'] == 'blue'
    assert h['X-Account-Sysmeta-Core-Access-Control'] == \
        '{"read-only":["bob"]}'
    assert h['X-Account-Access-Control'] == '{"read-only":["bob"]}'
    resp = call(server, '/sda/1/a', 'POST', {
        'X-Timestamp': '3', 'X-Account-Meta-X': 'v' * 257})
    assert resp.status_int == 400


def test_delete_account(server):
    assert call(server, '/sda/1/a', 'DELETE',
                {'X-Timestamp': '1'}).status_int == 404
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    assert call(server, '/sda/1/a', 'DELETE').status_int == 400
    assert call(server, '/sda/1/a', 'DELETE',
                {'X-Timestamp': '2'}).status_int == 204
    resp = call(server, '/sda/1/a', 'HEAD')
    assert resp.status_int == 404
    assert resp.headers['X-Account-Status'] == 'Deleted'
    assert call(server, '/sda/1/a').status_int == 404
    resp = call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '3'})
    assert resp.status_int == 403 and b'Recently deleted' in resp.body
    # container reports are refused unless overridden
    assert report(server, 'c', '5').status_int == 404
    resp = call(server, '/sda/1/a/c', 'PUT', {
        'X-Put-Timestamp': '5', 'X-Account-Override-Deleted': 'yes'})
    assert resp.status_int == 201


@pytest.mark.parametrize('path,status', [
    ('/sda/1/..', 400), ('/sda/x/a', 400), ('/sda/1/a%ff', 400),
    ('/sda/1/' + 'a' * 257, 400), ('/sda/1', 400), ('/sdz/1/a', 507),
    ('/sda/1/a/c/o', 400),
])
def test_bad_paths(server, path, status):
    for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE'):
        resp = call(server, path, method, {'X-Timestamp': '1'})
        assert resp.status_int == status, (method, path)


def test_container_reports_are_queued(server):
    assert call(server, '/sda/1/a', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    assert report(server, 'c1', '2', count=3, used=30).status_int == 201
    assert report(server, 'c2', '2', count=1, used=5).status_int == 201
    broker = server.get_broker('sda', '1', 'a')
    assert broker.pending_size() > 0
    assert broker.get_info(fresh=False)['container_count'] == 0
    resp = call(server, '/sda/1/a', 'HEAD')
    assert resp.headers['X-Account-Container-Count'] == '2'
    assert resp.headers['X-Account-Object-Count'] == '4'
    assert broker.pending_size() == 0
    assert report(server, 'c1', '2', del_ts='3').status_int == 204
    resp = call(server, '/sda/1/a?format=json')
    assert [c['name'] for c in json.loads(resp.body)] == ['c2']


def test_locked_account_database_answers_busy_for_that_request_only(
        tmp_path):
    """A write to an account whose database stays locked gets 503 with
    X-Backend-Busy; a container report is still queued (201), the hub
    never stalls."""
    import eventlet
    from objproxy.common.hashing import hash_path
    from tests.unit.storage.hub_watch import HubWatch, WriteLockHolder
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    app = AccountServer({'devices': str(tmp_path), 'fsync': 'false',
                         'log_address': '/nonexistent',
                         'db_lock_timeout': '0.3'})
    assert call(app, '/sda/1/a', 'PUT', {'X-Timestamp': '1'}).status_int \
        == 201
    h = hash_path('a')
    db_file = str(tmp_path / 'sda' / 'accounts' / '1' / h[-3:] / h /
                  (h + '.db'))
    with WriteLockHolder(db_file), HubWatch() as watch:
        post = eventlet.spawn(call, app, '/sda/1/a', 'POST', {
            'X-Timestamp': '2', 'X-Account-Meta-K': 'v'})
        assert report(app, 'c1', '1', count=1, used=1).status_int == 201
        resp = post.wait()
    assert resp.status_int == 503
    assert resp.headers['X-Backend-Busy'] == 'true'
    assert watch.max_gap < 0.5
    head = call(app, '/sda/1/a', 'HEAD')
    assert head.headers['X-Account-Container-Count'] == '1'


def test_listing_multi_char_delimiter(server):
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    for name in ('test', 'test-&bar', 'test-&foo', 'test-x'):
        report(server, name, '2')
    assert call(server, '/sda/1/a?delimiter=-%26').body == \
        b'test\ntest-&\ntest-x\n'
    assert call(server, '/sda/1/a?delimiter=-%26&reverse=yes').body == \
        b'test-x\ntest-&\ntest\n'
    # NUL is a marker character like any other: just past 'test'
    assert call(server, '/sda/1/a?marker=test%00&limit=1').body == \
        b'test-&bar\n'


def test_stored_metadata_over_overall_size_is_refused(server):
    meta = dict(('X-Account-Meta-%04d' % i, 'k' * 256) for i in range(15))
    meta['X-Timestamp'] = '1'
    assert call(server, '/sda/1/a', 'PUT', meta).status_int == 201
    room = 4096 - 15 * 260
    assert call(server, '/sda/1/a', 'POST', {
        'X-Timestamp': '2',
        'X-Account-Meta-K': 'y' * (room - 1)}).status_int == 204
    resp = call(server, '/sda/1/a', 'POST', {
        'X-Timestamp': '3', 'X-Account-Meta-K': 'z' * room})
    assert resp.status_int == 400
    assert call(server, '/sda/1/a', 'HEAD').headers[
        'X-Account-Meta-K'] == 'y' * (room - 1)
    # the count limit applies to what is stored too
    many = dict(('X-Account-Meta-N%d' % i, 'v') for i in range(80))
    many['X-Timestamp'] = '4'
    assert call(server, '/sda/1/a', 'POST', many).status_int == 400


def test_reserved_containers_listed_only_when_allowed(server):
    """A hidden (NUL-led) container is reported like any other, but only a
    request with X-Backend-Allow-Reserved-Names: true lists it."""
    call(server, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    assert report(server, '%00versions%00c', '1', count=2, used=7
                  ).status_int == 201
    assert report(server, 'c', '1', count=1, used=1).status_int == 201
    resp = call(server, '/sda/1/a?format=json')
    assert [r['name'] for r in json.loads(resp.body)] == ['c']
    resp = call(server, '/sda/1/a?format=json&prefix=%00versions%00',
                headers={'X-Backend-Allow-Reserved-Names': 'true'})
    assert [(r['name'], r['bytes']) for r in json.loads(resp.body)] == [
        ('\x00versions\x00c', 7)]
