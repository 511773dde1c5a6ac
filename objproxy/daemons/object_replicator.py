"""Object replicator: make every primary hold the newest state of every
object, with as few requests and connections as possible.

A pass walks this node's object partitions in chunks (``batch_size``).  For
a chunk it reads the local suffix hashes, then talks to each peer over ONE
pooled keep-alive connection for the whole pass:

1. one batched ``hashes`` request covering every partition of the chunk
   that the peer is a primary for (see object_replication_server);
2. for partitions whose suffixes differ, a ``list`` of those suffixes on
   the peer, so only files the peer lacks or holds older go;
3. a ``push`` of those files, byte for byte (newer ``.data``, tombstones
   and ``.meta`` alike), then a ``hashes`` request with the pushed
   suffixes to recalculate, confirming the peer now matches.

Each node pushes what it has newer, so once every node has made one pass
every primary has the newest state.  A handoff partition (this device is
not a primary for it) is pushed to every primary and removed once all of
them confirmed; a concurrent write to it between the check and the removal
is noticed (the hashes changed) and the partition is kept for next pass.
Tombstones older than ``reclaim_age`` go when their suffix is rehashed.
"""
import json
import os
import shutil
import struct
import time

import eventlet

from objproxy.common.backend_http import ConnectionPool
from objproxy.common.config import get_int
from objproxy.daemons.daemon import Daemon
from objproxy.daemons.local_devs import (
    list_partitions, local_ring_devs, same_dev)
from objproxy.storage.hashdir import gather_ondisk_files
from objproxy.storage.layout import DATADIR, DEFAULT_RECLAIM_AGE
from objproxy.storage.suffix_hashes import get_hashes, invalidate_hash
from objproxy.storage.object_replication_server import (
    list_suffix, read_hashes)

RECORD_HEADER = struct.Struct('>I')
CHUNK = 65536
# stop adding files to one push request past this many bytes / files
PUSH_MAX_BYTES = 8 * 1024 * 1024
PUSH_MAX_FILES = 256


class ReplicationError(Exception):
    pass


class PeerSession(object):
    """One peer device reached over one pooled connection for a pass."""

    def __init__(self, pool, node, conn_timeout, node_timeout):
        self.pool = pool
        self.node = node
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.failed = False

    def _request(self, op, path, body, extra_length=0, body_iter=None):
        conn = self.pool.get(self.node['ip'], self.node['port'],
                             self.conn_timeout, self.node_timeout)
        try:
            headers = {'X-Backend-Replicate-Batch': 'true',
                       'X-Backend-Layer': 'object',
                       'X-Backend-Replicate-Op': op,
                       'Content-Length': str(len(body) + extra_length)}
            conn.begin_request('REPLICATE', path, headers)
            if body:
                conn.sock.sendall(body)
            for piece in body_iter or ():
                conn.sock.sendall(piece)
            resp = conn.getresponse()
            data = resp.read()
            conn.release(resp)
        except BaseException:
            conn.close()
            raise
        if resp.status != 200:
            raise ReplicationError('%s %s:%s%s -> %d %s' % (
                op, self.node['ip'], self.node['port'], path, resp.status,
                data[:200]))
        return json.loads(data)

    def hashes(self, partitions, recalculate=None):
        body = json.dumps({'partitions': list(partitions),
                           'recalculate': recalculate or {}}).encode()
        return self._request('hashes', '/%s' % self.node['device'], body)

    def list(self, wanted):
        """``wanted``: {part: [suffixes]} -> {"part": {suffix: {hash:
        [files]}}}."""
        body = json.dumps({'partitions': dict(
            (str(p), sorted(s)) for p, s in wanted.items())}).encode()
        return self._request('list', '/%s' % self.node['device'], body)

    def push(self, files):
        """``files``: [(record name, path)]; the files are opened first so
        the Content-Length is exact even if one vanishes meanwhile."""
        opened = []
        try:
            for name, path in files:
                try:
                    fp = open(path, 'rb')
                except FileNotFoundError:
                    continue  # replaced by a newer write; next pass
                size = os.fstat(fp.fileno()).st_size
                head = json.dumps({'name': name, 'size': size}).encode()
                opened.append((RECORD_HEADER.pack(len(head)) + head, fp,
                               size))
            if not opened:
                return {'stored': 0, 'existing': 0, 'rejected': []}
            total = sum(len(h) + s for h, _fp, s in opened)
            return self._request('push', '/%s' % self.node['device'],
                                 b'', total, _stream_records(opened))
        finally:
            for _h, fp, _s in opened:
                fp.close()


