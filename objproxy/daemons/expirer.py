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
The entry is dropped once the answer is final: 204 (deleted), 404 (already
gone), 412 (the expiry was changed or removed: a newer entry, if any, does
the work) or 409 (a newer write replaced the object).  Anything else keeps
it for the next pass, so every expiry is carried out at least once.
"""
import os
import time

from objproxy.common.backend_http import ConnectionPool, request
from objproxy.common.config import get_float
from objproxy.common.hashing import load_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.daemons.daemon import Daemon, RateLimiter
from objproxy.ring.ring import Ring
from objproxy.storage import expiry_queue

# answers after which the entry has nothing left to do
FINAL = {204: 'expired', 404: 'already_gone', 409: 'superseded',
         412: 'superseded'}


class ObjectExpirer(Daemon):
    name = 'object-expirer'
    recon_file = 'object.recon'
    recon_key = 'object_expirer'

    def __init__(self, conf, logger=None, container_ring=None):
        super().__init__(conf, logger)
        self.objects_per_second = get_float(
            conf, 'objects_per_second', 50, self.name, minimum=0)
        self.node = {'ip': conf.get('bind_ip', '127.0.0.1'),
                     'port': int(conf.get('bind_port', 6200))}
        if self.node['ip'] in ('0.0.0.0', '::'):
            self.node['ip'] = '127.0.0.1'
        self._container_ring = container_ring

    @property
    def container_ring(self):
        if self._container_ring is None:
            load_hash_config(self.objproxy_dir)
            self._container_ring = Ring(self.objproxy_dir,
                                        ring_name='container')
        return self._container_ring

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        stats = {'expired': 0, 'already_gone': 0, 'superseded': 0,
                 'failures': 0, 'errors': 0}
        pool = ConnectionPool()
        limiter = RateLimiter(self.objects_per_second)
        try:
            for device in self.local_device_names(devices):
                device_path = os.path.join(self.devices_root, device)
                for entry in expiry_queue.due_entries(
                        device_path, begin, self._unreadable(stats)):
                    if partitions and int(entry.partition) not in partitions:
                        continue
                    limiter.add()
                    self.expire(pool, device, entry, stats)
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

    def expire(self, pool, device, entry, stats):
        # raw: the connection percent-encodes the request line itself
        path = '/'.join(('', device, str(entry.partition), entry.account,
                         entry.container, entry.obj))
        try:
            status = request(pool, self.node, 'DELETE', path,
                             self.delete_headers(entry),
                             conn_timeout=self.conn_timeout,
                             node_timeout=self.node_timeout)[0]
        except Exception as err:
            stats['failures'] += 1
            self.logger.warning('expiring %s/%s/%s failed: %s',
                                entry.account, entry.container, entry.obj,
                                err)
            return
        outcome = FINAL.get(status)
        if outcome is None:
            stats['failures'] += 1
            self.logger.warning('expiring %s/%s/%s: object server answered '
                                '%s; retried next pass', entry.account,
                                entry.container, entry.obj, status)
            return
        stats[outcome] += 1
        entry.remove()
