"""A real container-server process whose database is locked by someone else.

The node must keep serving while one of its databases stays locked (by a
daemon, another worker, a slow merge): the request that needs the lock
waits cooperatively and then gets ``503`` with ``X-Backend-Busy: true``
(its own failure, which the proxy does not count against the node), and
every other request is answered meanwhile as fast as ever.
"""
import http.client
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from objproxy.common.hashing import hash_path, set_hash_config
from tests.functional.node_process import (
    BIN, free_port, wait_listening, write_conf)

def req(port, method, path, headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        start = time.monotonic()
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders()), \
            time.monotonic() - start
    finally:
        conn.close()


@pytest.fixture
def container_node(tmp_path):
    if not os.path.exists(BIN):
        pytest.skip('objproxy-server is not installed')
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'objproxy.conf').write_text(
        '[objproxy-hash]\nhash_path_prefix = lock-prefix\n'
        'hash_path_suffix = lock-suffix\n')
    devices = tmp_path / 'srv'
    (devices / 'sda').mkdir(parents=True)
    port = free_port()
    conf = tmp_path / 'container.conf'
    write_conf(conf, port, 'container_server', devices, etc,
               extra='db_lock_timeout = 1\n')
    proc = subprocess.Popen([BIN, str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_listening(port, proc, timeout=20)
        set_hash_config('lock-prefix', 'lock-suffix')
        yield port, str(devices / 'sda')
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_locked_database_fails_one_request_and_the_node_keeps_serving(
        container_node):
    port, device = container_node
    for name in ('hot', 'cold'):
        assert req(port, 'PUT', '/sda/1/a/' + name,
                   {'X-Timestamp': '1'})[0] == 201
    name_hash = hash_path('a', 'hot')
    db_file = os.path.join(device, 'containers', '1', name_hash[-3:],
                           name_hash, name_hash + '.db')
    holder = sqlite3.connect(db_file, isolation_level=None,
                             check_same_thread=False)
    holder.execute('BEGIN IMMEDIATE')       # as a daemon's write would
    results = {}

    def post():
        results['post'] = req(port, 'POST', '/sda/1/a/hot', {
            'X-Timestamp': '2', 'X-Container-Meta-K': 'v'})
    poster = threading.Thread(target=post)
    try:
        poster.start()
        slowest = 0.0
        served = 0
        while poster.is_alive() and served < 500:
            status, _, took = req(port, 'HEAD', '/sda/1/a/cold')
            assert status == 204
            # object rows only queue: a locked database does not stop them
            status, _, took2 = req(port, 'PUT', '/sda/1/a/hot/o%d' % served,
                                   {'X-Timestamp': '3', 'X-Size': '1',
                                    'X-Content-Type': 't', 'X-Etag': 'e',
                                    'X-Backend-Layer': 'container'})
            assert status == 201
            slowest = max(slowest, took, took2)
            served += 1
        poster.join(30)
    finally:
        holder.execute('ROLLBACK')
        holder.close()
    status, headers, took = results['post']
    assert status == 503
    assert headers.get('X-Backend-Busy') == 'true'
    assert took < 5
    assert served >= 3 and slowest < 0.5
    # the lock is gone: the same request works, the queued rows are there
    assert req(port, 'POST', '/sda/1/a/hot', {
        'X-Timestamp': '2', 'X-Container-Meta-K': 'v'})[0] == 204
    status, headers, _ = req(port, 'HEAD', '/sda/1/a/hot')
    assert headers['X-Container-Object-Count'] == str(served)