def _stream_records(opened):
    for head, fp, size in opened:
        yield head
        left = size
        while left > 0:
            data = fp.read(min(CHUNK, left))
            if not data:
                # the file shrank under us: pad so framing stays intact;
                # the receiver's trailer check rejects the record
                data = b'\0' * min(CHUNK, left)
            left -= len(data)
            yield data


def files_to_push(local, remote):
    """Record names of local files the peer lacks and would keep.

    ``local``/``remote``: {hash: [file names]} of one suffix.  A file goes
    only if, merged with what the peer has, it is still current (so an
    older ``.data`` is not sent to a peer holding a newer tombstone).
    """
    names = []
    for name_hash, files in local.items():
        theirs = set(remote.get(name_hash, ()))
        missing = [f for f in files if f not in theirs]
        if not missing:
            continue
        merged = gather_ondisk_files(list(theirs) + missing)
        keep = set(f for f in (merged['data'], merged['ts'],
                               merged['meta']) if f)
        names.extend((name_hash, f) for f in missing if f in keep)
    return names


class ObjectReplicator(Daemon):
    name = 'object-replicator'
    recon_file = 'object.recon'
    recon_key = 'object_replication'

    def __init__(self, conf, logger=None):
        super().__init__(conf, logger)
        self.reclaim_age = get_int(conf, 'reclaim_age',
                                   DEFAULT_RECLAIM_AGE,
                                   self.name, minimum=1)
        self.batch_size = get_int(conf, 'batch_size', 1024, self.name,
                                  minimum=1)
        # peers are synced in parallel, each on its own connection
        self.concurrency = get_int(conf, 'concurrency', 4, self.name,
                                   minimum=1)
        self.handoff_delete = True
        self.pool = None
        self.stats = None

    def new_stats(self):
        return {'partitions_checked': 0, 'suffixes_synced': 0,
                'objects_pushed': 0, 'failures': 0, 'handoffs_removed': 0,
                'handoffs_kept': 0, 'connections_opened': 0,
                'elapsed': 0.0, 'partitions_per_second': 0.0}

    def load_ring(self):
        return self.read_ring('object')

    # -- a pass ------------------------------------------------------------
    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        self.stats = stats = self.new_stats()
        ring = self.load_ring()
        self.pool = ConnectionPool(max_idle=max(4, self.concurrency))
        names = self.local_device_names(devices)
        mine = local_ring_devs(ring, self.conf, names)
        try:
            for device in names:
                dev = mine.get(device)
                if dev is None:
                    self.logger.warning('device %s is not in the object '
                                        'ring for this node; skipped',
                                        device)
                    continue
                self.replicate_device(ring, dev, partitions)
        finally:
            stats['connections_opened'] = self.pool.opened
            self.pool.close_all()
        stats['elapsed'] = round(time.time() - begin, 3)
        stats['partitions_per_second'] = round(
            stats['partitions_checked'] / max(stats['elapsed'], 1e-6), 1)
        return stats

    def replicate_device(self, ring, dev, only_parts=None):
        device_path = os.path.join(self.devices_root, dev['device'])
        datadir = os.path.join(device_path, DATADIR)
        parts = sorted(list_partitions(datadir, only_parts))
        total = len(parts)
        last_log = time.time()
        for start in range(0, total, self.batch_size):
            self.replicate_chunk(ring, dev, device_path,
                                 parts[start:start + self.batch_size])
            self.tick(dev['device'], min(start + self.batch_size, total),
                      total)
            if time.time() - last_log > 30:
                last_log = time.time()
                self.logger.info('%s: %d/%d partitions checked',
                                 dev['device'], start + self.batch_size,
                                 total)

    def replicate_chunk(self, ring, dev, device_path, parts):
        # jobs: part -> (is_handoff, [peer nodes])
        jobs = {}
        for part in parts:
            primaries = ring.get_part_nodes(part)
            is_handoff = not any(same_dev(dev, n) for n in primaries)
            peers = [n for n in primaries if not same_dev(dev, n)]
            jobs[part] = (is_handoff, peers)
        local = {}
        for part in parts:
            try:
                local[part] = read_hashes(device_path, part,
                                          reclaim_age=self.reclaim_age)
            except Exception as err:
                self.stats['failures'] += 1
                self.logger.error('cannot hash %s/%s: %s', device_path,
                                  part, err)
        # group partitions by peer device; one green thread per peer
        by_peer = {}
        peer_nodes = {}
        for part, (is_handoff, peers) in jobs.items():
            if part not in local:
                continue
            for node in peers:
                key = (node['ip'], int(node['port']), node['device'])
                peer_nodes[key] = node
                by_peer.setdefault(key, []).append(part)
        results = {}  # (part, key) -> True when the peer has all we have
        pool = eventlet.GreenPool(max(1, min(self.concurrency,
                                             len(by_peer) or 1)))
        for key, peer_parts in by_peer.items():
            session = PeerSession(self.pool, peer_nodes[key],
                                  self.conn_timeout, self.node_timeout)
            pool.spawn_n(self.sync_with_peer, session, device_path,
                         peer_parts, local, results, key)
        pool.waitall()
        for part in parts:
            if part not in local:
                continue
            self.stats['partitions_checked'] += 1
            is_handoff, peers = jobs[part]
            if not is_handoff:
                continue
            confirmed = all(results.get((part, (n['ip'], int(n['port']),
                                                n['device'])))
                            for n in peers)
            if confirmed and peers and self.handoff_delete:
                self.remove_handoff(device_path, part, local[part])
            else:
                self.stats['handoffs_kept'] += 1

    def sync_with_peer(self, session, device_path, parts, local, results,
                       key):
        """Bring one peer up to date for ``parts``: one ``hashes``, one
        ``list`` per ``batch_size`` differing partitions and as few
        ``push`` requests as the data needs, all on one connection."""
        differ = {}
        try:
            remote_all = session.hashes(parts)
            for part in parts:
                mine = local[part]
                theirs = remote_all.get(str(part)) or {}
                suffixes = [s for s, h in mine.items()
                            if theirs.get(s) != h]
                if suffixes:
                    differ[part] = suffixes
                else:
                    results[(part, key)] = True
            if differ:
                self.sync_suffixes(session, device_path, differ, results,
                                   key)
        except Exception as err:
            for part in differ:
                results[(part, key)] = False
            self.stats['failures'] += 1
            self.logger.warning('sync of %s with %s:%s/%s failed: %s',
                                device_path, key[0], key[1], key[2], err)

    def sync_suffixes(self, session, device_path, differ, results, key):
        """Push what the peer lacks in the differing suffixes; a partition
        is confirmed when every file it needed was accepted."""
        remote = session.list(differ)
        datadir = os.path.join(device_path, DATADIR)
        batch = []
        batch_bytes = 0
        for part, suffixes in sorted(differ.items()):
            theirs = remote.get(str(part)) or {}
            results[(part, key)] = True
            for suffix in suffixes:
                mine = list_suffix(device_path, part, suffix)
                for name_hash, filename in files_to_push(
                        mine, theirs.get(suffix) or {}):
                    rel = '%d/%s/%s/%s' % (part, suffix, name_hash, filename)
                    path = os.path.join(datadir, rel)
                    batch.append((rel, path))
                    try:
                        batch_bytes += os.path.getsize(path)
                    except OSError:
                        pass
                    if len(batch) >= PUSH_MAX_FILES or \
                            batch_bytes >= PUSH_MAX_BYTES:
                        self._push(session, batch, results, key)
                        batch, batch_bytes = [], 0
            self.stats['suffixes_synced'] += len(suffixes)
        if batch:
            self._push(session, batch, results, key)

    def _push(self, session, batch, results, key):
        result = session.push(batch)
        self.stats['objects_pushed'] += result.get('stored', 0)
        rejected = result.get('rejected') or []
        if rejected:
            self.stats['failures'] += len(rejected)
            self.logger.error('peer %s:%s rejected %s', session.node['ip'],
                              session.node['port'], rejected[:5])
            for name in rejected:
                results[(int(name.split('/', 1)[0]), key)] = False

    def remove_handoff(self, device_path, part, synced_hashes):
        """Delete a handoff partition all primaries confirmed, unless it
        changed since (a write landed here meanwhile)."""
        part_dir = os.path.join(device_path, DATADIR, str(part))
        now = get_hashes(device_path, part,
                         reclaim_age=self.reclaim_age)
        if now != synced_hashes:
            self.stats['handoffs_kept'] += 1
            return False
        for suffix in synced_hashes:
            shutil.rmtree(os.path.join(part_dir, suffix), ignore_errors=True)
        leftovers = [n for n in _listdir(part_dir) if len(n) == 3]
        if leftovers:
            # a suffix appeared after the check: keep the partition
            invalidate_hash(os.path.join(part_dir, leftovers[0]))
            self.stats['handoffs_kept'] += 1
            return False
        shutil.rmtree(part_dir, ignore_errors=True)
        self.stats['handoffs_removed'] += 1
        return True


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []
