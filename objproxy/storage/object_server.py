"""The object layer of a storage node: Swift's object-server protocol.

``PUT/GET/HEAD/POST/DELETE /<device>/<partition>/<a>/<c>/<o>`` and
``REPLICATE /<device>/<partition>[/<suf>-<suf>...]``.  Files live in
``diskfile`` (atomic writes, verified reads, quarantine, suffix hashes);
container updates and async pendings in ``object_updates``; Range and
conditional rules in ``ranges``.  This module only speaks HTTP: it turns
requests into those calls and every bad input into a clear 4xx.

Written against raw WSGI (no request objects) because this is the hottest
path of the cluster: a 4 KiB GET is a directory listing, one ``pread`` and
a handful of header tuples.

Disk I/O and the event loop: page-cache writes and reads are done inline in
``disk_chunk_size``/``network_chunk_size`` pieces (the socket yields between
them), while the calls that really wait on the disk (fdatasync, rename,
directory fsync) run in eventlet's thread pool so one slow fsync does not
stall every other request of the worker (``disk_tpool = false`` turns that
off).
"""
import errno
import json
import os
import time
from http import HTTPStatus

import eventlet

from objproxy.common.config import get_bool, get_float, get_int
from objproxy.common.constraints import LIMITS, check_metadata
from objproxy.common.exceptions import (
    ChunkReadTimeout, DeviceUnavailable, DiskFileDeleted, DiskFileNoSpace,
    DiskFileNotExist, DiskFileQuarantined)
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.timestamp import Timestamp
from objproxy.storage import diskfile, ranges
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)
from objproxy.storage.object_updates import (
    ContainerNotifier, parse_update_targets)

# Stored with the object besides user/system metadata (Swift's list).
ALLOWED_HEADERS = ('content-disposition', 'content-encoding', 'x-delete-at',
                   'x-object-manifest', 'x-static-large-object',
                   'cache-control', 'content-language', 'expires',
                   'x-robots-tag')
META_PREFIXES = ('x-object-meta-', 'x-object-sysmeta-',
                 'x-object-transient-sysmeta-')
POST_PREFIXES = ('x-object-meta-', 'x-object-transient-sysmeta-')
EXTRA_STATUS = {499: 'Client Disconnect', 507: 'Insufficient Storage',
                422: 'Unprocessable Entity'}


def status_line(code):
    try:
        phrase = EXTRA_STATUS.get(code) or HTTPStatus(code).phrase
    except ValueError:
        phrase = 'Unknown'
    return '%d %s' % (code, phrase)


