"""Bit rot in a stored object never reaches a client.

A 64 MiB object is written through the proxy; then one byte is flipped
on disk in two of its replicas (in the middle of the body, or in its last
block).  Every object file carries a CRC32C of each block, which a node
checks before sending the block, so:

* a node read directly stops before the corrupt block: the bytes it sent
  are all good and end at or before the start of that block, the
  response is cut short (fewer bytes than its Content-Length), and the
  file is quarantined;
* a read through the proxy gets every byte right: the node it reads first
  stops short at the bad block, and the proxy resumes the body from the
  next replica.
"""
import hashlib
import http.client
import os
import uuid
from urllib.parse import quote, urlparse

import pytest

from objproxy.common.hashing import hash_path
from objproxy.storage.object_format import read_info_fd

SIZE = 64 * 1024 * 1024


class Client(object):
    """Raw HTTP through the proxy with a tempauth token."""

    def __init__(self, cluster):
        storage_url, self.token = cluster.token()
        parsed = urlparse(storage_url)
        self.host, self.port, self.base = (parsed.hostname, parsed.port,
                                           parsed.path)
        self.account = self.base.rstrip('/').rpartition('/')[2]

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, self.base + quote(path), body=body,
                         headers={'X-Auth-Token': self.token})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def node_index(cluster, node):
    for index, candidate in enumerate(cluster.nodes):
        if candidate['port'] == node['port']:
            return index
    raise AssertionError('unknown node %r' % (node,))


def replica_path(cluster, index, part, name_hash):
    node = cluster.nodes[index]
    hash_dir = os.path.join(node['devices'], node['device'], 'objects',
                            str(part), name_hash[-3:], name_hash)
    (data_file,) = [f for f in os.listdir(hash_dir) if f.endswith('.data')]
    return os.path.join(hash_dir, data_file)


def flip_byte(path, offset):
    with open(path, 'r+b') as fp:
        fp.seek(offset)
        byte = fp.read(1)
        fp.seek(offset)
        fp.write(bytes([byte[0] ^ 0x01]))


def block_size_of(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_info_fd(fd).block_size
    finally:
        os.close(fd)


def read_node_directly(cluster, index, part, path):
    """(Content-Length, bytes received) of a GET to the node itself."""
    node = cluster.nodes[index]
    conn = http.client.HTTPConnection(node['ip'], node['port'], timeout=30)
    received = []
    try:
        conn.request('GET', '/%s/%s%s' % (node['device'], part, quote(path)))
        resp = conn.getresponse()
        assert resp.status == 200
        length = int(resp.getheader('Content-Length'))
        while True:
            try:
                chunk = resp.read(65536)
            except http.client.IncompleteRead as err:
                received.append(err.partial)
                break
            if not chunk:
                break
            received.append(chunk)
    finally:
        conn.close()
    return length, b''.join(received)


def assert_quarantined(cluster, index, name_hash, path):
    node = cluster.nodes[index]
    assert not os.path.exists(path)
    assert os.path.isdir(os.path.join(
        node['devices'], node['device'], 'quarantined', 'objects',
        name_hash))


@pytest.fixture(scope='module')
def client(cluster):
    client = Client(cluster)
    assert client.call('PUT', '/rot')[0] in (201, 202)
    return client


@pytest.mark.parametrize('where', ['middle', 'last block'])
def test_corrupt_byte_never_reaches_the_client(cluster, client, where):
    body = os.urandom(SIZE)
    etag = hashlib.md5(body).hexdigest()
    name = 'big-%s' % uuid.uuid4().hex
    status, _ = client.call('PUT', '/rot/%s' % name, body)
    assert status == 201
    account = client.account
    ring = cluster.ring('object')
    part, primaries = ring.get_nodes(account, 'rot', name)
    name_hash = hash_path(account, 'rot', name)
    first, second = [node_index(cluster, n) for n in primaries[:2]]
    paths = dict((i, replica_path(cluster, i, part, name_hash))
                 for i in (first, second))
    block = block_size_of(paths[first])
    assert block, 'new object files carry block checksums'
    offset = SIZE // 2 + 12345 if where == 'middle' else SIZE - 10
    bad_block_start = offset // block * block
    for path in paths.values():
        flip_byte(path, offset)

    # the node itself: good bytes up to the corrupt block, then it stops
    length, received = read_node_directly(
        cluster, second, part, '/%s/rot/%s' % (account, name))
    assert length == SIZE
    assert len(received) <= bad_block_start
    assert received == body[:len(received)]
    assert_quarantined(cluster, second, name_hash, paths[second])

    # through the proxy: the first primary stops short at the same block,
    # the proxy resumes from the replica that is still good
    status, got = client.call('GET', '/rot/%s' % name)
    assert status == 200
    assert len(got) == SIZE
    assert hashlib.md5(got).hexdigest() == etag
    assert_quarantined(cluster, first, name_hash, paths[first])
