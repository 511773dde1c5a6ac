"""What the container and account servers share: request plumbing.

Both servers turn ``/device/partition/account[/container[/object]]`` into
a database file under the devices root, insist on a valid ``X-Timestamp``
for writes, carry metadata headers into the database with per-key
timestamps, and must answer bad input with a clear 4xx instead of a
traceback.  Doing that once here keeps the two servers about their own
semantics only.

Row updates (object rows on containers, container rows on accounts) only
append to the database's pending file (see db_broker); this base class
also merges what was left pending every ``db_pending_interval`` seconds,
so an idle database does not keep rows pending forever.  Options (flat
node conf): ``db_pending_cap`` (bytes, 131072; 0 merges every row at
once), ``db_pending_interval`` (seconds, 5; 0 never on a timer),
``db_threadpool`` (true: every SQLite call runs in eventlet's thread pool
so it does not stall the server's other requests), ``db_lock_timeout``
(seconds, 5: how long a request waits, cooperatively, for a database's
write lock or its pending file's lock).

A busy database fails only the request that waited for it: after
``db_lock_timeout`` the answer is ``503`` with ``X-Backend-Busy: true``
(Swift answers its LockTimeout per request too).  The proxy does not
count such an answer against the node, so a hot container can never get
the whole node error-limited.  The timeout is well below the proxy's
``node_timeout`` (10 s) so the proxy hears this answer instead of timing
out (a timeout does count against the node).
"""
import os
import sqlite3

import eventlet
from webob import Request

from objproxy.common.config import get_bool, get_float, get_int
from objproxy.common.constraints import (
    LIMITS, check_metadata, name_too_long)
from objproxy.common.exceptions import ConfigError, DeviceUnavailable
from objproxy.common.hashing import hash_path, load_hash_config
from objproxy.common.logs import get_logger
from objproxy.common.response import Response
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.offload import run_in_thread
from objproxy.common.timestamp import Timestamp
from objproxy.storage.db_broker import DatabaseAlreadyExists
from objproxy.storage.db_connection import DatabaseNotFound, is_busy_error
from objproxy.storage.db_pending import PENDING_CAP, LockTimeout
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)
from objproxy.storage.listing import ListingError


DEFAULT_LOCK_TIMEOUT = 5.0
# the header that tells the proxy "this request failed, the node is fine"
BUSY_HEADER = 'X-Backend-Busy'


def busy_response(body='Database busy'):
    """503 for one request that found its database (or pending file)
    locked for too long."""
    return plain_response(503, body, {BUSY_HEADER: 'true'})


