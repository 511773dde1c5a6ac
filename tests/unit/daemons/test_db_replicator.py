"""Database replication by rows, and whole-DB push, over real HTTP."""
import os

from objproxy.common.backend_http import ConnectionPool
from objproxy.common.hashing import hash_path
from objproxy.common.timestamp import Timestamp
from objproxy.daemons.db_replicator import ContainerReplicator
from objproxy.storage.container_broker import ContainerBroker
from objproxy.storage.db_replication_server import (
    DbReplicationServer, db_path, replication_info)


def _broker(root, dev, name_hash, create=True):
    path = db_path(os.path.join(root, dev), 'containers', 7, name_hash)
    broker = ContainerBroker(path, account='AUTH_a', container='c',
                             fsync=False)
    if create:
        broker.initialize(Timestamp.now().internal)
    return broker


def _names(broker):
    return sorted(r['name'] for r in broker.get_items_since(-1, 1000)
                  if not r['deleted'])


def test_rows_then_whole_db(tmp_path, serve):
    name_hash = hash_path('AUTH_a', 'c')
    a_root, b_root = str(tmp_path / 'a'), str(tmp_path / 'b')
    os.makedirs(os.path.join(b_root, 'sdb'))
    local = _broker(a_root, 'sda', name_hash)
    for i in range(5):
        local.put_object('o%d' % i, Timestamp.now().internal, 1, 't', 'e')
    ip, port = serve(DbReplicationServer({'devices': b_root,
                                          'fsync': 'false'}))
    node = {'ip': ip, 'port': port, 'device': 'sdb'}
    rep = ContainerReplicator({'devices': a_root, 'fsync': 'false'})
    rep.stats = rep.new_stats()
    rep.pool = ConnectionPool()

    # no replica there: the whole database goes
    assert rep.replicate_to(local, replication_info(local), node, 7,
                            name_hash)
    assert rep.stats['db_pushes'] == 1
    remote = _broker(b_root, 'sdb', name_hash, create=False)
    assert _names(remote) == _names(local)
    assert remote.get_info()['id'] != local.get_info()['id']

    # then only the rows changed since the sync point travel
    local.put_object('o9', Timestamp.now().internal, 1, 't', 'e')
    local.delete_object('o0', Timestamp.now().internal)
    assert rep.replicate_to(local, replication_info(local), node, 7,
                            name_hash)
    assert rep.stats['rows_synced'] == 2
    assert _names(remote) == _names(local)
    assert remote.get_info()['hash'] == local.get_info()['hash']

    # in sync: nothing sent
    assert rep.replicate_to(local, replication_info(local), node, 7,
                            name_hash)
    assert rep.stats['no_change'] == 1 and rep.stats['rows_synced'] == 2
