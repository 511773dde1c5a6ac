"""Container -> account stats reports against a real account server."""
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import eventlet
import pytest
from webob import Request

from objproxy.common.hashing import set_hash_config
from objproxy.storage.account_reporter import AccountReporter, parse_targets
from objproxy.storage.account_server import AccountServer
from objproxy.storage.container_server import ContainerServer


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class CountingApp(object):
    def __init__(self, app):
        self.app = app
        self.reports = 0

    def __call__(self, env, start_response):
        if env['REQUEST_METHOD'] == 'PUT' and env['PATH_INFO'].count('/') == 4:
            self.reports += 1
        return self.app(env, start_response)


@pytest.fixture
def nodes(tmp_path):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    conf = {'devices': str(tmp_path), 'fsync': 'false',
            'log_address': '/nonexistent', 'node_timeout': '2'}
    account = CountingApp(AccountServer(conf))
    httpd = make_server('127.0.0.1', 0, account, handler_class=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    container = ContainerServer(conf)
    yield container, account, httpd.server_port, conf
    container.reporter.stop()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def call(app, path, method='GET', headers=None):
    return Request.blank(path, environ={'REQUEST_METHOD': method},
                         headers=headers or {}).get_response(app)


def targets(port):
    return {'X-Account-Host': '127.0.0.1:%d' % port,
            'X-Account-Partition': '1', 'X-Account-Device': 'sda'}


def account_head(account):
    return call(account.app, '/sda/1/a', 'HEAD').headers


def put_row(container, name, ts, size):
    return call(container, '/sda/1/a/c/' + name, 'PUT', {
        'X-Timestamp': ts, 'X-Size': str(size), 'X-Content-Type': 't',
        'X-Etag': 'e'})


def test_parse_targets():
    assert parse_targets({}) == []
    assert parse_targets({'X-Account-Host': '1.2.3.4:5, 6.7.8.9:10',
                          'X-Account-Partition': '3',
                          'X-Account-Device': 'sda,sdb'}) == [
        ('1.2.3.4:5', '3', 'sda'), ('6.7.8.9:10', '3', 'sdb')]
    for bad in ({'X-Account-Host': '1.2.3.4:5'},
                {'X-Account-Host': 'nohost', 'X-Account-Partition': '1',
                 'X-Account-Device': 'sda'},
                {'X-Account-Host': '1.2.3.4:5', 'X-Account-Partition': '1',
                 'X-Account-Device': 'sda,sdb'}):
        with pytest.raises(ValueError):
            parse_targets(bad)


def test_put_reports_at_once_and_rows_are_batched(nodes):
    container, account, port, conf = nodes
    call(account.app, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    headers = dict(targets(port), **{'X-Timestamp': '2'})
    assert call(container, '/sda/1/a/c', 'PUT', headers).status_int == 201
    assert account_head(account)['X-Account-Container-Count'] == '1'
    assert account.reports == 1
    for i in range(20):
        assert put_row(container, 'o%d' % i, '3.%d' % i, 10).status_int == 201
    assert list(container.reporter.pending())  # scheduled, not yet sent
    assert account.reports == 1
    # the green timer reports within a couple of seconds, batched
    deadline = time.time() + 5
    while time.time() < deadline:
        eventlet.sleep(0.1)
        if account_head(account).get('X-Account-Object-Count') == '20':
            break
    h = account_head(account)
    assert h['X-Account-Object-Count'] == '20'
    assert h['X-Account-Bytes-Used'] == '200'
    assert account.reports <= 3
    # container DELETE after emptying: reported immediately
    for i in range(20):
        call(container, '/sda/1/a/c/o%d' % i, 'DELETE', {'X-Timestamp': '4'})
    assert call(container, '/sda/1/a/c', 'DELETE',
                dict(targets(port), **{'X-Timestamp': '5'})).status_int == 204
    assert account_head(account)['X-Account-Container-Count'] == '0'


def test_failed_report_survives_restart(nodes):
    container, account, port, conf = nodes
    # account missing: every replica says 404, so the PUT says 404 too
    resp = call(container, '/sda/1/a/c', 'PUT',
                dict(targets(port), **{'X-Timestamp': '2'}))
    assert resp.status_int == 404
    put_row(container, 'o', '3', 7)
    # one retry per pass even though the retry falls inside the window
    assert container.reporter.run_pending(now=time.time() + 100) == 1
    assert account.reports <= 3  # inline PUT, start-up sweep, this retry
    call(account.app, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    assert account_head(account)['X-Account-Container-Count'] == '0'
    # "restart": a fresh reporter finds the unreported container on disk
    container.reporter.stop()
    fresh = AccountReporter(conf, container.logger)
    assert fresh.sweep() == 1
    assert fresh.run_pending(now=time.time() + 1) == 1
    h = account_head(account)
    assert h['X-Account-Container-Count'] == '1'
    assert h['X-Account-Object-Count'] == '1'
    assert fresh.sweep() == 0  # acknowledged: nothing left to report
    fresh.stop()


def test_unreachable_account_is_retried(nodes, tmp_path):
    container, account, port, conf = nodes
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    dead_port = sock.getsockname()[1]
    sock.close()
    resp = call(container, '/sda/1/a/c', 'PUT',
                dict(targets(dead_port), **{'X-Timestamp': '2'}))
    assert resp.status_int == 201  # the container exists; report pending
    due = container.reporter.pending()
    assert len(due) == 1 and list(due.values())[0] > time.time()
