"""Updater: deliver the container updates object servers could not.

An object PUT/DELETE whose container replica was down leaves an async
pending (format in objproxy.storage.object_updates).  Each pass sends every
pending record to the container replicas it still lists, over one pooled
connection per container node, oldest change first; a record is removed
once every replica accepted it, or rewritten with only the replicas that
still failed, so a flapping replica is not sent the same row twice.
"""
import json
import os
import time
import uuid

from objproxy.common.backend_http import ConnectionPool
from objproxy.common.config import get_float
from objproxy.daemons.daemon import Daemon, RateLimiter
from objproxy.storage import object_updates
from objproxy.storage.object_updates import (
    load_async_pending, record_targets, send_update)


class ObjectUpdater(Daemon):
    name = 'object-updater'
    recon_file = 'object.recon'
    recon_key = 'object_updater'

    def __init__(self, conf, logger=None):
        super().__init__(conf, logger)
        self.updates_per_second = get_float(
            conf, 'objects_per_second', 50, self.name, minimum=0)
        self.node_timeout = get_float(conf, 'node_timeout', 3, self.name,
                                      minimum=0.01)

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        stats = {'successes': 0, 'failures': 0, 'unlinks': 0, 'errors': 0,
                 'connections_opened': 0}
        pool = ConnectionPool()
        self.limiter = RateLimiter(self.updates_per_second)
        try:
            for device in self.local_device_names(devices):
                self.update_device(pool, os.path.join(self.devices_root,
                                                      device), stats)
        finally:
            stats['connections_opened'] = pool.opened
            pool.close_all()
        stats['elapsed'] = round(time.time() - begin, 3)
        return stats

    def update_device(self, pool, device_path, stats):
        root = os.path.join(device_path, object_updates.ASYNC_DIR)
        for suffix in _listdir(root):
            suffix_dir = os.path.join(root, suffix)
            # file names end in the timestamp: oldest change first
            names = _listdir(suffix_dir)
            names.sort(key=lambda n: n.rpartition('-')[2])
            for name in names:
                if name.endswith('.tmp'):
                    continue
                self.limiter.add()
                self.process(pool, os.path.join(suffix_dir, name), stats)
            try:
                os.rmdir(suffix_dir)
            except OSError:
                pass

    def process(self, pool, path, stats):
        try:
            record = load_async_pending(path)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            stats['errors'] += 1
            self.logger.error('unreadable async pending %s: %s', path, err)
            return
        try:
            op = record['op']
            partition = record['container_partition']
            names = (record['account'], record['container'], record['obj'])
            headers = dict(record.get('headers') or {})
        except KeyError as err:
            stats['errors'] += 1
            self.logger.error('async pending %s lacks %s', path, err)
            return
        headers.setdefault('X-Backend-Layer', 'container')
        failed = []
        for host, device in record_targets(record):
            if send_update(pool, host, device, partition, op, names[0],
                           names[1], names[2], headers, self.conn_timeout,
                           self.node_timeout):
                stats['successes'] += 1
            else:
                stats['failures'] += 1
                failed.append((host, device))
        if not failed:
            try:
                os.unlink(path)
                stats['unlinks'] += 1
            except FileNotFoundError:
                pass
            return
        if len(failed) < len(record_targets(record)):
            record = dict(record)
            record['container_host'] = ','.join(h for h, _ in failed)
            record['container_device'] = ','.join(d for _, d in failed)
            self._rewrite(path, record)

    def _rewrite(self, path, record):
        tmp = '%s.%s.tmp' % (path, uuid.uuid4().hex)
        with open(tmp, 'wb') as fp:
            fp.write(json.dumps(record, sort_keys=True).encode('utf-8'))
            fp.flush()
            if self.fsync:
                os.fsync(fp.fileno())
        os.replace(tmp, path)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
