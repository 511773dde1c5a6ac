"""Container updates from object PUT/DELETE, and async pendings."""
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from webob import Request

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage import object_updates
from objproxy.storage.object_server import ObjectServer

BASE = int(time.time()) - 100


class Recorder(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def _handle(self):
        self.server.seen.append((self.command, self.path,
                                 dict(self.headers)))
        status = self.server.status
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_PUT = do_DELETE = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def container_server():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Recorder)
    srv.seen = []
    srv.status = 201
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def dead_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def devices(tmp_path):
    set_hash_config('prefix', 'suffix')
    (tmp_path / 'sda').mkdir()
    return tmp_path


@pytest.fixture
def app(devices):
    return ObjectServer({'devices': str(devices), 'fsync': 'false',
                         'container_update_timeout': '10',
                         'conn_timeout': '0.5', 'node_timeout': '1'})


def do(app, method, t, hosts, devices='sdc,sdd', **extra):
    headers = {'X-Timestamp': Timestamp(BASE + t).internal,
               'Content-Type': 'text/x', 'X-Trans-Id': 'tx1',
               'X-Container-Host': hosts, 'X-Container-Device': devices,
               'X-Container-Partition': '42'}
    headers.update(extra)
    r = Request.blank('/sda/3/a/c/o', environ={'REQUEST_METHOD': method},
                      headers=headers)
    if method == 'PUT':
        r.body = b'12345'
    return r.get_response(app)


def pendings(devices):
    root = devices / 'sda' / 'async_pending'
    if not root.exists():
        return []
    return sorted(str(p) for p in root.rglob('*') if p.is_file())


def test_put_and_delete_update_every_container(app, devices,
                                               container_server):
    host = '127.0.0.1:%d' % container_server.server_port
    resp = do(app, 'PUT', 1, '%s,%s' % (host, host))
    assert resp.status_int == 201
    assert len(container_server.seen) == 2
    paths = sorted(p for _, p, _ in container_server.seen)
    assert paths == ['/sdc/42/a/c/o', '/sdd/42/a/c/o']
    method, _, headers = container_server.seen[0]
    assert method == 'PUT'
    assert headers['X-Size'] == '5'
    assert headers['X-Content-Type'] == 'text/x'
    assert headers['X-Etag'] == '827ccb0eea8a706c4c34a16891f84e7b'
    assert headers['X-Backend-Layer'] == 'container'
    assert headers['X-Trans-Id'] == 'tx1'
    assert headers['X-Timestamp'] == Timestamp(BASE + 1).internal
    assert do(app, 'DELETE', 2, host, 'sdc').status_int == 204
    method, path, headers = container_server.seen[-1]
    assert (method, path) == ('DELETE', '/sdc/42/a/c/o')
    assert headers['X-Timestamp'] == Timestamp(BASE + 2).internal
    assert pendings(devices) == []


def test_failed_update_becomes_async_pending(app, devices, container_server):
    good = '127.0.0.1:%d' % container_server.server_port
    bad = '127.0.0.1:%d' % dead_port()
    resp = do(app, 'PUT', 1, '%s,%s' % (good, bad))
    assert resp.status_int == 201
    files = pendings(devices)
    h = hash_path('a', 'c', 'o')
    assert files == [str(devices / 'sda' / 'async_pending' / h[-3:] /
                         ('%s-%s' % (h, Timestamp(BASE + 1).internal)))]
    record = object_updates.load_async_pending(files[0])
    assert record['op'] == 'PUT'
    assert (record['account'], record['container'], record['obj']) == \
        ('a', 'c', 'o')
    assert record['container_partition'] == '42'
    assert record['container_host'] == bad
    assert record['container_device'] == 'sdd'
    assert record['headers']['X-Size'] == '5'
    assert record['headers']['X-Backend-Layer'] == 'container'
    assert object_updates.record_targets(record) == [(bad, 'sdd')]


def test_error_status_becomes_async_pending(app, devices, container_server):
    container_server.status = 507
    host = '127.0.0.1:%d' % container_server.server_port
    do(app, 'DELETE', 1, host, 'sdc')
    files = pendings(devices)
    assert len(files) == 1
    assert object_updates.load_async_pending(files[0])['op'] == 'DELETE'


def test_replication_requests_do_not_update(app, devices, container_server):
    host = '127.0.0.1:%d' % container_server.server_port
    resp = do(app, 'PUT', 1, host, 'sdc', **{'X-Backend-Replication': 'true'})
    assert resp.status_int == 201
    assert container_server.seen == []
    assert pendings(devices) == []


def test_mismatched_target_headers_400(app):
    assert do(app, 'PUT', 1, '1.2.3.4:5,1.2.3.4:6', 'sdc').status_int == 400


def test_async_pending_merge(devices):
    dev = str(devices / 'sda')
    rec = {'op': 'PUT', 'account': 'a', 'container': 'c', 'obj': 'o',
           'headers': {}, 'container_partition': '1',
           'container_host': 'h1:1', 'container_device': 'd1'}
    object_updates.write_async_pending(dev, 'f' * 32, BASE, rec)
    rec2 = dict(rec, container_host='h2:2', container_device='d2')
    path = object_updates.write_async_pending(dev, 'f' * 32, BASE, rec2)
    record = object_updates.load_async_pending(path)
    assert object_updates.record_targets(record) == [('h1:1', 'd1'),
                                                     ('h2:2', 'd2')]
    assert os.listdir(devices / 'sda' / 'tmp') == []
