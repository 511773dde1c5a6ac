"""Container and account replicator: converge database replicas by rows.

For every database on this node and every other primary (every primary for
a handoff), the replicator sends a ``sync`` with its replication info
(see db_replication_server).  The peer answers with its own info and its
*sync point* for this database id, i.e. how far it has already merged our
rows, and then:

* the same row hash: nothing to send, remember the peer is up to date;
* otherwise: send the rows changed since that point (``per_diff`` rows per
  ``merge_items`` request, at most ``max_diffs`` requests per database per
  pass), which moves the peer's sync point; the peer sends us its own
  changes when *it* runs;
* 404, no replica there: push a consistent snapshot of the whole database
  (``push_db``), the only time a whole database travels.

A handoff database is removed once every primary has all its rows.  A
deleted database (deleted status, or deleted and empty) whose status
changed more than ``reclaim_age`` ago is removed, and deleted rows older
than ``reclaim_age`` are reaped from every database.
"""
import json
import os
import shutil
import sqlite3
import time
import uuid

from objproxy.common.backend_http import ConnectionPool, request
from objproxy.common.config import get_int
from objproxy.common.timestamp import Timestamp
from objproxy.daemons.daemon import Daemon
from objproxy.daemons.local_devs import (
    list_partitions, local_ring_devs, same_dev)
from objproxy.storage.db_replication_server import (
    LAYERS, replication_info, snapshot_db)

DEFAULT_RECLAIM_AGE = 7 * 24 * 3600
CHUNK = 65536


class ReplicationError(Exception):
    pass


def iter_db_files(datadir, only_parts=None):
    """(partition, hash, path) of every database under a datadir."""
    for part in sorted(list_partitions(datadir, only_parts)):
        part_dir = os.path.join(datadir, str(part))
        for suffix in _listdir(part_dir):
            suffix_dir = os.path.join(part_dir, suffix)
            for name_hash in _listdir(suffix_dir):
                path = os.path.join(suffix_dir, name_hash, name_hash + '.db')
                if os.path.isfile(path):
                    yield part, name_hash, path


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def remove_db_dir(path):
    """Remove a database's hash directory (and empty parents)."""
    hash_dir = os.path.dirname(path)
    shutil.rmtree(hash_dir, ignore_errors=True)
    for parent in (os.path.dirname(hash_dir),
                   os.path.dirname(os.path.dirname(hash_dir))):
        try:
            os.rmdir(parent)
        except OSError:
            break


