"""Expirer: delete this node's replicas of objects past their X-Delete-At.

Each node runs one.  A pass walks the due entries of the expiry queue on
every local device (objproxy.storage.expiry_queue) and asks the node's own
object server to delete that replica::

    DELETE /<device>/<partition>/<account>/<container>/<object>
    X-Timestamp: <delete_at>         every replica writes the same tombstone
    X-If-Delete-At: <delete_at>      only the expiry the entry was queued for
    X-Container-Host/-Device/-Partition: every container replica

Going through the object server keeps one DELETE code path (the tombstone,
the container update, async pendings when a container replica is down).

A stale replica must not apply an old expiry: a node that was down while
a POST removed or moved the expiry (or a PUT replaced the object) still
holds the old metadata and the old entry, and its tombstone, stamped with
the old expiry time, would be newer than that POST and replicate over
every replica.  So before the DELETE the expirer asks the object's other
primaries, in parallel, for their state (``HEAD`` with
``X-Backend-Replication``, which also answers for an expired object).  If
one of them holds a state newer than the one that queued the entry, with
another X-Delete-At (or none), the entry is dropped without a delete: that
newer state reaches this node by replication.  A peer that does not answer
does not hold the expiry back (every expiry is carried out at least once,
also during outages): a stale replica whose every peer is unreachable
still expires.  A peer that failed to connect is not asked again for
``PEER_RETRY`` seconds, so an outage costs one timeout, not one per entry.

The entry is dropped once the answer is final: 204 (deleted), 404 (already
gone), 412 (the expiry was changed or removed: a newer entry, if any, does
the work) or 409 (a newer write replaced the object).  Anything else keeps
it for the next pass.  Up to ``concurrency`` entries are worked on at once.
"""
import os
import time

import eventlet

from objproxy.common.backend_http import ConnectionPool, request
from objproxy.common.config import get_float, get_int
from objproxy.common.timestamp import Timestamp
from objproxy.daemons.daemon import Daemon, RateLimiter
from objproxy.daemons.local_devs import local_ring_devs, same_dev
from objproxy.storage import expiry_queue

# answers after which the entry has nothing left to do
FINAL = {204: 'expired', 404: 'already_gone', 409: 'superseded',
         412: 'superseded'}
# seconds a peer that could not be reached is left out of the checks
PEER_RETRY = 60


