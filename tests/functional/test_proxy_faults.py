"""The proxy keeps working when storage nodes die.

Each test puts the cluster back (restarts what it stopped) so the tests
are independent; ring order is deterministic, so the tests know which node
the proxy will try first.
"""
import hashlib
import os
import socket
import time

import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    client, node_index, pcluster)


@pytest.fixture
def container(client):
    name = 'faults-%d' % int(time.time() * 1000)
    assert client.req('PUT', '/' + name).status in (201, 202)
    return name


def primaries(cluster, container, obj):
    part, nodes = cluster.ring('object').get_nodes('AUTH_test', container,
                                                   obj)
    return [node_index(cluster, n) for n in nodes]


def test_quorum_write_with_a_primary_down_uses_a_handoff(
        pcluster, client, container):
    order = primaries(pcluster, container, 'obj')
    down = order[1]
    pcluster.kill_node(down)
    try:
        body = os.urandom(100000)
        resp = client.req('PUT', '/%s/obj' % container, body)
        assert resp.status == 201, resp.body
        files = pcluster.object_files('AUTH_test', container, 'obj')
        holders = [i for i, names in files.items()
                   if any(n.endswith('.data') for n in names)]
        assert len(holders) == 3
        assert down not in holders
        handoffs = set(holders) - set(order)
        assert len(handoffs) == 1
        got = client.req('GET', '/%s/obj' % container)
        assert got.status == 200 and got.body == body
    finally:
        pcluster.start_node(down)


def _stream_get(client, path):
    """Open a raw GET; return the socket file after the headers."""
    sock = socket.create_connection((client.host, client.port), timeout=30)
    sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
                  'Connection: close\r\n\r\n'
                  % (client.base + path, client.token)).encode())
    fp = sock.makefile('rb')
    status = fp.readline()
    length = None
    while True:
        line = fp.readline()
        if line in (b'\r\n', b''):
            break
        name, _, value = line.decode().partition(':')
        if name.lower() == 'content-length':
            length = int(value)
    return sock, fp, status, length


def test_node_killed_during_get_body_completes(pcluster, client, container):
    size = 48 * 1024 * 1024
    body = os.urandom(1024 * 1024) * 48
    assert client.req('PUT', '/%s/big' % container, body).status == 201
    first = primaries(pcluster, container, 'big')[0]
    sock, fp, status, length = _stream_get(client,
                                           '/%s/big' % container)
    try:
        assert b' 200 ' in status and length == size
        digest = hashlib.md5()
        head = fp.read(1024 * 1024)
        digest.update(head)
        pcluster.kill_node(first)
        rest = fp.read()
        digest.update(rest)
        assert len(head) + len(rest) == size
        assert digest.hexdigest() == hashlib.md5(body).hexdigest()
        # and it really was resumed from another replica
        log = os.path.join(pcluster.data_dir, 'log', 'proxy.log')
        with open(log) as fp_log:
            assert 'GET body' in fp_log.read()
    finally:
        fp.close()
        sock.close()
        pcluster.start_node(first)


def test_x_newest_returns_the_newest_copy(pcluster, client, container):
    path = '/%s/newest' % container
    assert client.req('PUT', path, b'old').status == 201
    first = primaries(pcluster, container, 'newest')[0]
    pcluster.stop_node(first)
    try:
        assert client.req('PUT', path, b'new').status == 201
    finally:
        pcluster.start_node(first)
    # the first primary still has the old copy: a plain GET may see it,
    # X-Newest must not
    plain = client.req('GET', path)
    assert plain.status == 200 and plain.body == b'old'
    newest = client.req('GET', path, headers={'X-Newest': 'true'})
    assert newest.status == 200 and newest.body == b'new'


def test_newer_tombstone_beats_a_stale_copy(pcluster, client, container):
    path = '/%s/tomb' % container
    assert client.req('PUT', path, b'data').status == 201
    stale = primaries(pcluster, container, 'tomb')[1]
    pcluster.stop_node(stale)
    try:
        assert client.req('DELETE', path).status == 204
    finally:
        pcluster.start_node(stale)
    files = pcluster.object_files('AUTH_test', container, 'tomb')
    assert any(n.endswith('.data') for n in files[stale])
    assert client.req('GET', path).status == 404
    assert client.req('HEAD', path).status == 404
    assert client.req('GET', path, headers={'X-Newest': 'true'}).status \
        == 404


def test_reads_survive_two_dead_primaries(pcluster, client, container):
    path = '/%s/two' % container
    assert client.req('PUT', path, b'survivor').status == 201
    order = primaries(pcluster, container, 'two')
    pcluster.kill_node(order[0])
    pcluster.kill_node(order[1])
    try:
        resp = client.req('GET', path)
        assert resp.status == 200 and resp.body == b'survivor'
        # a write can no longer reach a quorum of the nodes holding it?
        # it can: handoffs stand in for both dead primaries
        assert client.req('PUT', path, b'again').status == 201
    finally:
        pcluster.start_node(order[0])
        pcluster.start_node(order[1])


def test_node_killed_during_put_upload_still_succeeds(pcluster, client,
                                                      container):
    import http.client
    order = primaries(pcluster, container, 'midput')
    chunk = os.urandom(1024 * 1024)
    total = 24

    def body():
        for i in range(total):
            if i == 8:
                pcluster.kill_node(order[2])
            yield chunk
    conn = http.client.HTTPConnection(client.host, client.port, timeout=60)
    try:
        conn.request('PUT', client.base + '/%s/midput' % container,
                     body=body(), headers={
                         'X-Auth-Token': client.token,
                         'Content-Length': str(total * len(chunk))})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201
        log = os.path.join(pcluster.data_dir, 'log', 'proxy.log')
        with open(log) as fp_log:
            text = fp_log.read()
        assert 'PUT body' in text or 'PUT response' in text
    finally:
        conn.close()
        pcluster.start_node(order[2])
    got = client.req('GET', '/%s/midput' % container)
    assert got.status == 200 and got.body == chunk * total
