"""Telling the container replicas about an object PUT/DELETE.

A container listing is only as good as these updates, and a container
replica may be down or slow when an object changes.  So the object server
sends the update to every container replica the proxy named (concurrently,
each bounded by ``node_timeout``), waits at most ``container_update_timeout``
for them, and whatever could not be delivered is saved on the object's
device as an *async pending* for the updater daemon to retry.

Async pending format (version 1): one file per object change at
``<device>/async_pending/<suffix>/<hash>-<timestamp>`` (``<suffix>`` the
last three hex digits of ``<hash>`` = hash_path(a, c, o), ``<timestamp>``
the X-Timestamp of the change, ``Timestamp.internal``) holding one JSON
object::

    {"version": 1,
     "op": "PUT" | "DELETE",
     "account": "AUTH_test", "container": "c", "obj": "o",
     "headers": {"X-Timestamp": ..., "X-Size": ..., "X-Content-Type": ...,
                 "X-Etag": ..., "X-Trans-Id": ..., "X-Backend-Layer":
                 "container"},       # exactly what to send
     "container_partition": "17",
     "container_host": "127.0.0.1:6011,127.0.0.1:6021",
     "container_device": "sdb1,sdc1"}

``container_host``/``container_device`` list (comma-separated, pairwise,
like the X-Container-Host/-Device request headers) only the replicas that
still need the update; the updater sends ``op`` to
``/<device>/<partition>/<account>/<container>/<obj>`` on each with
``headers``, and deletes the file once all succeeded (or rewrites it with
the ones left).  Files are written to ``<device>/tmp`` and renamed into
place, so a reader never sees half a record.
"""
import json
import os
import uuid

import eventlet

from objproxy.common.backend_http import ConnectionPool, request
from objproxy.common.response import is_success
from objproxy.common.timestamp import Timestamp

ASYNC_DIR = 'async_pending'
VERSION = 1


def async_pending_path(device_path, name_hash, timestamp):
    return os.path.join(device_path, ASYNC_DIR, name_hash[-3:],
                        '%s-%s' % (name_hash, Timestamp(timestamp).internal))


def load_async_pending(path):
    with open(path, 'rb') as fp:
        record = json.loads(fp.read().decode('utf-8'))
    if not isinstance(record, dict) or record.get('version') != VERSION:
        raise ValueError('not an async pending record: %s' % path)
    return record


def record_targets(record):
    """[(host, device)] of a record; the partition is record's."""
    hosts = [h for h in record.get('container_host', '').split(',') if h]
    devices = [d for d in record.get('container_device', '').split(',') if d]
    return list(zip(hosts, devices))


def write_async_pending(device_path, name_hash, timestamp, record,
                        fsync=True):
    """Save (or merge into) the async pending of one object change."""
    path = async_pending_path(device_path, name_hash, timestamp)
    try:
        old = load_async_pending(path)
    except (OSError, ValueError):
        old = None
    if old is not None:
        targets = record_targets(old)
        for pair in record_targets(record):
            if pair not in targets:
                targets.append(pair)
        record = dict(record)
        record['container_host'] = ','.join(h for h, _ in targets)
        record['container_device'] = ','.join(d for _, d in targets)
    record = dict(record, version=VERSION)
    tmp_dir = os.path.join(device_path, 'tmp')
    os.makedirs(tmp_dir, exist_ok=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(tmp_dir, 'async-%s.tmp' % uuid.uuid4().hex)
    try:
        with open(tmp, 'wb') as fp:
            fp.write(json.dumps(record, sort_keys=True).encode('utf-8'))
            fp.flush()
            if fsync:
                os.fsync(fp.fileno())
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def parse_update_targets(env):
    """[(host, device)], partition from X-Container-* headers.

    Returns ([], None) when no update was asked for; raises ValueError when
    the headers disagree (different counts).
    """
    hosts = [h.strip() for h in
             env.get('HTTP_X_CONTAINER_HOST', '').split(',') if h.strip()]
    devices = [d.strip() for d in
               env.get('HTTP_X_CONTAINER_DEVICE', '').split(',')
               if d.strip()]
    partition = env.get('HTTP_X_CONTAINER_PARTITION', '').strip()
    if not hosts and not devices:
        return [], None
    if len(hosts) != len(devices) or not partition:
        raise ValueError('X-Container-Host/-Device/-Partition disagree')
    return list(zip(hosts, devices)), partition


def send_update(pool, host, device, partition, op, account, container, obj,
                headers, conn_timeout=0.5, node_timeout=3):
    """Deliver one update; True on a 2xx answer."""
    ip, _, port = host.rpartition(':')
    if not ip or not port.isdigit():
        return False
    ip = ip.strip('[]')
    path = '/%s/%s/%s/%s/%s' % (device, partition, account, container, obj)
    try:
        with eventlet.Timeout(conn_timeout + node_timeout):
            status, _headers, _body = request(
                pool, {'ip': ip, 'port': int(port)}, op, path, headers,
                conn_timeout=conn_timeout, node_timeout=node_timeout)
    except (Exception, eventlet.Timeout):
        return False
    return is_success(status)


class ContainerNotifier(object):
    """Sends container updates for one object server (shared pool)."""

    def __init__(self, conn_timeout=0.5, node_timeout=3,
                 update_timeout=1.0, fsync=True, logger=None):
        self.pool = ConnectionPool()
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.update_timeout = update_timeout
        self.fsync = fsync
        self.logger = logger

    def _deliver(self, device_path, name_hash, timestamp, op, account,
                 container, obj, headers, targets, partition):
        pile = eventlet.GreenPile(len(targets))
        for host, device in targets:
            pile.spawn(send_update, self.pool, host, device, partition, op,
                       account, container, obj, headers, self.conn_timeout,
                       self.node_timeout)
        failed = [t for t, ok in zip(targets, pile) if not ok]
        if not failed:
            return []
        record = {'op': op, 'account': account, 'container': container,
                  'obj': obj, 'headers': headers,
                  'container_partition': str(partition),
                  'container_host': ','.join(h for h, _ in failed),
                  'container_device': ','.join(d for _, d in failed)}
        try:
            write_async_pending(device_path, name_hash, timestamp, record,
                                self.fsync)
        except OSError as err:
            if self.logger:
                self.logger.error('cannot save async pending for %s/%s/%s:'
                                  ' %s', account, container, obj, err)
        return failed

    def update(self, device_path, name_hash, timestamp, op, account,
               container, obj, headers, targets, partition):
        """Send, waiting at most update_timeout; the rest goes on in the
        background (and ends as an async pending if it fails)."""
        if not targets:
            return None
        headers = dict(headers)
        headers['X-Backend-Layer'] = 'container'
        headers['X-Timestamp'] = Timestamp(timestamp).internal
        gt = eventlet.spawn(self._deliver, device_path, name_hash,
                            timestamp, op, account, container, obj, headers,
                            targets, partition)
        with eventlet.Timeout(self.update_timeout, False):
            return gt.wait()
        return None