class HTTPError(Exception):
    """Raised anywhere in a request to answer with ``status`` and ``body``."""

    def __init__(self, status, body='', headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def plain_response(status, body='', headers=None, content_type=None):
    """A whole answer: text/plain when it has a body, unless
    ``content_type`` (a listing's) is given; no Content-Type when empty."""
    headers = [(key, str(value)) for key, value in (headers or {}).items()]
    if content_type is None and body:
        content_type = 'text/plain; charset=utf-8'
    if content_type:
        headers.append(('Content-Type', content_type))
    return Response(status, headers=headers, body=body)


class DBServer(object):
    """Base of ContainerServer and AccountServer."""

    server_type = None      # 'container' / 'account'
    datadir = None          # 'containers' / 'accounts'
    broker_class = None
    # headers stored as metadata besides x-<type>-meta-* / -sysmeta-*
    save_headers = ()

    def __init__(self, conf, logger=None):
        conf = dict(conf or {})
        self.conf = conf
        self.logger = logger or get_logger(conf, '%s-server'
                                           % self.server_type)
        self.devices = conf.get('devices', '/srv/node')
        self.mount_check = get_bool(conf, 'mount_check', False)
        self.fsync = get_bool(conf, 'fsync', True)
        self.node_timeout = get_float(conf, 'node_timeout', 3, minimum=0.01)
        self.conn_timeout = get_float(conf, 'conn_timeout', 0.5,
                                      minimum=0.01)
        self.pending_cap = get_int(conf, 'db_pending_cap', PENDING_CAP,
                                   minimum=0)
        self.pending_interval = get_float(conf, 'db_pending_interval', 5.0,
                                          minimum=0)
        self.offload = (run_in_thread
                        if get_bool(conf, 'db_threadpool', True) else None)
        self.lock_timeout = get_float(conf, 'db_lock_timeout',
                                      DEFAULT_LOCK_TIMEOUT, minimum=0)
        self._pending = {}      # db_file -> (account, container)
        self._flusher = None
        self.objproxy_dir = conf.get('objproxy_dir')
        if self.objproxy_dir:
            conf_file = os.path.join(self.objproxy_dir, 'objproxy.conf')
            if os.path.exists(conf_file):
                load_hash_config(self.objproxy_dir)
            elif conf.get('__file__'):
                raise ConfigError('%s does not exist' % conf_file)

    # -- WSGI --------------------------------------------------------------
    def __call__(self, env, start_response):
        req = Request(env)
        try:
            handler = getattr(self, 'handle_' + req.method, None)
            if handler is None or req.method not in self.allowed_methods:
                resp = plain_response(405, 'Method not allowed',
                                      {'Allow': ', '.join(
                                          self.allowed_methods)})
            else:
                resp = handler(req)
        except HTTPError as err:
            resp = plain_response(err.status, err.body, err.headers)
        except ListingError as err:
            resp = plain_response(err.status, err.body)
        except DatabaseNotFound:
            resp = plain_response(404, 'Not found')
        except LockTimeout as err:
            # this request only: the node is healthy (see BUSY_HEADER)
            self.logger.warning('%s %s: %s', req.method, req.path, err)
            resp = busy_response()
        except sqlite3.OperationalError as err:
            if is_busy_error(err):
                self.logger.warning('%s %s: database busy: %s', req.method,
                                    req.path, err)
                resp = busy_response()
            else:
                # disk full, I/O error
                self.logger.error('%s %s: database error: %s', req.method,
                                  req.path, err)
                resp = plain_response(507 if 'full' in str(err) else 503,
                                      'Database unavailable')
        except sqlite3.DatabaseError as err:
            self.logger.error('%s %s: corrupt database: %s', req.method,
                              req.path, err)
            resp = plain_response(500, 'Database error')
        except Exception:
            self.logger.exception('%s %s failed', req.method, req.path)
            resp = plain_response(500, 'Internal error')
        trans_id = req.headers.get('X-Trans-Id')
        if trans_id:
            resp.set_header('X-Trans-Id', trans_id)
        return resp(env, start_response)

    allowed_methods = ('PUT', 'GET', 'HEAD', 'POST', 'DELETE')

    # -- request parsing -------------------------------------------------
    def split(self, req, minsegs, maxsegs):
        """(device, partition, names...) of a request, validated."""
        try:
            path = wsgi_to_str(req.environ.get('PATH_INFO', ''))
            # only the proxy talks to nodes: reserved names are allowed
            parts = split_path(path, minsegs, maxsegs, True,
                               allow_reserved=True)
        except PathError as err:
            raise HTTPError(400, str(err))
        device, part = parts[0], parts[1]
        try:
            check_partition(part)
        except InvalidPath as err:
            raise HTTPError(400, str(err))
        names = parts[2:]
        for name, kind in zip(names, ('Account', 'Container', 'Object')):
            if name is None:
                continue
            if name in ('.', '..'):
                raise HTTPError(400, 'Invalid %s name %r' % (kind.lower(),
                                                             name))
            too_long = name_too_long(kind, name)
            if too_long:
                raise HTTPError(400, too_long)
        try:
            validate_device(self.devices, device, self.mount_check)
        except InvalidPath as err:
            raise HTTPError(400, str(err))
        except DeviceUnavailable:
            raise HTTPError(507, 'Insufficient Storage')
        return [device, part] + names

    def db_path(self, device, part, account, container=None):
        name_hash = hash_path(account, container)
        return os.path.join(os.path.abspath(self.devices), device,
                            self.datadir, str(int(part)), name_hash[-3:],
                            name_hash, name_hash + '.db')

    def get_broker(self, device, part, account, container=None):
        return self.open_broker(
            self.db_path(device, part, account, container), account,
            container)

    def open_broker(self, db_file, account=None, container=None):
        return self.broker_class(
            db_file, account, container, fsync=self.fsync,
            timeout=self.lock_timeout, pending_cap=self.pending_cap,
            pending_timeout=self.lock_timeout, offload=self.offload)

    # -- rows left in pending files ----------------------------------------
    def row_queued(self, broker):
        """A row went to ``broker``'s pending file: merge it on a timer
        unless something reads (and so merges) it first."""
        if not self.pending_interval or not self.pending_cap:
            return
        self._pending[broker.db_file] = (broker.account, broker.container)
        if self._flusher is None or self._flusher.dead:
            self._flusher = eventlet.spawn_after(self.pending_interval,
                                                 self.commit_pending)

    def commit_pending(self):
        """Merge every pending file this server queued rows into; returns
        how many records were merged."""
        todo, self._pending = self._pending, {}
        merged = 0
        for db_file, (account, container) in todo.items():
            broker = self.open_broker(db_file, account, container)
            try:
                merged += broker.commit_pending(stale_ok=True)
            except Exception as err:
                self.logger.warning('merging %s.pending failed: %s',
                                    db_file, err)
            finally:
                broker.close()
            eventlet.sleep(0)
        self._flusher = None
        if self._pending:
            self._flusher = eventlet.spawn_after(self.pending_interval,
                                                 self.commit_pending)
        return merged

    @staticmethod
    def timestamp(req, header='X-Timestamp', required=True):
        value = req.headers.get(header)
        if value is None:
            if required:
                raise HTTPError(400, 'Missing %s header' % header)
            return None
        try:
            return Timestamp(value)
        except (ValueError, TypeError):
            raise HTTPError(400, 'Invalid %s header' % header)

    @staticmethod
    def int_header(req, header, default=None):
        value = req.headers.get(header)
        if value is None or value == '':
            if default is None:
                raise HTTPError(400, 'Missing %s header' % header)
            return default
        try:
            number = int(value)
        except ValueError:
            raise HTTPError(400, 'Invalid %s header' % header)
        if number < 0:
            raise HTTPError(400, 'Invalid %s header' % header)
        return number

    def is_meta_header(self, key):
        lkey = key.lower()
        return (lkey in self.save_headers or
                lkey.startswith('x-%s-meta-' % self.server_type) or
                lkey.startswith('x-%s-sysmeta-' % self.server_type))

    def metadata_from(self, req, timestamp):
        """{header: (value, ts)} to store; 400 if Swift's limits break."""
        err = check_metadata(req.headers, self.server_type)
        if err:
            raise HTTPError(400, err)
        ts = timestamp.internal
        return dict((_header_case(key), (value, ts))
                    for key, value in req.headers.items()
                    if self.is_meta_header(key))

    def store_metadata(self, broker, metadata):
        """Merge ``metadata`` into the database; 400 (nothing stored) when
        the user metadata it would then hold breaks Swift's count or
        overall-size limit, as Swift's database servers refuse it.  The
        merge, the check and the rollback are one write transaction."""
        if not metadata:
            return

        def write(conn):
            broker._update_metadata(conn, metadata)
            err = stored_metadata_error(broker._metadata(conn),
                                        self.server_type)
            if err:
                raise HTTPError(400, err)
        broker.run_write(write)

    @staticmethod
    def metadata_headers(broker, metadata=None):
        if metadata is None:
            metadata = broker.metadata
        return dict((key, value) for key, (value, ts) in metadata.items()
                    if value != '')

    def create_or_open(self, broker, timestamp, **kwargs):
        """Create the DB if absent; True when this call created it."""
        if broker.exists():
            return False
        try:
            broker.initialize(timestamp.internal, **kwargs)
        except DatabaseAlreadyExists:
            return False
        return True


def stored_metadata_error(stored, server_type):
    """The limit a database's stored ``{key: (value, ts)}`` breaks, or None.

    Only user metadata with a value counts (cleared keys do not): its
    names without the ``x-<type>-meta-`` prefix plus its values, in the
    bytes they arrived as.
    """
    prefix = 'x-%s-meta-' % server_type
    count = size = 0
    for key, (value, _ts) in stored.items():
        if value and key.lower().startswith(prefix):
            count += 1
            size += len(key) - len(prefix) + len(value)
    if count > LIMITS['max_meta_count']:
        return 'Too many metadata items; max %d' % LIMITS['max_meta_count']
    if size > LIMITS['max_meta_overall_size']:
        return 'Total metadata too large; max %d' % (
            LIMITS['max_meta_overall_size'])
    return None


def _header_case(key):
    return '-'.join(p[:1].upper() + p[1:].lower() for p in key.split('-'))
