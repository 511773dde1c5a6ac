"""The object layer of a storage node: Swift's object-server protocol.

``PUT/GET/HEAD/POST/DELETE /<device>/<partition>/<a>/<c>/<o>`` and
``REPLICATE /<device>/<partition>[/<suf>-<suf>...]``.  Files live in
``diskfile`` (atomic writes, verified reads) and the modules beside it
(``object_format``, ``quarantine``, ``suffix_hashes``);
container updates and async pendings in ``object_updates``; Range and
conditional rules in ``ranges``.  This module only speaks HTTP: one
handler per method turns a request into those calls; reading and checking
the request is ``object_request``'s job (every bad input a clear 4xx),
building the answer ``object_response``'s.

Whole-body and ranged GETs of a version-2 file check the CRC32C of every
block before sending it (``object_response.BodyIter``); a version-1 file's
whole-body GET checks its MD5 while streaming (docs/object_integrity.md).

Written against raw WSGI (no request objects) because this is the hottest
path of the cluster: a 4 KiB GET is a directory listing, one ``pread`` and
a handful of header tuples.

Disk I/O and the event loop: page-cache writes and reads are done inline in
``disk_chunk_size``/``network_chunk_size`` pieces (the socket yields between
them), while the calls that really wait on the disk (fdatasync, rename,
directory fsync) run in eventlet's thread pool so one slow fsync does not
stall every other request of the worker (``disk_tpool = false`` turns that
off).  As in Swift, an upload larger than ``keep_cache_size`` (5 MiB) is
dropped from the page cache once it is synced: keeping big uploads cached
doubled the kernel time of a stream of 64 MiB PUTs.

Both chunk sizes default to 256 KiB, four times Swift's: every chunk pays
a timer, a green read or write and a trip through the WSGI iterators, and
at 64 KiB that per-chunk cost was more than half of a node's non-MD5 CPU
on 64 MiB transfers (bench/bench_proxy.py).  Memory stays one chunk per
request.
"""
import errno
import hashlib
import json
import os
import time

import eventlet

from objproxy.common.config import (
    ConfigError, config_true_value, get_bool, get_float, get_int)
from objproxy.common.exceptions import (
    ChunkReadTimeout, DeviceUnavailable, DiskFileDeleted, DiskFileNoSpace,
    DiskFileNotExist, DiskFileQuarantined)
from objproxy.common import offload as offload_mod
from objproxy.common.logs import get_logger
from objproxy.common.response import status_line
from objproxy.common import ranges
from objproxy.common.timestamp import Timestamp
from objproxy.storage import options
from objproxy.storage import expiry_queue
from objproxy.storage.devices import InvalidPath, validate_device
from objproxy.storage.diskfile import (
    POST_REPLACEABLE, DiskFile, is_replaceable_key, meta_content_type,
    strip_swift_bytes)
from objproxy.storage.hashdir import split_filename
from objproxy.storage.layout import (
    DEFAULT_KEEP_CACHE_SIZE, DEFAULT_RECLAIM_AGE)
from objproxy.storage.object_format import (
    DEFAULT_BLOCK_SIZE, MAX_BLOCK_SHIFT, MIN_BLOCK_SHIFT, CorruptBlock)
from objproxy.storage.object_request import (
    ALLOWED_HEADERS, META_PREFIXES, POST_PREFIXES, HTTPError,
    check_delete_at, check_user_metadata, content_length, is_replication,
    object_path, post_content_type, replicate_path, request_metadata,
    require_timestamp, update_overrides, update_targets)
from objproxy.storage.object_response import (
    BodyIter, VerifyingBodyIter, backend_timestamp_error,
    conditional_response, object_headers, quarantine_corrupt, respond,
    sysmeta_headers, validator_headers, whole_seconds)
from objproxy.storage.quarantine import clean_tmp
from objproxy.storage.suffix_hashes import get_hashes
from objproxy.storage.object_updates import ContainerNotifier