class ObjectExpirer(Daemon):
    name = 'object-expirer'
    recon_file = 'object.recon'
    recon_key = 'object_expirer'

    def __init__(self, conf, logger=None, container_ring=None,
                 object_ring=None):
        super().__init__(conf, logger)
        self.objects_per_second = get_float(
            conf, 'objects_per_second', 50, self.name, minimum=0)
        self.concurrency = get_int(conf, 'concurrency', 4, self.name,
                                   minimum=1)
        self.node = {'ip': conf.get('bind_ip', '127.0.0.1'),
                     'port': int(conf.get('bind_port', 6200))}
        if self.node['ip'] in ('0.0.0.0', '::'):
            self.node['ip'] = '127.0.0.1'
        self._container_ring = container_ring
        self._object_ring = object_ring
        self.unreachable = {}   # (ip, port) -> when it last failed

    @property
    def container_ring(self):
        if self._container_ring is None:
            self._container_ring = self.read_ring('container')
        return self._container_ring

    @property
    def object_ring(self):
        if self._object_ring is None:
            self._object_ring = self.read_ring('object')
        return self._object_ring

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        stats = {'expired': 0, 'already_gone': 0, 'superseded': 0,
                 'newer_elsewhere': 0, 'failures': 0, 'errors': 0}
        pool = ConnectionPool()
        limiter = RateLimiter(self.objects_per_second)
        workers = eventlet.GreenPool(self.concurrency)
        names = self.local_device_names(devices)
        try:
            mine = local_ring_devs(self.object_ring, self.conf, names)
            for device in names:
                device_path = os.path.join(self.devices_root, device)
                for entry in expiry_queue.due_entries(
                        device_path, begin, self._unreadable(stats)):
                    if partitions and int(entry.partition) not in partitions:
                        continue
                    limiter.add()
                    workers.spawn_n(self.expire, pool, device,
                                    mine.get(device), entry, stats)
            workers.waitall()
        finally:
            pool.close_all()
        stats['elapsed'] = round(time.time() - begin, 3)
        return stats

    def _unreadable(self, stats):
        def on_error(path, err):
            stats['errors'] += 1
            self.logger.error('unreadable expiry entry %s: %s', path, err)
        return on_error

    def delete_headers(self, entry):
        cpart, cnodes = self.container_ring.get_nodes(entry.account,
                                                      entry.container)
        return {
            'X-Timestamp': Timestamp(entry.delete_at).internal,
            'X-If-Delete-At': str(entry.delete_at),
            'X-Container-Host': ','.join(
                '%s:%s' % (n['ip'], n['port']) for n in cnodes),
            'X-Container-Device': ','.join(n['device'] for n in cnodes),
            'X-Container-Partition': str(cpart),
            'X-Trans-Id': 'expirer-%d' % entry.delete_at,
        }

    def expire(self, pool, device, local_dev, entry, stats):
        try:
            if self.newer_elsewhere(pool, device, local_dev, entry):
                stats['newer_elsewhere'] += 1
                self.logger.info(
                    'not expiring %s/%s/%s at %d: another replica holds a '
                    'newer state without this expiry', entry.account,
                    entry.container, entry.obj, entry.delete_at)
                entry.remove()
                return
        except Exception:
            stats['failures'] += 1
            self.logger.exception('checking %s/%s/%s failed', entry.account,
                                  entry.container, entry.obj)
            return
        status = self.delete_local(pool, device, entry, stats)
        outcome = FINAL.get(status)
        if outcome is None:
            if status is not None:
                stats['failures'] += 1
                self.logger.warning(
                    'expiring %s/%s/%s: object server answered %s; retried '
                    'next pass', entry.account, entry.container, entry.obj,
                    status)
            return
        stats[outcome] += 1
        entry.remove()

    def delete_local(self, pool, device, entry, stats):
        # raw: the connection percent-encodes the request line itself
        path = '/'.join(('', device, str(entry.partition), entry.account,
                         entry.container, entry.obj))
        try:
            return request(pool, self.node, 'DELETE', path,
                           self.delete_headers(entry),
                           conn_timeout=self.conn_timeout,
                           node_timeout=self.node_timeout)[0]
        except Exception as err:
            stats['failures'] += 1
            self.logger.warning('expiring %s/%s/%s failed: %s',
                                entry.account, entry.container, entry.obj,
                                err)
            return None

    # -- the other replicas ------------------------------------------------
    def newer_elsewhere(self, pool, device, local_dev, entry):
        """Does a reachable primary hold a state newer than the one that
        queued ``entry``, with another X-Delete-At?"""
        part, nodes = self.object_ring.get_nodes(entry.account,
                                                 entry.container, entry.obj)
        peers = [n for n in nodes
                 if local_dev is None or not same_dev(local_dev, n)]
        queued_at = entry.timestamp
        pile = eventlet.GreenPile(len(peers) + 1)
        if queued_at is None:
            # an entry from before timestamps were recorded: this
            # replica's own state is the reference
            pile.spawn(self.replica_state, pool,
                       dict(self.node, device=device), entry.partition,
                       entry)
        for node in peers:
            pile.spawn(self.replica_state, pool, node, part, entry)
        states = list(pile)
        if queued_at is None:
            queued_at = states.pop(0)[0]
            if queued_at is None:
                return False    # nothing to compare with: the DELETE says
        expired_at = Timestamp(entry.delete_at)
        for stamp, delete_at, deleted in states:
            if stamp is None or stamp <= queued_at or \
                    delete_at == entry.delete_at:
                continue
            if deleted and stamp == expired_at:
                continue        # that replica carried out this very expiry
            return True
        return False

    def replica_state(self, pool, node, part, entry):
        """(newest timestamp, X-Delete-At, is a tombstone) of a replica;
        timestamp None when it holds nothing or could not say."""
        key = (node['ip'], int(node['port']))
        failed = self.unreachable.get(key)
        if failed is not None and time.time() - failed < PEER_RETRY:
            return None, None, False
        path = '/'.join(('', node['device'], str(part), entry.account,
                         entry.container, entry.obj))
        try:
            status, headers, _body = request(
                pool, node, 'HEAD', path,
                {'X-Backend-Replication': 'true',
                 'X-Trans-Id': 'expirer-%d' % entry.delete_at},
                conn_timeout=self.conn_timeout,
                node_timeout=self.node_timeout)
        except Exception as err:
            self.unreachable[key] = time.time()
            self.logger.warning('replica %s:%s/%s unreachable (%s): not '
                                'checked for %ds', key[0], key[1],
                                node['device'], err, PEER_RETRY)
            return None, None, False
        self.unreachable.pop(key, None)
        if status not in (200, 404):
            return None, None, False
        try:
            stamp = Timestamp(headers['x-backend-timestamp'])
        except (KeyError, ValueError, TypeError, OverflowError):
            return None, None, False
        try:
            delete_at = int(headers.get('x-delete-at') or 0) or None
        except ValueError:
            delete_at = None
        return stamp, delete_at, status == 404
