"""Container and account layers as real ``objproxy-server`` processes.

Two processes (container layer, account layer) on loopback: a container
PUT tells the container server where its account replica is, object rows
arrive like an object server sends them, and the account must show the
object count a moment later without anyone asking the container again.
"""
import http.client
import json
import os
import signal
import subprocess
import time

import pytest

from tests.functional.node_process import (
    BIN, free_port, wait_listening, write_conf)

@pytest.fixture
def db_nodes(tmp_path):
    if not os.path.exists(BIN):
        pytest.skip('objproxy-server is not installed')
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'objproxy.conf').write_text(
        '[objproxy-hash]\nhash_path_prefix = fx-prefix\n'
        'hash_path_suffix = fx-suffix\n')
    devices = tmp_path / 'srv'
    (devices / 'sda').mkdir(parents=True)
    procs = []
    ports = {}
    try:
        for app in ('container_server', 'account_server'):
            port = free_port()
            conf = tmp_path / ('%s.conf' % app)
            write_conf(conf, port, app, devices, etc)
            proc = subprocess.Popen([BIN, str(conf)],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE,
                                    start_new_session=True)
            procs.append(proc)
            wait_listening(port, proc)
            ports[app] = port
        yield ports
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def req(port, method, path, headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_account_sees_object_rows(db_nodes):
    cport, aport = db_nodes['container_server'], db_nodes['account_server']
    assert req(aport, 'PUT', '/sda/3/acct', {'X-Timestamp': '1'})[0] == 201
    status, _, _ = req(cport, 'PUT', '/sda/5/acct/cont', {
        'X-Timestamp': '2', 'X-Account-Host': '127.0.0.1:%d' % aport,
        'X-Account-Partition': '3', 'X-Account-Device': 'sda',
        'X-Container-Meta-Kind': 'test'})
    assert status == 201
    status, headers, _ = req(aport, 'HEAD', '/sda/3/acct')
    assert headers['X-Account-Container-Count'] == '1'
    for i in range(25):
        status, _, _ = req(cport, 'PUT', '/sda/5/acct/cont/dir/obj%02d' % i, {
            'X-Timestamp': '3.%02d' % i, 'X-Size': '100',
            'X-Content-Type': 'application/octet-stream',
            'X-Etag': 'd41d8cd98f00b204e9800998ecf8427e',
            'X-Backend-Layer': 'container'})
        assert status == 201
    deadline = time.time() + 8
    while time.time() < deadline:
        _, headers, _ = req(aport, 'HEAD', '/sda/3/acct')
        if headers.get('X-Account-Object-Count') == '25':
            break
        time.sleep(0.2)
    assert headers['X-Account-Object-Count'] == '25'
    assert headers['X-Account-Bytes-Used'] == '2500'
    status, _, body = req(aport, 'GET', '/sda/3/acct?format=json')
    assert json.loads(body)[0]['count'] == 25
    status, headers, body = req(
        cport, 'GET', '/sda/5/acct/cont?format=json&prefix=dir/&limit=3')
    assert status == 200 and headers['X-Container-Meta-Kind'] == 'test'
    assert [o['name'] for o in json.loads(body)] == [
        'dir/obj00', 'dir/obj01', 'dir/obj02']
    status, _, body = req(cport, 'GET', '/sda/5/acct/cont?delimiter=/')
    assert body == b'dir/\n'
    # bad input over the wire: 4xx, and the server keeps serving
    assert req(cport, 'GET', '/sda/5/acct/cont?prefix=%FF')[0] == 400
    assert req(cport, 'GET', '/sda/x/acct/cont')[0] == 400
    assert req(cport, 'GET', '/sda/5/acct/cont?limit=20000')[0] == 412
    assert req(cport, 'HEAD', '/sda/5/acct/cont')[0] == 204