class DbReplicator(Daemon):
    """Base; ContainerReplicator/AccountReplicator set ``server_type``."""

    server_type = None

    def __init__(self, conf, logger=None):
        super().__init__(conf, logger)
        self.datadir, self.broker_class = LAYERS[self.server_type]
        self.reclaim_age = get_int(conf, 'reclaim_age', DEFAULT_RECLAIM_AGE,
                                   self.name, minimum=1)
        self.per_diff = get_int(conf, 'per_diff', 1000, self.name,
                                minimum=1)
        self.max_diffs = get_int(conf, 'max_diffs', 100, self.name,
                                 minimum=1)
        self.pool = None
        self.stats = None

    @property
    def recon_file(self):
        return '%s.recon' % self.server_type

    @property
    def recon_key(self):
        return '%s_replication' % self.server_type

    def new_stats(self):
        return {'attempted': 0, 'no_change': 0, 'rows_synced': 0,
                'diffs': 0, 'db_pushes': 0, 'failures': 0,
                'handoffs_removed': 0, 'reclaimed': 0,
                'connections_opened': 0, 'elapsed': 0.0}

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        self.stats = stats = self.new_stats()
        ring = self.read_ring(self.server_type)
        self.pool = ConnectionPool()
        names = self.local_device_names(devices)
        mine = local_ring_devs(ring, self.conf, names)
        try:
            for device in names:
                dev = mine.get(device)
                if dev is None:
                    continue
                datadir = os.path.join(self.devices_root, device,
                                       self.datadir)
                for part, name_hash, path in iter_db_files(datadir,
                                                           partitions):
                    self.tick(device, stats['attempted'], None, 'databases')
                    try:
                        self.replicate_db(ring, dev, part, name_hash, path)
                    except Exception as err:
                        stats['failures'] += 1
                        self.logger.error('replicating %s failed: %s',
                                          path, err)
        finally:
            stats['connections_opened'] = self.pool.opened
            self.pool.close_all()
        stats['elapsed'] = round(time.time() - begin, 3)
        return stats

    # -- one database --------------------------------------------------------
    def replicate_db(self, ring, dev, part, name_hash, path):
        self.stats['attempted'] += 1
        broker = self.broker_class(path, fsync=self.fsync)
        try:
            if self.reclaim(broker, path):
                return
            info = replication_info(broker)
            primaries = ring.get_part_nodes(part)
            is_handoff = not any(same_dev(dev, n) for n in primaries)
            peers = [n for n in primaries if not same_dev(dev, n)]
            ok = True
            for node in peers:
                try:
                    ok &= self.replicate_to(broker, info, node, part,
                                            name_hash)
                except Exception as err:
                    ok = False
                    self.stats['failures'] += 1
                    self.logger.warning('%s to %s:%s/%s failed: %s', path,
                                        node['ip'], node['port'],
                                        node['device'], err)
        finally:
            broker.close()
        if is_handoff and ok and peers:
            # only if nothing was written here meanwhile
            again = self.broker_class(path, fsync=False)
            try:
                unchanged = again.get_max_row() == info['max_row']
            finally:
                again.close()
            if unchanged:
                remove_db_dir(path)
                self.stats['handoffs_removed'] += 1

    def reclaim(self, broker, path):
        """Reap old deleted rows; remove a long-deleted DB (True)."""
        cutoff = Timestamp(time.time() - self.reclaim_age).internal
        info = broker.get_info()
        if broker.is_deleted() and info['status_changed_at'] < cutoff and \
                info['delete_timestamp'] < cutoff:
            broker.close()
            remove_db_dir(path)
            self.stats['reclaimed'] += 1
            return True
        broker.reclaim(cutoff)
        return False

    def _rpc(self, node, part, name_hash, op, body=None, headers=None,
             file_path=None):
        hdrs = {'X-Backend-Layer': self.server_type,
                'X-Backend-Replicate-Op': op}
        hdrs.update(headers or {})
        path = '/%s/%d/%s' % (node['device'], part, name_hash)
        if file_path is None:
            status, _h, resp = request(
                self.pool, node, 'REPLICATE', path, hdrs,
                body=json.dumps(body or {}).encode(),
                conn_timeout=self.conn_timeout,
                node_timeout=self.node_timeout)
        else:
            status, resp = self._stream_file(node, path, hdrs, file_path)
        if status == 404:
            return None
        if status != 200:
            raise ReplicationError('%s -> %d %s' % (op, status, resp[:200]))
        return json.loads(resp)

    def _stream_file(self, node, path, headers, file_path):
        """REPLICATE with a file body, sent in chunks (O(chunk) memory)."""
        conn = self.pool.get(node['ip'], node['port'], self.conn_timeout,
                             self.node_timeout)
        try:
            with open(file_path, 'rb') as fp:
                headers = dict(headers, **{
                    'Content-Length': str(os.fstat(fp.fileno()).st_size)})
                conn.begin_request('REPLICATE', path, headers)
                while True:
                    data = fp.read(CHUNK)
                    if not data:
                        break
                    conn.sock.sendall(data)
            resp = conn.getresponse()
            body = resp.read()
            conn.release(resp)
        except BaseException:
            conn.close()
            raise
        return resp.status, body

    def replicate_to(self, broker, info, node, part, name_hash):
        """True when ``node`` has every row of ``broker`` after this."""
        rinfo = self._rpc(node, part, name_hash, 'sync', {'info': info})
        if rinfo is None:
            return self.push_db(broker, info, node, part, name_hash)
        if rinfo.get('hash') == info['hash']:
            self.stats['no_change'] += 1
            broker.merge_syncs([{'remote_id': rinfo['id'],
                                 'sync_point': info['max_row']}],
                               incoming=False)
            return True
        point = int(rinfo.get('point', -1))
        self.stats['diffs'] += 1
        for _round in range(self.max_diffs):
            rows = broker.get_items_since(point, self.per_diff)
            if not rows:
                break
            self._rpc(node, part, name_hash, 'merge_items',
                      {'items': rows, 'source': info['id']})
            point = rows[-1]['ROWID']
            self.stats['rows_synced'] += len(rows)
        else:
            if broker.get_items_since(point, 1):
                # more than max_diffs batches behind: go on next pass
                broker.merge_syncs([{'remote_id': rinfo['id'],
                                     'sync_point': point}], incoming=False)
                return False
        broker.merge_syncs([{'remote_id': rinfo['id'],
                             'sync_point': point}], incoming=False)
        return True

    def push_db(self, broker, info, node, part, name_hash):
        """Send a whole snapshot to a peer that has no replica."""
        tmp_dir = os.path.join(os.path.dirname(broker.db_file), '..', '..',
                               '..', '..', 'tmp')
        tmp_dir = os.path.normpath(tmp_dir)
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = os.path.join(tmp_dir, 'dbsnap-%s.db' % uuid.uuid4().hex)
        try:
            snapshot_db(broker.db_file, tmp)
            # max_row of the snapshot (rows may have landed since `info`)
            snap = self.broker_class(tmp, fsync=False)
            try:
                max_row = snap.get_max_row()
            finally:
                snap.close()
            result = self._rpc(node, part, name_hash, 'push_db',
                               headers={'X-Backend-Source-Id': info['id']},
                               file_path=tmp)
        except sqlite3.DatabaseError as err:
            raise ReplicationError('cannot snapshot %s: %s'
                                   % (broker.db_file, err))
        finally:
            for name in (tmp, tmp + '-wal', tmp + '-shm', tmp + '-journal'):
                try:
                    os.unlink(name)
                except OSError:
                    pass
        if result is None:
            raise ReplicationError('push_db answered 404')
        self.stats['db_pushes'] += 1
        if result.get('id'):
            # the copy holds our rows with our ROWIDs: both directions are
            # synced up to max_row
            broker.merge_syncs([{'remote_id': result['id'],
                                 'sync_point': max_row}], incoming=False)
            broker.merge_syncs([{'remote_id': result['id'],
                                 'sync_point': max_row}], incoming=True)
        return True


class ContainerReplicator(DbReplicator):
    name = 'container-replicator'
    server_type = 'container'


class AccountReplicator(DbReplicator):
    name = 'account-replicator'
    server_type = 'account'