DEFAULT_CHUNK_SIZE = 256 * 1024


VERDICT_PREFIX = 'x-object-sysmeta-av-'


def is_verdict_update(env):
    return config_true_value(env.get('HTTP_X_BACKEND_VERDICT_UPDATE'))


def verdict_keys(metadata):
    return dict((k, v) for k, v in metadata.items()
                if k.lower().startswith(VERDICT_PREFIX))


def is_expired(metadata, env):
    """Past its X-Delete-At (replication still sees it, to move it)."""
    delete_at = metadata.get('X-Delete-At')
    if not delete_at or is_replication(env):
        return False
    try:
        return int(delete_at) <= time.time()
    except ValueError:
        return False


def checksum_block_size(conf):
    """``checksum_block_size``: the block size of the CRC32C checksums in
    new object files (a power of two, 512 B to 64 MiB; default 64 KiB), or
    0 to write version-1 files without them, which nodes running older
    code can read (turn checksums on once every node reads version 2)."""
    size = get_int(conf, 'checksum_block_size', DEFAULT_BLOCK_SIZE,
                   minimum=0)
    if size and (size & (size - 1) or
                 not 1 << MIN_BLOCK_SHIFT <= size <= 1 << MAX_BLOCK_SHIFT):
        raise ConfigError('checksum_block_size must be 0 or a power of two '
                         'from %d to %d, not %d' % (
                             1 << MIN_BLOCK_SHIFT, 1 << MAX_BLOCK_SHIFT,
                             size))
    return size


