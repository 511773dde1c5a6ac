"""The receiving side of container/account database replication.

A database replica changes row by row and every row carries its timestamp,
so two replicas converge by exchanging the rows the other has not seen:
the ROWID order is the change log and each side remembers, per remote DB
id, how far it got (``incoming_sync``).  The sender drives; this app
answers ``REPLICATE /<dev>/<part>/<hash>`` (``X-Backend-Layer:
container|account``) with the operation in ``X-Backend-Replicate-Op``:

``sync``         JSON ``{"info": {...sender's replication info}}``: adopt
                 the sender's newer put/delete timestamps and metadata;
                 answer this replica's info plus ``point``, how far it has
                 the sender's rows.  404 when this node has no replica.
``merge_items``  JSON ``{"items": [rows with ROWID], "source": id}``: merge
                 rows, move the incoming sync point for ``source``.
``merge_syncs``  JSON ``{"sync_points": [{"remote_id", "sync_point"}]}``.
``push_db``      the raw bytes of a consistent SQLite snapshot (whole
                 database, for a replica that has none; no rsync needed):
                 checked, given a new id (a copy is a new replica), told
                 it has all of the sender's rows (``X-Backend-Source-Id``),
                 and moved into place, or merged row by row if a replica
                 appeared meanwhile.

Like the container and account servers, this app runs on a storage node's
eventlet hub, so it never waits for a lock or an fsync there: brokers
offload every SQLite call and wait for locks cooperatively (see
db_broker), and a database still locked after ``db_lock_timeout`` seconds
answers ``503`` with ``X-Backend-Busy: true``: the replicator retries on
its next pass, and nothing counts it against the node.
"""
import errno
import json
import os
import sqlite3
import uuid

from objproxy.common.config import get_bool, get_float
from objproxy.common.exceptions import DeviceUnavailable
from objproxy.common.hashing import hash_path, load_hash_config
from objproxy.common.offload import run_in_thread
from objproxy.common.response import JSON, Response, TEXT_PLAIN
from objproxy.storage.account_broker import AccountBroker
from objproxy.storage.container_broker import ContainerBroker
from objproxy.storage.db_connection import is_busy_error
from objproxy.storage.db_pending import LockTimeout
from objproxy.storage.dirsync import fsync_dir
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)

LAYERS = {
    'container': ('containers', ContainerBroker),
    'account': ('accounts', AccountBroker),
}
BUSY = (('X-Backend-Busy', 'true'),)
MAX_JSON_BODY = 64 * 1024 * 1024
CHUNK = 65536
MERGE_BATCH = 1000
HEX = frozenset('0123456789abcdef')


def db_path(device_path, datadir, part, name_hash):
    return os.path.join(device_path, datadir, str(part), name_hash[-3:],
                        name_hash, name_hash + '.db')


def replication_info(broker):
    """The JSON-safe fields a peer compares (see db_broker)."""
    info = broker.get_replication_info()
    keep = ('max_row', 'hash', 'id', 'created_at', 'put_timestamp',
            'delete_timestamp', 'status_changed_at', 'metadata', 'count',
            'object_count', 'container_count', 'status', 'account',
            'container')
    return dict((k, info[k]) for k in keep if k in info)


def apply_sender_info(broker, info):
    """Adopt a peer's newer DB-level timestamps and metadata."""
    broker.merge_timestamps(info.get('created_at'),
                            info.get('put_timestamp'),
                            info.get('delete_timestamp'))
    meta = info.get('metadata')
    if meta:
        try:
            raw = json.loads(meta) if isinstance(meta, str) else meta
            broker.update_metadata(dict((k, (v[0], v[1]))
                                        for k, v in raw.items()))
        except (ValueError, TypeError, AttributeError, IndexError):
            pass


def snapshot_db(db_file, target):
    """A consistent, self-contained copy of a (WAL) database at target.

    Blocking (it reads the whole database): for daemons, or offloaded."""
    src = sqlite3.connect(db_file, timeout=25)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute('PRAGMA journal_mode = DELETE')
        finally:
            dst.close()
    finally:
        src.close()


class HTTPError(Exception):
    def __init__(self, status, body=''):
        super().__init__(status)
        self.status = status
        self.body = body


