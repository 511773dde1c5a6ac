"""A real object node process killed (-9) in the middle of PUTs.

The node is started with ``objproxy-server`` (workers = 0, so the pid we
kill is the one serving).  Whatever moment the kill lands at, after a
restart the object must be either the old version or the new one, intact,
and no upload leftovers may remain in ``<device>/tmp``.
"""
import hashlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp

PREFIX, SUFFIX = 'fprefix', 'fsuffix'
OBJ_PATH = '/sda/3/AUTH_t/c/obj'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node(object):
    def __init__(self, root):
        self.root = root
        self.devices = os.path.join(root, 'devices')
        os.makedirs(os.path.join(self.devices, 'sda'), exist_ok=True)
        with open(os.path.join(root, 'objproxy.conf'), 'w') as fp:
            fp.write('[objproxy-hash]\nhash_path_prefix = %s\n'
                     'hash_path_suffix = %s\n' % (PREFIX, SUFFIX))
        self.port = free_port()
        self.conf = os.path.join(root, 'object-server.conf')
        with open(self.conf, 'w') as fp:
            fp.write('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                     'workers = 0\ndevices = %s\nobjproxy_dir = %s\nclient_timeout = 2\n'
                     'log_file = %s\n\n[app:main]\n'
                     'use = egg:objproxy#object_server\n'
                     % (self.port, self.devices, root,
                        os.path.join(root, 'node.log')))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'objproxy.cli.server', self.conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('node died: %s'
                                     % self.proc.stderr.read())
            try:
                socket.create_connection(('127.0.0.1', self.port),
                                         0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError('node did not start')

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stderr.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def request(self, method, path=OBJ_PATH, body=None, headers=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.msg, resp.read()
        finally:
            conn.close()

    def put(self, body, t, path=OBJ_PATH):
        return self.request('PUT', path, body, {
            'X-Timestamp': Timestamp(t).internal,
            'Content-Type': 'application/octet-stream'})

    def tmp_files(self):
        tmp = os.path.join(self.devices, 'sda', 'tmp')
        return os.listdir(tmp) if os.path.isdir(tmp) else []

    def hash_dir(self, path=OBJ_PATH):
        _, _, part, a, c, o = path.split('/', 5)
        h = hash_path(a, c, o)
        return os.path.join(self.devices, 'sda', 'objects', part, h[-3:], h)


@pytest.fixture
def node(tmp_path):
    set_hash_config(PREFIX, SUFFIX)
    n = Node(str(tmp_path))
    n.start()
    yield n
    n.stop()


def start_slow_put(node, size, t, path=OBJ_PATH, first=b''):
    sock = socket.create_connection(('127.0.0.1', node.port))
    head = ('PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n'
            'X-Timestamp: %s\r\nContent-Type: a/b\r\n\r\n'
            % (path, size, Timestamp(t).internal)).encode()
    sock.sendall(head + first)
    return sock


def wait_for_tmp(node):
    deadline = time.time() + 10
    while time.time() < deadline:
        names = node.tmp_files()
        if names and os.path.getsize(os.path.join(
                node.devices, 'sda', 'tmp', names[0])) > 0:
            return names
        time.sleep(0.01)
    raise AssertionError('upload never reached the disk')


def test_kill_during_overwrite_keeps_old_object(node):
    now = time.time()
    old = os.urandom(100000)
    assert node.put(old, now)[0] == 201
    sock = start_slow_put(node, 10 ** 6, now + 1, first=b'n' * 300000)
    assert len(wait_for_tmp(node)) == 1
    node.kill9()
    sock.close()
    assert node.tmp_files() != []      # the orphan is still there...
    node.start()
    assert node.tmp_files() == []      # ...until the node starts again
    status, headers, body = node.request('GET')
    assert status == 200
    assert body == old
    assert headers['ETag'] == hashlib.md5(old).hexdigest()
    assert os.listdir(node.hash_dir()) == [Timestamp(now).internal +
                                           '.data']


def test_kill_during_first_put_leaves_nothing(node):
    path = '/sda/3/AUTH_t/c/newobj'
    sock = start_slow_put(node, 10 ** 6, time.time(), path, b'x' * 200000)
    wait_for_tmp(node)
    node.kill9()
    sock.close()
    node.start()
    assert node.request('GET', path)[0] == 404
    assert not os.path.exists(node.hash_dir(path))
    assert node.tmp_files() == []


def test_kill_at_random_moments_never_tears(node):
    rng = random.Random(4)
    versions = {}
    t = time.time()
    for round_no in range(3):
        # a stream of overwrites; kill lands at an arbitrary point
        done = []
        deadline = time.time() + rng.uniform(0.05, 0.4)
        sock_errors = 0
        while time.time() < deadline:
            t += 1
            body = os.urandom(rng.choice((10, 5000, 200000)))
            versions[hashlib.md5(body).hexdigest()] = body
            try:
                if node.put(body, t)[0] == 201:
                    done.append(hashlib.md5(body).hexdigest())
            except OSError:
                sock_errors += 1
        sock = start_slow_put(node, 10 ** 6, t + 0.5, first=b'z' * 1000)
        time.sleep(rng.uniform(0, 0.05))
        node.kill9()
        sock.close()
        node.start()
        status, headers, body = node.request('GET')
        if done:
            assert status == 200
            etag = hashlib.md5(body).hexdigest()
            assert etag in versions and body == versions[etag]
            assert etag == done[-1]
        assert node.tmp_files() == []


def read_response(sock):
    """Status and raw header block of one response (body not read)."""
    data = b''
    while b'\r\n\r\n' not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    head, _, rest = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), head, rest


def test_expect_100_continue_and_chunked(node):
    t = time.time()
    sock = socket.create_connection(('127.0.0.1', node.port), timeout=10)
    sock.sendall(('PUT %s HTTP/1.1\r\nHost: x\r\nX-Timestamp: %s\r\n'
                  'Content-Type: a/b\r\nTransfer-Encoding: chunked\r\n'
                  'Expect: 100-continue\r\n\r\n'
                  % (OBJ_PATH, Timestamp(t).internal)).encode())
    status, _, _ = read_response(sock)
    assert status == 100
    sock.sendall(b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
    status, head, _ = read_response(sock)
    assert status == 201
    assert hashlib.md5(b'hello world').hexdigest().encode() in head
    sock.close()
    assert node.request('GET')[2] == b'hello world'
    # an older PUT gets its 409 before any body is sent (no 100)
    sock = socket.create_connection(('127.0.0.1', node.port), timeout=10)
    sock.sendall(('PUT %s HTTP/1.1\r\nHost: x\r\nX-Timestamp: %s\r\n'
                  'Content-Length: 5\r\nExpect: 100-continue\r\n\r\n'
                  % (OBJ_PATH, Timestamp(t - 5).internal)).encode())
    status, head, _ = read_response(sock)
    assert status == 409
    assert b'X-Backend-Timestamp' in head or b'x-backend-timestamp' in head
    sock.close()


def test_stalled_client_gets_408_and_nothing_stays(node):
    sock = start_slow_put(node, 1000, time.time(), first=b'x' * 10)
    sock.settimeout(10)
    status, _, _ = read_response(sock)
    sock.close()
    assert status == 408
    assert node.request('GET')[0] == 404
    assert node.tmp_files() == []


def test_client_disconnect_leaves_nothing(node):
    sock = start_slow_put(node, 10 ** 6, time.time(), first=b'x' * 100000)
    wait_for_tmp(node)
    sock.close()
    deadline = time.time() + 5
    while node.tmp_files() and time.time() < deadline:
        time.sleep(0.02)
    assert node.tmp_files() == []
    assert node.request('GET')[0] == 404
