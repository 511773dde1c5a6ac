"""Object replication between two real device trees over real HTTP."""
import os
import time

from objproxy.common.backend_http import ConnectionPool
from objproxy.daemons.object_replicator import (
    ObjectReplicator, PeerSession, files_to_push)
from objproxy.storage.object_replication_server import (
    ObjectReplicationServer, read_hashes)
from tests.unit.daemons.conftest import write_object


def test_files_to_push_respects_precedence():
    local = {'h1': ['0000000002.00000.data'],
             'h2': ['0000000001.00000.data'],
             'h3': ['0000000001.00000.data', '0000000003.00000.meta']}
    remote = {'h2': ['0000000005.00000.ts'],
              'h3': ['0000000001.00000.data']}
    pushed = sorted(files_to_push(local, remote))
    # h1 missing there; h2 older than their tombstone; h3 only the .meta
    assert pushed == [('h1', '0000000002.00000.data'),
                      ('h3', '0000000003.00000.meta')]


def _replicator(tmp_path, peer):
    rep = ObjectReplicator({'devices': str(tmp_path / 'a'),
                            'objproxy_dir': str(tmp_path), 'fsync': 'false'})
    rep.stats = rep.new_stats()
    session = PeerSession(ConnectionPool(), peer, 1, 5)
    return rep, session


def test_sync_pushes_newer_and_tombstones(tmp_path, serve):
    dev_a = tmp_path / 'a' / 'sda'
    dev_b = tmp_path / 'b' / 'sdb'
    dev_a.mkdir(parents=True)
    dev_b.mkdir(parents=True)
    now = time.time()
    write_object(str(dev_a), 5, 'new', b'newer', now - 200)
    write_object(str(dev_b), 5, 'new', b'older', now - 300)
    write_object(str(dev_a), 5, 'gone', b'x', now - 300)
    write_object(str(dev_a), 5, 'gone', timestamp=now - 100, ext='.ts')
    write_object(str(dev_b), 5, 'gone', b'x', now - 300)
    write_object(str(dev_b), 5, 'theirs', b'only on b', now - 300)
    ip, port = serve(ObjectReplicationServer({
        'devices': str(tmp_path / 'b'), 'fsync': 'false'}))
    peer = {'ip': ip, 'port': port, 'device': 'sdb'}
    rep, session = _replicator(tmp_path, peer)
    local = {5: read_hashes(str(dev_a), 5)}
    results = {}
    rep.sync_with_peer(session, str(dev_a), [5], local, results, 'k')
    assert results == {(5, 'k'): True}
    assert rep.stats['objects_pushed'] == 2
    assert rep.stats['failures'] == 0
    hashes_b = read_hashes(str(dev_b), 5)
    hashes_a = read_hashes(str(dev_a), 5)
    # b has everything a has (plus its own object, for b's pass to push)
    for suffix, value in hashes_a.items():
        files_a = sorted(os.listdir(os.path.join(str(dev_a), 'objects', '5',
                                                 suffix)))
        files_b = sorted(os.listdir(os.path.join(str(dev_b), 'objects', '5',
                                                 suffix)))
        assert set(files_a) <= set(files_b)
    assert hashes_b != hashes_a
    # a second sync finds nothing more to push
    rep.stats = rep.new_stats()
    rep.sync_with_peer(session, str(dev_a), [5],
                       {5: read_hashes(str(dev_a), 5)}, {}, 'k')
    assert rep.stats['objects_pushed'] == 0


def test_push_rejects_file_in_wrong_directory(tmp_path, serve):
    dev_a = tmp_path / 'a' / 'sda'
    (tmp_path / 'b' / 'sdb').mkdir(parents=True)
    path = write_object(str(dev_a), 1, 'obj', b'data', 100)
    ip, port = serve(ObjectReplicationServer({
        'devices': str(tmp_path / 'b'), 'fsync': 'false'}))
    session = PeerSession(ConnectionPool(), {'ip': ip, 'port': port,
                                             'device': 'sdb'}, 1, 5)
    wrong = '1/abc/%s/%s' % ('0' * 29 + 'abc', os.path.basename(path))
    result = session.push([(wrong, path)])
    assert result['rejected'] == [wrong] and result['stored'] == 0
    assert not os.path.exists(str(tmp_path / 'b' / 'sdb' / 'objects' / '1'
                                  / 'abc'))


def test_version1_and_version2_files_replicate_as_they_are(tmp_path, serve):
    """During an upgrade a node holds files of both format versions; the
    replicator pushes each byte for byte and the peer stores and serves
    both (a version-1 file stays version 1: no rewrite)."""
    from objproxy.storage.object_server import ObjectServer
    from webob import Request
    dev_a = tmp_path / 'a' / 'sda'
    dev_b = tmp_path / 'b' / 'sdb'
    dev_a.mkdir(parents=True)
    dev_b.mkdir(parents=True)
    now = time.time()
    bodies = {'old': os.urandom(5000), 'new': os.urandom(5000)}
    paths = {
        'old': write_object(str(dev_a), 5, 'old', bodies['old'], now - 50),
        'new': write_object(str(dev_a), 5, 'new', bodies['new'], now - 50,
                            block_size=1024)}
    ip, port = serve(ObjectReplicationServer({
        'devices': str(tmp_path / 'b'), 'fsync': 'false'}))
    rep, session = _replicator(tmp_path, {'ip': ip, 'port': port,
                                          'device': 'sdb'})
    rep.sync_with_peer(session, str(dev_a), [5],
                       {5: read_hashes(str(dev_a), 5)}, {}, 'k')
    assert rep.stats['objects_pushed'] == 2
    assert rep.stats['failures'] == 0
    node_b = ObjectServer({'devices': str(tmp_path / 'b'), 'fsync': 'false'})
    for name, path in paths.items():
        copy = path.replace(str(dev_a), str(dev_b))
        with open(path, 'rb') as fa, open(copy, 'rb') as fb:
            assert fa.read() == fb.read()
        resp = Request.blank('/sdb/5/AUTH_a/c/%s' % name).get_response(
            node_b)
        assert (resp.status_int, resp.body) == (200, bodies[name])


def test_push_rejects_version2_file_with_a_bad_block(tmp_path, serve):
    dev_a = tmp_path / 'a' / 'sda'
    (tmp_path / 'b' / 'sdb').mkdir(parents=True)
    path = write_object(str(dev_a), 1, 'obj', os.urandom(3000), 100,
                        block_size=1024)
    with open(path, 'r+b') as fp:
        fp.seek(2000)
        byte = fp.read(1)
        fp.seek(2000)
        fp.write(bytes([byte[0] ^ 1]))
    ip, port = serve(ObjectReplicationServer({
        'devices': str(tmp_path / 'b'), 'fsync': 'false'}))
    session = PeerSession(ConnectionPool(), {'ip': ip, 'port': port,
                                             'device': 'sdb'}, 1, 5)
    name = os.path.relpath(path, str(dev_a / 'objects'))
    result = session.push([(name, path)])
    assert result['rejected'] == [name] and result['stored'] == 0