class ObjectServer(object):
    """WSGI app for objects under one devices root."""

    def __init__(self, conf, logger=None):
        self.conf = conf
        self.logger = logger or get_logger(conf, 'object-server')
        self.devices = conf.get('devices', '/srv/node')
        self.mount_check = get_bool(conf, 'mount_check', False)
        self.fsync = get_bool(conf, 'fsync', True)
        self.disk_tpool = get_bool(conf, 'disk_tpool', True)
        self.node_timeout = get_float(conf, 'node_timeout', 3, minimum=0)
        self.conn_timeout = get_float(conf, 'conn_timeout', 0.5, minimum=0)
        self.client_timeout = get_float(conf, 'client_timeout', 60,
                                        minimum=0.001)
        self.network_chunk_size = get_int(conf, 'network_chunk_size',
                                          DEFAULT_CHUNK_SIZE, minimum=1)
        self.disk_chunk_size = get_int(conf, 'disk_chunk_size',
                                       DEFAULT_CHUNK_SIZE, minimum=1)
        self.reclaim_age = get_int(conf, 'reclaim_age',
                                   DEFAULT_RECLAIM_AGE, minimum=0)
        self.tmp_max_age = get_int(conf, 'tmp_max_age', 86400, minimum=0)
        self.keep_cache_size = get_int(conf, 'keep_cache_size',
                                       DEFAULT_KEEP_CACHE_SIZE,
                                       minimum=0)
        self.checksum_block_size = checksum_block_size(conf)
        self.notifier = ContainerNotifier(
            self.conn_timeout, self.node_timeout,
            get_float(conf, 'container_update_timeout', 1.0, minimum=0),
            self.fsync, self.logger)
        if conf.get('objproxy_dir'):
            from objproxy.common.constraints import load_constraints
            from objproxy.common.hashing import load_hash_config
            load_hash_config(conf['objproxy_dir'])
            load_constraints(conf['objproxy_dir'])
        self.clean_all_tmp()

    def clean_all_tmp(self):
        try:
            devices = os.listdir(self.devices)
        except OSError:
            return 0
        removed = 0
        for device in devices:
            try:
                path = validate_device(self.devices, device,
                                       self.mount_check)
            except (InvalidPath, DeviceUnavailable):
                continue
            removed += clean_tmp(path, self.tmp_max_age)
        if removed:
            self.logger.info('removed %d stale temp files', removed)
        return removed

    # ------------------------------------------------------------ dispatch
    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD', 'GET')
        handler = {'GET': self.GET, 'HEAD': self.HEAD, 'PUT': self.PUT,
                   'POST': self.POST, 'DELETE': self.DELETE,
                   'REPLICATE': self.REPLICATE}.get(method)
        try:
            if handler is None:
                raise HTTPError(405, 'Method not allowed', [
                    ('Allow', 'GET, HEAD, PUT, POST, DELETE, REPLICATE')])
            return handler(env, start_response)
        except HTTPError as err:
            return respond(start_response, err.status, err.headers,
                           err.body)
        except DeviceUnavailable as err:
            return respond(start_response, 507, body=str(err))
        except DiskFileNoSpace:
            return respond(start_response, 507, body='No space left')
        except Exception:
            self.logger.exception('error handling %s %s', method,
                                  env.get('PATH_INFO'))
            return respond(start_response, 500,
                           body='Internal server error')

    def _object_path(self, env):
        return object_path(env, self.devices, self.mount_check)

    def _diskfile(self, device_path, partition, account, container, obj):
        return DiskFile(device_path, partition, account, container, obj,
                        fsync=self.fsync, use_tpool=self.disk_tpool,
                        reclaim_age=self.reclaim_age,
                        keep_cache_size=self.keep_cache_size,
                        write_block_size=self.checksum_block_size)

    # ----------------------------------------------------------------- PUT
    def PUT(self, env, start_response):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        replication = is_replication(env)
        length = content_length(env)
        check_user_metadata(env)
        check_delete_at(env, replication)
        targets, cpart = update_targets(env)
        df = self._diskfile(device_path, partition, account, container, obj)
        ondisk = df.classify()
        newest = ondisk['data'] or ondisk['ts']
        current = split_filename(newest)[0] if newest else None
        if current is not None and current >= timestamp:
            raise backend_timestamp_error(409, current)
        if env.get('HTTP_IF_NONE_MATCH', '').strip() == '*' and \
                ondisk['data']:
            raise HTTPError(412, 'Precondition Failed')

        writer = df.writer()
        try:
            writer.open(length)
            self._receive_body(env, writer, length)
            etag = writer.etag
            client_etag = env.get('HTTP_ETAG')
            if client_etag is not None and \
                    client_etag.strip().strip('"').lower() != etag:
                raise HTTPError(422, 'Unprocessable Entity')
            metadata = request_metadata(env, META_PREFIXES,
                                        ALLOWED_HEADERS + ('content-type',))
            metadata.setdefault('Content-Type', 'application/octet-stream')
            metadata.update({'name': df.name,
                             'X-Timestamp': timestamp.internal,
                             'ETag': etag,
                             'Content-Length': str(writer.bytes_written)})
            writer.commit(metadata, timestamp, '.data')
        finally:
            writer.abort()
        self._queue_expiry(df, account, container, obj, metadata, timestamp)
        if targets and not replication:
            update = {'X-Size': str(writer.bytes_written),
                      'X-Content-Type': metadata['Content-Type'],
                      'X-Etag': etag,
                      'X-Trans-Id': env.get('HTTP_X_TRANS_ID', '-')}
            update_overrides(env, update)
            self.notifier.update(device_path, df.name_hash, timestamp,
                                 'PUT', account, container, obj, update,
                                 targets, cpart)
        return respond(start_response, 201, [('ETag', etag)])

    def _receive_body(self, env, writer, content_length):
        inp = env['wsgi.input']
        chunk_size = self.network_chunk_size
        remaining = content_length
        while remaining is None or remaining > 0:
            want = chunk_size if remaining is None else \
                min(chunk_size, remaining)
            try:
                with eventlet.Timeout(self.client_timeout,
                                      ChunkReadTimeout):
                    chunk = inp.read(want)
            except ChunkReadTimeout:
                raise HTTPError(408, 'Request Timeout')
            except OSError as err:
                if isinstance(err, TimeoutError) or \
                        err.errno == errno.ETIMEDOUT:
                    raise HTTPError(408, 'Request Timeout')
                raise HTTPError(499, 'Client Disconnect')
            except ValueError:
                raise HTTPError(499, 'Client Disconnect')
            if not chunk:
                if remaining is None:
                    break
                raise HTTPError(499, 'Client Disconnect')
            writer.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)

    # ------------------------------------------------------------- GET/HEAD
    def _open_for_read(self, env):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        df = self._diskfile(device_path, partition, account, container, obj)
        try:
            metadata = df.open()
        except DiskFileDeleted as err:
            raise backend_timestamp_error(404, err.timestamp)
        except (DiskFileNotExist, DiskFileQuarantined):
            raise HTTPError(404)
        if is_expired(metadata, env):
            df.close()
            raise backend_timestamp_error(404, df.timestamp)
        return df, metadata

    def HEAD(self, env, start_response):
        df, metadata = self._open_for_read(env)
        df.close()
        headers = object_headers(df, metadata)
        cond = ranges.evaluate_conditions(
            env, metadata['ETag'],
            whole_seconds(metadata['X-Timestamp']), 'HEAD')
        if cond:
            return conditional_response(start_response, cond, headers)
        headers.append(('Content-Length', str(df.body_size)))
        start_response(status_line(200), headers)
        return []

    def GET(self, env, start_response):
        df, metadata = self._open_for_read(env)
        try:
            headers = object_headers(df, metadata)
            etag = metadata['ETag']
            cond = ranges.evaluate_conditions(
                env, etag,
                whole_seconds(metadata['X-Timestamp']), 'GET')
            if cond:
                df.close()
                return conditional_response(start_response, cond, headers)
            size = df.body_size
            wanted = ranges.parse_range(env.get('HTTP_RANGE'), size)
            ignore_if = env.get(
                'HTTP_X_BACKEND_IGNORE_RANGE_IF_METADATA_PRESENT')
            if wanted is not None and ignore_if:
                present = set(k.lower() for k in metadata)
                if any(name.strip().lower() in present
                       for name in ignore_if.split(',')):
                    wanted = None   # e.g. an SLO manifest: whole thing
            if wanted == []:
                df.close()
                return respond(start_response, 416, [
                    ('Content-Range', 'bytes */%d' % size)] +
                    validator_headers(headers) + sysmeta_headers(headers),
                    'Requested Range Not Satisfiable')
            if wanted is None:
                return self._get_whole(df, etag, size, headers,
                                       start_response)
            if len(wanted) == 1:
                start, stop = wanted[0]
                headers.append(('Content-Range',
                                ranges.content_range(start, stop, size)))
                headers.append(('Content-Length', str(stop - start)))
                start_response(status_line(206), headers)
                return BodyIter(df, [(None, start, stop)], None,
                                self.disk_chunk_size, self.logger)
            boundary = ranges.new_boundary()
            ctype = metadata.get('Content-Type', 'application/octet-stream')
            parts, closing, total = ranges.multipart_parts(
                wanted, size, ctype, boundary)
            headers = [h for h in headers if h[0] != 'Content-Type']
            headers.append(('Content-Type',
                            'multipart/byteranges;boundary=%s' % boundary))
            headers.append(('Content-Length', str(total)))
            start_response(status_line(206), headers)
            return BodyIter(df, parts, closing, self.disk_chunk_size,
                            self.logger)
        except BaseException:
            df.close()
            raise

    def _get_whole(self, df, etag, size, headers, start_response):
        """The whole body: a version-2 file's blocks are checked one by
        one as they are sent (BodyIter), a version-1 file's MD5 as it
        streams; a small file already in memory is checked before a
        single header goes out (a bad one is a 404: the proxy asks
        another replica)."""
        headers.append(('Content-Length', str(size)))
        body_start = df.file_size - len(df.tail)
        if body_start <= 0:
            body = df.tail[:size]
            try:
                if df.block_size:
                    df.check_body(body)
                elif hashlib.md5(body).hexdigest() != etag:
                    raise CorruptBlock(0, 'ETag mismatch')
            except CorruptBlock as err:
                quarantine_corrupt(df, err, self.logger)
                raise HTTPError(404)
            finally:
                df.close()
            start_response(status_line(200), headers)
            return [body]
        start_response(status_line(200), headers)
        if df.block_size:
            return BodyIter(df, [(None, 0, size)], None,
                            self.disk_chunk_size, self.logger)
        return VerifyingBodyIter(df, size, etag, self.disk_chunk_size,
                                 self.logger)

    # ---------------------------------------------------------------- POST
    def POST(self, env, start_response):
        """Replace the object's user metadata; a Content-Type changes its
        content type too, and then the container listing row is updated
        (new content type, the POST's time as last modified, the data
        file's size and ETag, stored overrides applied), as on a PUT."""
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        replication = is_replication(env)
        check_user_metadata(env)
        check_delete_at(env, replication)
        targets, cpart = update_targets(env)
        df = self._diskfile(device_path, partition, account, container, obj)
        try:
            current = df.open()
        except DiskFileDeleted as err:
            raise backend_timestamp_error(404, err.timestamp)
        except (DiskFileNotExist, DiskFileQuarantined):
            raise HTTPError(404)
        finally:
            df.close()
        if is_expired(current, env):      # an expired object stays gone
            raise backend_timestamp_error(404, df.timestamp)
        if df.timestamp >= timestamp:
            raise backend_timestamp_error(409, df.timestamp)
        if is_verdict_update(env):
            return self._update_verdict(env, start_response, df)
        meta = request_metadata(env, POST_PREFIXES,
                                POST_REPLACEABLE)
        # a verdict given after the PUT (a .meta of its own) outlives POSTs
        meta.update(verdict_keys(df.meta_metadata))
        ctype = post_content_type(env)
        if ctype is not None:
            meta['Content-Type'] = ctype
            meta['Content-Type-Timestamp'] = timestamp.internal
        elif 'Content-Type-Timestamp' in current:
            # the content type an earlier POST set goes forward with this
            # .meta, which replaces that POST's
            meta['Content-Type'] = strip_swift_bytes(
                current['Content-Type'])
            meta['Content-Type-Timestamp'] = \
                current['Content-Type-Timestamp']
        df.write_meta(timestamp, meta)
        self._queue_expiry(df, account, container, obj, meta, timestamp)
        if ctype is not None and targets and not replication:
            data = df.data_metadata
            update = {'X-Size': data['Content-Length'],
                      'X-Content-Type': meta_content_type(
                          data, meta),
                      'X-Etag': data['ETag'],
                      'X-Trans-Id': env.get('HTTP_X_TRANS_ID', '-')}
            update_overrides(env, update, stored=data)
            self.notifier.update(device_path, df.name_hash, timestamp,
                                 'PUT', account, container, obj, update,
                                 targets, cpart)
        # as Swift: the answer names the object's sysmeta (a filter such as
        # symlink learns from it what it just posted to)
        return respond(start_response, 202, sorted(
            (k, v) for k, v in current.items()
            if k.lower().startswith('x-object-sysmeta-')))

    def _update_verdict(self, env, start_response, df):
        """A new scan verdict (``X-Backend-Verdict-Update``): a .meta that
        keeps the current .meta's keys (user metadata, content type) and
        replaces only the ``X-Object-Sysmeta-Av-*`` ones, so it replicates
        like any POST and the client's metadata is left alone.

        Its timestamp is this replica's newest one with the offset raised,
        not the time of the update: a replica that missed a client POST
        would otherwise write its stale metadata as the newest state, and
        replication would undo the POST everywhere.  Each replica orders
        the verdict just after what it holds, so the one holding the POST
        wins, verdict included (it got the same update)."""
        verdict = request_metadata(env, (VERDICT_PREFIX,), ())
        if not verdict:
            raise HTTPError(400, 'A verdict update carries '
                                 'X-Object-Sysmeta-Av-* headers')
        judged = env.get('HTTP_X_BACKEND_VERDICT_DATA_TIMESTAMP')
        if judged is not None:
            # the verdict is about the content of that upload; an object
            # overwritten since was judged at its own PUT
            try:
                judged = Timestamp(judged.strip())
            except (ValueError, TypeError, OverflowError):
                raise HTTPError(400, 'Invalid X-Backend-Verdict-Data-'
                                     'Timestamp %r' % judged)
            if judged != df.data_timestamp:
                raise backend_timestamp_error(409, df.data_timestamp)
        # a .meta replaces the data file's user metadata: with no .meta
        # yet, the PUT's own user metadata must go into this one
        current = df.meta_metadata if df.meta_file else dict(
            (k, v) for k, v in df.data_metadata.items()
            if is_replaceable_key(k))
        meta = dict((k, v) for k, v in current.items()
                    if k not in ('name', 'X-Timestamp') and
                    not k.lower().startswith(VERDICT_PREFIX))
        meta.update(verdict)
        newest = Timestamp(df.timestamp)
        df.write_meta(Timestamp(newest, offset=newest.offset + 1), meta)
        return respond(start_response, 202)

    def _queue_expiry(self, df, account, container, obj, metadata,
                      timestamp):
        """An object that expires is queued on its device for this node's
        expirer (see objproxy.storage.expiry_queue), with the time of the
        write that set the expiry (the expirer compares it with the other
        replicas' state)."""
        delete_at = metadata.get('X-Delete-At')
        if not delete_at:
            return
        offload = offload_mod.run_in_thread if self.disk_tpool else \
            offload_mod.run_inline
        offload(expiry_queue.enqueue, df.device_path, int(delete_at),
                df.name_hash, df.partition, account, container, obj,
                fsync=self.fsync, timestamp=timestamp.internal)

    # -------------------------------------------------------------- DELETE
    def DELETE(self, env, start_response):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        targets, cpart = update_targets(env)
        df = self._diskfile(device_path, partition, account, container, obj)
        exists = False
        metadata = {}
        try:
            metadata = df.open()
            exists = True
            current = df.data_timestamp
        except DiskFileDeleted as err:
            current = err.timestamp
        except (DiskFileNotExist, DiskFileQuarantined):
            current = None
        finally:
            df.close()
        if_delete_at = env.get('HTTP_X_IF_DELETE_AT')
        if if_delete_at is not None:
            if not exists:
                raise HTTPError(404)
            if str(metadata.get('X-Delete-At')) != if_delete_at.strip():
                raise HTTPError(412, 'X-Delete-At mismatch')
        if current is not None and current >= timestamp:
            raise backend_timestamp_error(409, current)
        df.write_tombstone(timestamp)
        if targets and not is_replication(env):
            self.notifier.update(
                device_path, df.name_hash, timestamp, 'DELETE', account,
                container, obj,
                {'X-Trans-Id': env.get('HTTP_X_TRANS_ID', '-')},
                targets, cpart)
        newest = max(current, timestamp) if current else timestamp
        headers = [('X-Backend-Timestamp', newest.internal)]
        return respond(start_response, 204 if exists else 404, headers)

    # ----------------------------------------------------------- REPLICATE
    def REPLICATE(self, env, start_response):
        device_path, partition, recalculate = replicate_path(
            env, self.devices, self.mount_check)
        hashes = get_hashes(device_path, partition, recalculate,
                            self.reclaim_age)
        body = json.dumps(hashes, sort_keys=True).encode('ascii')
        start_response(status_line(200), [
            ('Content-Type', 'application/json'),
            ('Content-Length', str(len(body)))])
        return [body]


def app_factory(global_conf, **local_conf):
    return ObjectServer(options.checked_conf(
        'app:object-server', global_conf, local_conf, options.OBJECT_SERVER))