class DbReplicationServer(object):
    """WSGI app answering database REPLICATE requests for one node."""

    def __init__(self, conf):
        self.devices = conf.get('devices', '/srv/node')
        self.mount_check = get_bool(conf, 'mount_check', False)
        self.fsync = get_bool(conf, 'fsync', True)
        self.lock_timeout = get_float(conf, 'db_lock_timeout', 5.0,
                                      minimum=0)
        self.offload = run_in_thread
        objproxy_dir = conf.get('objproxy_dir')
        if objproxy_dir and os.path.exists(os.path.join(objproxy_dir,
                                                        'objproxy.conf')):
            load_hash_config(objproxy_dir)

    def open_broker(self, broker_class, path, fsync=None):
        return broker_class(path, fsync=self.fsync if fsync is None
                            else fsync, timeout=self.lock_timeout,
                            pending_timeout=self.lock_timeout,
                            offload=self.offload)

    def __call__(self, env, start_response):
        busy = False
        try:
            status, body = self.handle(env)
        except HTTPError as err:
            status, body = err.status, err.body
        except InvalidPath as err:
            status, body = 400, str(err)
        except DeviceUnavailable as err:
            status, body = 507, str(err)
        except LockTimeout as err:
            status, body, busy = 503, 'database busy: %s' % err, True
        except sqlite3.DatabaseError as err:
            busy = is_busy_error(err)
            status, body = 503, 'database error: %s' % err
        return Response(status, headers=BUSY if busy else None, body=body,
                        content_type=JSON if status == 200 else TEXT_PLAIN)(
                            env, start_response)

    # -- parsing -----------------------------------------------------------
    def handle(self, env):
        if env.get('REQUEST_METHOD') != 'REPLICATE':
            raise HTTPError(405, 'only REPLICATE here')
        layer = env.get('HTTP_X_BACKEND_LAYER', '').strip().lower()
        if layer not in LAYERS:
            raise HTTPError(400, 'X-Backend-Layer must be container or '
                            'account')
        datadir, broker_class = LAYERS[layer]
        segs = env.get('PATH_INFO', '').strip('/').split('/')
        if len(segs) != 3:
            raise HTTPError(400, 'path must be /<device>/<partition>/<hash>')
        device_path = validate_device(self.devices, segs[0],
                                      self.mount_check)
        part = check_partition(segs[1])
        name_hash = segs[2]
        if len(name_hash) != 32 or not set(name_hash) <= HEX:
            raise HTTPError(400, 'bad database hash %r' % name_hash)
        path = db_path(device_path, datadir, part, name_hash)
        op = env.get('HTTP_X_BACKEND_REPLICATE_OP', '').strip()
        if op == 'push_db':
            return self.op_push_db(env, device_path, path, broker_class,
                                   name_hash)
        body = self._json_body(env)
        if not os.path.exists(path):
            raise HTTPError(404, 'no such database')
        broker = self.open_broker(broker_class, path)
        try:
            if op == 'sync':
                return 200, self.op_sync(broker, body)
            if op == 'merge_items':
                return 200, self.op_merge_items(broker, body)
            if op == 'merge_syncs':
                points = body.get('sync_points')
                if not isinstance(points, list) or not all(
                        isinstance(p, dict) and 'remote_id' in p and
                        isinstance(p.get('sync_point'), int)
                        for p in points):
                    raise HTTPError(400, 'bad sync_points')
                broker.merge_syncs(points)
                return 200, '{}'
        finally:
            broker.close()
        raise HTTPError(400, 'unknown replication op %r' % op)

    def _json_body(self, env):
        try:
            length = int(env.get('CONTENT_LENGTH') or 0)
        except ValueError:
            raise HTTPError(400, 'bad Content-Length')
        if length < 0 or length > MAX_JSON_BODY:
            raise HTTPError(400, 'body too large')
        data = env['wsgi.input'].read(length) if length else b''
        if len(data) != length:
            raise HTTPError(499, 'short body')
        try:
            body = json.loads(data or b'{}')
        except ValueError:
            raise HTTPError(400, 'body is not JSON')
        if not isinstance(body, dict):
            raise HTTPError(400, 'body must be a JSON object')
        return body

    # -- operations --------------------------------------------------------
    def op_sync(self, broker, body):
        info = body.get('info')
        if not isinstance(info, dict) or not isinstance(info.get('id'), str):
            raise HTTPError(400, 'sync needs the sender info with its id')
        apply_sender_info(broker, info)
        mine = replication_info(broker)
        mine['point'] = broker.get_sync(info['id'])
        return json.dumps(mine)

    def op_merge_items(self, broker, body):
        items = body.get('items')
        source = body.get('source')
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and isinstance(i.get('name'), str)
                for i in items):
            raise HTTPError(400, 'items must be a list of rows')
        if source is not None and not isinstance(source, str):
            raise HTTPError(400, 'bad source')
        try:
            broker.merge_items(items, source=source)
        except (KeyError, ValueError, TypeError) as err:
            raise HTTPError(400, 'bad row: %s' % err)
        return json.dumps({'max_row': broker.get_max_row()})

    def op_push_db(self, env, device_path, path, broker_class, name_hash):
        try:
            length = int(env['CONTENT_LENGTH'])
        except (KeyError, ValueError):
            raise HTTPError(411, 'push_db needs a Content-Length')
        source_id = env.get('HTTP_X_BACKEND_SOURCE_ID', '')
        tmp_dir = os.path.join(device_path, 'tmp')
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = os.path.join(tmp_dir, 'dbrepl-%s.db' % uuid.uuid4().hex)
        try:
            self._receive(env['wsgi.input'], length, tmp)
            new_id = self._adopt_copy(tmp, broker_class, name_hash,
                                      source_id)
            created = self._install(tmp, path)
            if not created:
                self._merge_copy(tmp, path, broker_class)
            return 200, json.dumps({'id': new_id, 'created': created})
        finally:
            for name in (tmp, tmp + '-wal', tmp + '-shm', tmp + '-journal'):
                try:
                    os.unlink(name)
                except OSError:
                    pass

    def _receive(self, reader, length, tmp):
        with open(tmp, 'wb') as fp:
            left = length
            while left > 0:
                data = reader.read(min(CHUNK, left))
                if not data:
                    raise HTTPError(499, 'short body')
                fp.write(data)
                left -= len(data)
            fp.flush()
            if self.fsync:
                self.offload(os.fsync, fp.fileno())

    def _adopt_copy(self, tmp, broker_class, name_hash, source_id):
        """Check the copy and make it a replica of its own; its new id."""
        probe = self.open_broker(broker_class, tmp)
        try:
            try:
                ok = probe.run_read(
                    lambda conn: conn.execute('PRAGMA quick_check')
                    .fetchall()[0])
                info = probe.get_info()
            except sqlite3.DatabaseError as err:
                if is_busy_error(err):
                    raise
                raise HTTPError(400, 'pushed database is unusable: %s' % err)
            if not ok or ok[0] != 'ok':
                raise HTTPError(400, 'pushed database failed quick_check')
            names = [info.get('account')]
            if broker_class.db_type == 'container':
                names.append(info.get('container'))
            if not all(isinstance(n, str) and n for n in names) or \
                    hash_path(*names) != name_hash:
                raise HTTPError(400, 'pushed database is not %s' % name_hash)
            new_id = str(uuid.uuid4())
            max_row = probe.get_max_row()

            def adopt(conn):
                conn.execute('UPDATE %s SET id = ?' % probe.stat_table,
                             (new_id,))
                conn.execute('DELETE FROM incoming_sync')
                conn.execute('DELETE FROM outgoing_sync')
            probe.run_write(adopt)
            if source_id:
                probe.merge_syncs([{'remote_id': source_id,
                                    'sync_point': max_row}])
        finally:
            probe.close()
        # a fresh connection: no statement of the broker's may be pending
        # when the journal mode changes
        self.offload(_to_wal, tmp)
        return new_id

    def _install(self, tmp, path):
        """Link the copy into place; False if a replica exists already."""
        if os.path.exists(path):
            return False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.link(tmp, path)
        except OSError as err:
            if err.errno == errno.EEXIST:
                return False
            raise
        if self.fsync:
            self.offload(fsync_dir, os.path.dirname(path))
        return True

    def _merge_copy(self, tmp, path, broker_class):
        copy = self.open_broker(broker_class, tmp, fsync=False)
        broker = self.open_broker(broker_class, path)
        try:
            apply_sender_info(broker, replication_info(copy))
            point = -1
            while True:
                rows = copy.get_items_since(point, MERGE_BATCH)
                if not rows:
                    break
                broker.merge_items(rows)
                point = rows[-1]['ROWID']
        finally:
            copy.close()
            broker.close()


def _to_wal(path):
    """Switch a (private, unshared) database copy to WAL mode, checkpoint
    it and drop the -wal/-shm files, so it can be linked into place."""
    conn = sqlite3.connect(path, timeout=0)
    try:
        conn.execute('PRAGMA journal_mode = WAL').fetchall()
        conn.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall()
    finally:
        conn.close()
    for ext in ('-wal', '-shm'):
        try:
            os.unlink(path + ext)
        except OSError:
            pass