class HTTPError(Exception):
    def __init__(self, status, body='', headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []


def respond(start_response, status, headers=(), body=b''):
    if isinstance(body, str):
        body = body.encode('utf-8')
    headers = list(headers)
    if body:
        headers.append(('Content-Type', 'text/plain; charset=UTF-8'))
    headers.append(('Content-Length', str(len(body))))
    start_response(status_line(status), headers)
    return [body]


def header_title(env_key):
    """HTTP_X_OBJECT_META_FOO_BAR -> X-Object-Meta-Foo-Bar."""
    return '-'.join(p.capitalize() for p in env_key[5:].split('_'))


def request_metadata(env, prefixes, allowed):
    meta = {}
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        name = header_title(key)
        lname = name.lower()
        if lname.startswith(prefixes) or lname in allowed:
            meta[name] = value
    if 'CONTENT_TYPE' in env and 'content-type' in allowed:
        meta['Content-Type'] = env['CONTENT_TYPE']
    return meta


def whole_seconds(timestamp):
    """Seconds as Last-Modified shows them (rounded up, exact)."""
    return (Timestamp(timestamp).raw + 99999) // 100000


def is_replication(env):
    return env.get('HTTP_X_BACKEND_REPLICATION', '').lower() in (
        'true', '1', 'yes', 'on')


def require_timestamp(env):
    value = env.get('HTTP_X_TIMESTAMP')
    if value is None:
        raise HTTPError(400, 'Missing X-Timestamp header')
    try:
        return Timestamp(value.strip())
    except (ValueError, TypeError, OverflowError):
        raise HTTPError(400, 'Invalid X-Timestamp header %r' % value)


def check_delete_at(env, replication):
    value = env.get('HTTP_X_DELETE_AT')
    if value is None:
        return
    try:
        when = int(value)
    except ValueError:
        raise HTTPError(400, 'Non-integer X-Delete-At')
    if not replication and when < time.time():
        raise HTTPError(400, 'X-Delete-At in past')


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
        self.network_chunk_size = get_int(conf, 'network_chunk_size', 65536,
                                          minimum=1)
        self.disk_chunk_size = get_int(conf, 'disk_chunk_size', 65536,
                                       minimum=1)
        self.reclaim_age = get_int(conf, 'reclaim_age',
                                   diskfile.DEFAULT_RECLAIM_AGE, minimum=0)
        self.tmp_max_age = get_int(conf, 'tmp_max_age', 86400, minimum=0)
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
            removed += diskfile.clean_tmp(path, self.tmp_max_age)
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
        """(device_path, partition, account, container, obj) or 4xx/507."""
        try:
            path = wsgi_to_str(env.get('PATH_INFO', ''))
            device, part, account, container, obj = split_path(
                path, 5, 5, True)
        except PathError as err:
            raise HTTPError(400, str(err))
        try:
            partition = check_partition(part)
            device_path = validate_device(self.devices, device,
                                          self.mount_check)
        except InvalidPath as err:
            raise HTTPError(400, str(err))
        if len(obj.encode('utf-8')) > LIMITS['max_object_name_length']:
            raise HTTPError(400, 'Object name length of %d longer than %d'
                            % (len(obj.encode('utf-8')),
                               LIMITS['max_object_name_length']))
        if len(container.encode('utf-8')) > \
                LIMITS['max_container_name_length']:
            raise HTTPError(400, 'Container name too long')
        if len(account.encode('utf-8')) > LIMITS['max_account_name_length']:
            raise HTTPError(400, 'Account name too long')
        return device_path, partition, account, container, obj

    def _diskfile(self, device_path, partition, account, container, obj):
        return diskfile.DiskFile(device_path, partition, account, container,
                                 obj, fsync=self.fsync,
                                 use_tpool=self.disk_tpool,
                                 reclaim_age=self.reclaim_age)

    # ----------------------------------------------------------------- PUT
    def PUT(self, env, start_response):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        replication = is_replication(env)
        chunked = 'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower()
        clen = env.get('CONTENT_LENGTH')
        if clen not in (None, '') and not chunked:
            try:
                content_length = int(clen)
                if content_length < 0:
                    raise ValueError
            except ValueError:
                raise HTTPError(400, 'Invalid Content-Length')
        elif chunked:
            content_length = None
        else:
            raise HTTPError(411, 'Missing Content-Length')
        if content_length is not None and \
                content_length > LIMITS['max_file_size']:
            raise HTTPError(413, 'Your request is too large.')
        headers_view = dict((header_title(k), v) for k, v in env.items()
                            if k.startswith('HTTP_X_OBJECT_META_'))
        error = check_metadata(headers_view, 'object')
        if error:
            raise HTTPError(400, error)
        check_delete_at(env, replication)
        try:
            targets, cpart = parse_update_targets(env)
        except ValueError as err:
            raise HTTPError(400, str(err))
        df = self._diskfile(device_path, partition, account, container, obj)
        ondisk = df.classify()
        newest = ondisk['data'] or ondisk['ts']
        current = diskfile.split_filename(newest)[0] if newest else None
        if current is not None and current >= timestamp:
            raise HTTPError(409, '', [('X-Backend-Timestamp',
                                       current.internal)])
        if env.get('HTTP_IF_NONE_MATCH', '').strip() == '*' and \
                ondisk['data']:
            raise HTTPError(412, 'Precondition Failed')

        writer = df.writer()
        try:
            writer.open()
            self._receive_body(env, writer, content_length)
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
        if targets and not replication:
            update = {'X-Size': str(writer.bytes_written),
                      'X-Content-Type': metadata['Content-Type'],
                      'X-Etag': etag,
                      'X-Trans-Id': env.get('HTTP_X_TRANS_ID', '-')}
            self._apply_overrides(env, update)
            self.notifier.update(device_path, df.name_hash, timestamp,
                                 'PUT', account, container, obj, update,
                                 targets, cpart)
        return respond(start_response, 201, [('ETag', etag)])

    @staticmethod
    def _apply_overrides(env, update):
        prefix = 'HTTP_X_BACKEND_CONTAINER_UPDATE_OVERRIDE_'
        for key, value in env.items():
            if key.startswith(prefix):
                update['X-' + header_title('HTTP_' + key[len(prefix):])] = \
                    value

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
            raise HTTPError(404, '', [('X-Backend-Timestamp',
                                       err.timestamp.internal)])
        except (DiskFileNotExist, DiskFileQuarantined):
            raise HTTPError(404)
        delete_at = metadata.get('X-Delete-At')
        if delete_at and not is_replication(env):
            try:
                expired = int(delete_at) <= time.time()
            except ValueError:
                expired = False
            if expired:
                df.close()
                raise HTTPError(404, '', [('X-Backend-Timestamp',
                                           df.timestamp.internal)])
        return df, metadata

    @staticmethod
    def _object_headers(df, metadata):
        headers = [
            ('Content-Type', metadata.get('Content-Type',
                                          'application/octet-stream')),
            ('ETag', metadata['ETag']),
            ('Last-Modified', Timestamp(metadata['X-Timestamp']).http_date),
            ('X-Timestamp', Timestamp(metadata['X-Timestamp']).normal),
            ('X-Backend-Timestamp', df.timestamp.internal),
            ('X-Backend-Data-Timestamp', df.data_timestamp.internal),
            ('X-Backend-Durable-Timestamp', df.data_timestamp.internal),
            ('Accept-Ranges', 'bytes'),
        ]
        for key, value in metadata.items():
            lkey = key.lower()
            if lkey.startswith(META_PREFIXES) or lkey in ALLOWED_HEADERS:
                headers.append((key, value))
        return headers

    def HEAD(self, env, start_response):
        df, metadata = self._open_for_read(env)
        df.close()
        headers = self._object_headers(df, metadata)
        cond = ranges.evaluate_conditions(
            env, metadata['ETag'],
            whole_seconds(metadata['X-Timestamp']), 'HEAD')
        if cond:
            return self._conditional(start_response, cond, headers)
        headers.append(('Content-Length', str(df.body_size)))
        start_response(status_line(200), headers)
        return []

    @staticmethod
    def _conditional(start_response, status, headers):
        if status == 304:
            keep = [h for h in headers if h[0] != 'Content-Type']
            start_response(status_line(304), keep + [('Content-Length',
                                                      '0')])
            return []
        return respond(start_response, 412, [
            h for h in headers if h[0] in ('ETag', 'Last-Modified',
                                           'X-Timestamp',
                                           'X-Backend-Timestamp')],
            'Precondition Failed')

    def GET(self, env, start_response):
        df, metadata = self._open_for_read(env)
        try:
            headers = self._object_headers(df, metadata)
            etag = metadata['ETag']
            cond = ranges.evaluate_conditions(
                env, etag,
                whole_seconds(metadata['X-Timestamp']), 'GET')
            if cond:
                df.close()
                return self._conditional(start_response, cond, headers)
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
                    ('Content-Range', 'bytes */%d' % size)] + [
                    h for h in headers if h[0] in (
                        'ETag', 'Last-Modified', 'X-Timestamp',
                        'X-Backend-Timestamp')],
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
                                self.disk_chunk_size)
            boundary = ranges.new_boundary()
            ctype = metadata.get('Content-Type', 'application/octet-stream')
            parts, closing, total = ranges.multipart_parts(
                wanted, size, ctype, boundary)
            headers = [h for h in headers if h[0] != 'Content-Type']
            headers.append(('Content-Type',
                            'multipart/byteranges;boundary=%s' % boundary))
            headers.append(('Content-Length', str(total)))
            start_response(status_line(206), headers)
            return BodyIter(df, parts, closing, self.disk_chunk_size)
        except BaseException:
            df.close()
            raise

    def _get_whole(self, df, etag, size, headers, start_response):
        headers.append(('Content-Length', str(size)))
        body_start = df.file_size - len(df.tail)
        if body_start <= 0:
            # small object: whole body is already in memory; verify it
            # before sending a single header
            body = df.tail[:size]
            df.close()
            if diskfile.hashlib.md5(body).hexdigest() != etag:
                try:
                    df.quarantine('ETag mismatch')
                except DiskFileQuarantined:
                    pass
                self.logger.error('quarantined %s: ETag mismatch', df.name)
                raise HTTPError(404)
            start_response(status_line(200), headers)
            return [body]
        start_response(status_line(200), headers)
        return VerifyingBodyIter(df, size, etag, self.disk_chunk_size,
                                 self.logger)

    # ---------------------------------------------------------------- POST
    def POST(self, env, start_response):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        headers_view = dict((header_title(k), v) for k, v in env.items()
                            if k.startswith('HTTP_X_OBJECT_META_'))
        error = check_metadata(headers_view, 'object')
        if error:
            raise HTTPError(400, error)
        check_delete_at(env, is_replication(env))
        df = self._diskfile(device_path, partition, account, container, obj)
        try:
            df.open()
        except DiskFileDeleted as err:
            raise HTTPError(404, '', [('X-Backend-Timestamp',
                                       err.timestamp.internal)])
        except (DiskFileNotExist, DiskFileQuarantined):
            raise HTTPError(404)
        finally:
            df.close()
        if df.timestamp >= timestamp:
            raise HTTPError(409, '', [('X-Backend-Timestamp',
                                       df.timestamp.internal)])
        meta = request_metadata(env, POST_PREFIXES,
                                diskfile.POST_REPLACEABLE)
        df.write_meta(timestamp, meta)
        return respond(start_response, 202)

    # -------------------------------------------------------------- DELETE
    def DELETE(self, env, start_response):
        device_path, partition, account, container, obj = \
            self._object_path(env)
        timestamp = require_timestamp(env)
        try:
            targets, cpart = parse_update_targets(env)
        except ValueError as err:
            raise HTTPError(400, str(err))
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
            raise HTTPError(409, '', [('X-Backend-Timestamp',
                                       current.internal)])
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
        try:
            path = wsgi_to_str(env.get('PATH_INFO', ''))
            device, part, suffixes = split_path(path, 2, 3)
        except PathError as err:
            raise HTTPError(400, str(err))
        try:
            partition = check_partition(part)
            device_path = validate_device(self.devices, device,
                                          self.mount_check)
        except InvalidPath as err:
            raise HTTPError(400, str(err))
        recalculate = suffixes.split('-') if suffixes else []
        for suffix in recalculate:
            if not diskfile._is_suffix(suffix):
                raise HTTPError(400, 'Invalid suffix %r' % suffix)
        hashes = diskfile.get_hashes(device_path, partition, recalculate,
                                     self.reclaim_age)
        body = json.dumps(hashes, sort_keys=True).encode('ascii')
        start_response(status_line(200), [
            ('Content-Type', 'application/json'),
            ('Content-Length', str(len(body)))])
        return [body]


class BodyIter(object):
    """Streams byte ranges (optionally as multipart parts) of an open file."""

    def __init__(self, df, parts, closing, chunk_size):
        self.df = df
        self.parts = parts
        self.closing = closing
        self.chunk_size = chunk_size

    def __iter__(self):
        try:
            for head, start, stop in self.parts:
                if head:
                    yield head
                for chunk in self.df.read_body_range(start, stop,
                                                     self.chunk_size):
                    yield chunk
                if head:
                    yield b'\r\n'
            if self.closing:
                yield self.closing
        finally:
            self.df.close()

    def close(self):
        self.df.close()


class VerifyingBodyIter(object):
    """Streams a whole body, checking its MD5; quarantines a bad file."""

    def __init__(self, df, size, etag, chunk_size, logger):
        self.df = df
        self.size = size
        self.etag = etag
        self.chunk_size = chunk_size
        self.logger = logger

    def __iter__(self):
        md5 = diskfile.hashlib.md5()
        sent = 0
        try:
            for chunk in self.df.read_body_range(0, self.size,
                                                 self.chunk_size):
                md5.update(chunk)
                sent += len(chunk)
                yield chunk
        except diskfile.DiskFileError:
            pass
        self.df.close()
        if sent == self.size and md5.hexdigest() == self.etag:
            return
        self.logger.error('quarantined %s: content does not match its '
                          'ETag', self.df.name)
        try:
            self.df.quarantine('ETag mismatch')
        except DiskFileQuarantined:
            pass

    def close(self):
        self.df.close()


def app_factory(global_conf, **local_conf):
    conf = dict(global_conf)
    conf.update(local_conf)
    return ObjectServer(conf)
