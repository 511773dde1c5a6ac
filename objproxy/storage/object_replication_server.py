"""The receiving side of object replication, batched and rsync-less.

The object server's ``REPLICATE /dev/part[/suf-suf]`` answers for one
partition per request; a replicator walking 2**14 partitions would pay a
round trip per partition per peer.  This app serves three batched
operations instead, chosen by ``X-Backend-Replicate-Op`` (the node routes
here any request carrying ``X-Backend-Replicate-Batch: true``):

``hashes``  ``REPLICATE /<dev>``, JSON body ``{"partitions": [p, ...],
            "recalculate": {"p": ["abc", ...]}}`` -> ``{"p": {suffix:
            md5}}`` for many partitions at once (absent ones are ``{}``).
``list``    ``REPLICATE /<dev>``, body ``{"partitions": {"p": [suffix,
            ...]}}`` -> ``{"p": {suffix: {hash: [file names]}}}``: what
            the peer holds in the suffixes that differ, so the sender pushes
            only what is missing or newer.
``push``    ``REPLICATE /<dev>``, body a sequence of records ``u32 header
            length | JSON {"name": "part/suf/hash/file", "size": n} | n raw
            bytes``: whole ``.data``/``.ts``/``.meta`` files, byte for
            byte, for any number of partitions.  Object files carry their
            metadata inside themselves (see diskfile), so a byte copy keeps
            every header, the original timestamp and the ``.meta`` split
            exactly, and no container update is sent (the rows replicate
            with the databases).

A pushed file is written to ``<device>/tmp`` under the same flock that
marks live uploads, checked (trailer, CRC, body size, name hashes to its
directory, the block checksums of a version-2 ``.data``: read back from
the page cache in a pool thread), fsynced and renamed into place, then the
hash directory is cleaned up with the usual precedence (a newer tombstone
wins over an older ``.data`` pushed late) and the suffix is invalidated.
A ``.data``/``.meta`` that sets an ``X-Delete-At`` is queued for this
node's expirer before it is renamed into place (``queue_arrival``).

Files move as they are, in whichever format version they were written:
this code reads both versions (docs/object_integrity.md); a node running
code older than version 2 rejects a pushed version-2 ``.data`` (its
trailer check fails: the push answers ``rejected``, nothing is stored).
"""
import fcntl
import json
import os
import struct
import uuid

import eventlet

from objproxy.common.config import get_bool, get_int
from objproxy.common.exceptions import DeviceUnavailable, DiskFileNoSpace
from objproxy.common.hashing import hash_path
from objproxy.common.offload import run_in_thread
from objproxy.common.response import JSON, Response, TEXT_PLAIN
from objproxy.storage.dirsync import fsync_dir, makedirs_fsynced
from objproxy.storage.hashdir import (
    cleanup_ondisk_files, gather_ondisk_files, split_filename)
from objproxy.storage.layout import (
    DATADIR, DEFAULT_RECLAIM_AGE, HASHES_FILE, INVALID_FILE, NOSPACE_ERRNOS,
    TMPDIR, TMP_PREFIX)
from objproxy.storage import expiry_queue
from objproxy.storage.object_format import (
    CorruptFile, find_bad_block, read_info_fd, read_metadata)
from objproxy.storage.suffix_hashes import get_hashes, invalidate_hash
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)

RECORD_HEADER = struct.Struct('>I')
MAX_RECORD_HEADER = 8192
MAX_JSON_BODY = 32 * 1024 * 1024
CHUNK = 65536
FINALIZE_CONCURRENCY = 16
HEX = frozenset('0123456789abcdef')


# ------------------------------------------------------------- hashes
def read_hashes(device_path, partition, recalculate=(),
                reclaim_age=DEFAULT_RECLAIM_AGE):
    """Suffix hashes of a partition, cheaply when nothing changed.

    ``get_hashes`` locks and rewrites hashes.json on every call;
    when no suffix was invalidated (no hashes.invalid) and the stored file
    is complete, its content *is* the answer, and a lock-free read of the
    atomically-renamed file is several times faster.  That is what makes
    an in-sync pass over tens of thousands of partitions cheap.
    """
    part_dir = os.path.join(device_path, DATADIR, str(partition))
    if not recalculate:
        if not os.path.exists(os.path.join(part_dir,
                                           INVALID_FILE)):
            try:
                with open(os.path.join(part_dir, HASHES_FILE),
                          'rb') as fp:
                    data = json.loads(fp.read())
                hashes = data.get('hashes') if data.get('version') == 1 \
                    else None
                if isinstance(hashes, dict) and None not in \
                        hashes.values():
                    return hashes
            except FileNotFoundError:
                if not os.path.isdir(part_dir):
                    return {}
            except (OSError, ValueError, AttributeError):
                pass
    return get_hashes(device_path, partition, recalculate=recalculate,
                      reclaim_age=reclaim_age)


def list_suffix(device_path, partition, suffix):
    """{hash: [current file names]} of one suffix directory."""
    suffix_dir = os.path.join(device_path, DATADIR, str(partition),
                              suffix)
    result = {}
    try:
        hashes = os.listdir(suffix_dir)
    except (FileNotFoundError, NotADirectoryError):
        return result
    for name_hash in hashes:
        try:
            files = os.listdir(os.path.join(suffix_dir, name_hash))
        except (FileNotFoundError, NotADirectoryError):
            continue
        info = gather_ondisk_files(files)
        current = sorted(f for f in (info['data'], info['ts'], info['meta'])
                         if f)
        if current:
            result[name_hash] = current
    return result


def is_suffix(text):
    return isinstance(text, str) and len(text) == 3 and set(text) <= HEX


def is_hash(text):
    return isinstance(text, str) and len(text) == 32 and set(text) <= HEX


def check_file_name(name):
    """(part, 'suf', 'hash', 'file') of a pushed record name, else
    ValueError."""
    parts = name.split('/') if isinstance(name, str) else []
    if len(parts) != 4:
        raise ValueError('bad record name %r' % (name,))
    part, suffix, name_hash, filename = parts
    try:
        part = check_partition(part)
    except InvalidPath:
        raise ValueError('bad record name %r' % (name,))
    if not (is_suffix(suffix) and is_hash(name_hash) and
            name_hash.endswith(suffix)):
        raise ValueError('bad record name %r' % (name,))
    if split_filename(filename)[0] is None or '/' in filename:
        raise ValueError('bad file name %r' % (filename,))
    return part, suffix, name_hash, filename


def object_names(metadata):
    """(account, container, object) of a file's ``name``, else None."""
    name = metadata.get('name')
    if isinstance(name, str) and name.startswith('/'):
        pieces = name[1:].split('/', 2)
        if len(pieces) == 3:
            return tuple(pieces)
    return None


def queue_arrival(hash_dir, filename, device_path, part, name_hash,
                  metadata, fsync=True):
    """Queue the expiry a replicated file brings for this node's expirer.

    A replica that arrives by replication (handoff revert, rebalance, a
    replaced disk) was queued only on the node that took the write, so
    without this an object whose replicas all moved would never expire.
    The file that decides the object's metadata once this one is in place
    counts: this ``.data``/``.meta``, or a ``.meta`` that arrived before
    its ``.data`` (queued again: an expirer pass in between found no
    object and dropped the entry).  Queueing is idempotent (the same
    entry the original write made) and blocking: call it in a pool
    thread.
    """
    if not filename.endswith(('.data', '.meta')):
        return None
    try:
        present = os.listdir(hash_dir)
    except FileNotFoundError:
        present = []
    info = gather_ondisk_files(present + [filename])
    decisive = info['meta'] or info['data']
    if decisive != filename:
        if filename != info['data']:
            return None     # obsolete on arrival
        try:
            metadata = read_metadata(os.path.join(hash_dir, decisive))
        except (OSError, CorruptFile):
            return None     # gone or bad: its own arrival queued it
    names = object_names(metadata)
    try:
        delete_at = int(metadata.get('X-Delete-At') or 0)
    except (TypeError, ValueError):
        return None
    if not delete_at or names is None:
        return None
    return expiry_queue.enqueue(
        device_path, delete_at, name_hash, part, *names, fsync=fsync,
        timestamp=split_filename(decisive)[0].internal)


class BadRequest(Exception):
    pass


class ObjectReplicationServer(object):
    """WSGI app for the batched object REPLICATE operations."""

    def __init__(self, conf):
        self.devices = conf.get('devices', '/srv/node')
        self.mount_check = get_bool(conf, 'mount_check', False)
        self.fsync = get_bool(conf, 'fsync', True)
        self.reclaim_age = get_int(conf, 'reclaim_age',
                                   DEFAULT_RECLAIM_AGE, minimum=1)

    def __call__(self, env, start_response):
        try:
            status, body = self.handle(env)
        except BadRequest as err:
            status, body = 400, str(err).encode('utf-8')
        except InvalidPath as err:
            status, body = 400, str(err).encode('utf-8')
        except DeviceUnavailable as err:
            status, body = 507, str(err).encode('utf-8')
        except DiskFileNoSpace as err:
            status, body = 507, str(err).encode('utf-8')
        return Response(status, body=body, content_type=JSON if status == 200
                        else TEXT_PLAIN)(env, start_response)

    # -- request parsing ---------------------------------------------------
    def handle(self, env):
        if env.get('REQUEST_METHOD') != 'REPLICATE':
            return 405, b'batched replication needs REPLICATE'
        segs = env.get('PATH_INFO', '').strip('/').split('/')
        op = env.get('HTTP_X_BACKEND_REPLICATE_OP', 'hashes').strip()
        device_path = validate_device(self.devices, segs[0],
                                      self.mount_check)
        if len(segs) != 1:
            raise BadRequest('batched replication takes /<device>')
        if op == 'hashes':
            return 200, self.op_hashes(device_path, self._json_body(env))
        if op == 'list':
            return 200, self.op_list(device_path, self._json_body(env))
        if op == 'push':
            return self.op_push(env, device_path)
        raise BadRequest('unknown replication op %r' % op)

    def _json_body(self, env):
        try:
            length = int(env.get('CONTENT_LENGTH') or 0)
        except ValueError:
            raise BadRequest('bad Content-Length')
        if length < 0 or length > MAX_JSON_BODY:
            raise BadRequest('body too large')
        data = env['wsgi.input'].read(length) if length else b''
        if len(data) != length:
            raise BadRequest('short body')
        try:
            body = json.loads(data or b'{}')
        except ValueError:
            raise BadRequest('body is not JSON')
        if not isinstance(body, dict):
            raise BadRequest('body must be a JSON object')
        return body

    # -- operations --------------------------------------------------------
    def op_hashes(self, device_path, body):
        parts = body.get('partitions', [])
        recalc = body.get('recalculate') or {}
        if not isinstance(parts, list) or not isinstance(recalc, dict):
            raise BadRequest('partitions must be a list')
        wanted = []
        for part in parts:
            part = check_partition(part)
            wanted.append((part, [s for s in recalc.get(str(part), ())
                                  if is_suffix(s)]))
        # hashing suffixes and rewriting hashes.json is disk and CPU work
        # that took the hub for seconds under load: done in a thread
        return run_in_thread(self._read_all_hashes, device_path, wanted)

    def _read_all_hashes(self, device_path, wanted):
        result = dict((str(part), read_hashes(device_path, part, suffixes,
                                              self.reclaim_age))
                      for part, suffixes in wanted)
        return json.dumps(result).encode('ascii')

    def op_list(self, device_path, body):
        wanted = body.get('partitions')
        if not isinstance(wanted, dict):
            raise BadRequest('partitions must be an object')
        result = {}
        for part, suffixes in wanted.items():
            part = check_partition(part)
            if not isinstance(suffixes, list) or not all(
                    is_suffix(s) for s in suffixes):
                raise BadRequest('suffixes must be lists of 3 hex digits')
            result[str(part)] = suffixes
        return run_in_thread(self._list_all, device_path, result)

    @staticmethod
    def _list_all(device_path, wanted):
        return json.dumps(dict(
            (part, dict((s, list_suffix(device_path, part, s))
                        for s in suffixes))
            for part, suffixes in wanted.items())).encode('ascii')

    def op_push(self, env, device_path):
        try:
            remaining = int(env['CONTENT_LENGTH'])
        except (KeyError, ValueError):
            return 411, b'push needs a Content-Length'
        if remaining < 0:
            raise BadRequest('bad Content-Length')
        reader = env['wsgi.input']
        stored = existing = 0
        rejected = []
        touched = set()
        # the body is read in order, but the fsync+rename of each file runs
        # in the thread pool while the next one arrives: parallel fsyncs
        # share journal commits instead of queueing one behind another
        finalizing = eventlet.GreenPool(FINALIZE_CONCURRENCY)
        pending = []
        while remaining > 0:
            head = _read_exact(reader, RECORD_HEADER.size)
            if head is None:
                return 499, b'short body'
            remaining -= RECORD_HEADER.size
            (hlen,) = RECORD_HEADER.unpack(head)
            if hlen > MAX_RECORD_HEADER or hlen > remaining:
                raise BadRequest('bad record header length')
            raw = _read_exact(reader, hlen)
            if raw is None:
                return 499, b'short body'
            remaining -= hlen
            try:
                header = json.loads(raw)
                size = int(header['size'])
                name = header['name']
            except (ValueError, KeyError, TypeError):
                raise BadRequest('bad record header')
            if size < 0 or size > remaining:
                raise BadRequest('record size beyond the body')
            try:
                part, suffix, name_hash, filename = check_file_name(name)
            except ValueError as err:
                raise BadRequest(str(err))
            outcome = self._receive_file(reader, size, device_path, part,
                                         suffix, name_hash, filename,
                                         finalizing)
            remaining -= size
            if outcome is None:
                finalizing.waitall()
                return 499, b'short body'
            if not isinstance(outcome, str):
                pending.append((name, part, suffix, outcome))
            elif outcome == 'existing':
                existing += 1
            else:
                rejected.append(name)
        for name, part, suffix, job in pending:
            if job.wait():
                stored += 1
                touched.add((part, suffix))
            else:
                rejected.append(name)
        for part, suffix in touched:
            invalidate_hash(os.path.join(
                device_path, DATADIR, str(part), suffix))
        return 200, json.dumps({'stored': stored, 'existing': existing,
                                'rejected': rejected}).encode('utf-8')

    def _receive_file(self, reader, size, device_path, part, suffix,
                      name_hash, filename, finalizing):
        """Receive one record: 'existing'/'rejected', None if the body
        ended early, else the green thread committing it (True/False)."""
        tmp_dir = os.path.join(device_path, TMPDIR)
        tmp = os.path.join(tmp_dir, '%s%s.tmp' % (TMP_PREFIX,
                                                  uuid.uuid4().hex))
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            os.makedirs(tmp_dir, exist_ok=True)
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            if err.errno in NOSPACE_ERRNOS:
                raise DiskFileNoSpace(str(err))
            raise
        handed_over = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            left = size
            while left > 0:
                data = reader.read(min(CHUNK, left))
                if not data:
                    return None
                _write_all(fd, data)
                left -= len(data)
            metadata = self._valid_file(fd, size, name_hash, filename)
            if metadata is None:
                return 'rejected'
            hash_dir = os.path.join(device_path, DATADIR, str(part),
                                    suffix, name_hash)
            target = os.path.join(hash_dir, filename)
            if os.path.exists(target):
                return 'existing'
            handed_over = True
            arrival = (device_path, part, name_hash, metadata)
            return finalizing.spawn(self._commit, fd, tmp, hash_dir, target,
                                    arrival)
        finally:
            if not handed_over:
                os.close(fd)
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _commit(self, fd, tmp, hash_dir, target, arrival):
        """fsync and rename into place (in a thread: fsync blocks)."""
        try:
            run_in_thread(self._finalize, fd, tmp, hash_dir, target,
                          arrival)
            return True
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        finally:
            os.close(fd)

    def _finalize(self, fd, tmp, hash_dir, target, arrival):
        if self.fsync:
            os.fdatasync(fd)
        # queued before the file shows: if queueing fails, nothing is
        # stored, the push answers rejected and the sender tries again
        queue_arrival(hash_dir, os.path.basename(target), *arrival,
                      fsync=self.fsync)
        if not os.path.isdir(hash_dir):
            makedirs_fsynced(hash_dir, fsync=self.fsync)
        os.rename(tmp, target)
        if self.fsync:
            fsync_dir(hash_dir)
        cleanup_ondisk_files(hash_dir, self.reclaim_age)

    def _valid_file(self, fd, size, name_hash, filename):
        """The pushed file's metadata if it is sound, else None."""
        try:
            info = read_info_fd(fd, size)
        except CorruptFile:
            return None
        metadata, body_size = info.metadata, info.body_size
        ext = filename.rpartition('.')[2]
        if ext == 'data':
            if str(metadata.get('Content-Length')) != str(body_size):
                return None
            # a copy that went bad on the sender (or on the way) stays out
            if info.block_size and \
                    run_in_thread(find_bad_block, fd, info) is not None:
                return None
        elif body_size != 0:
            return None
        names = object_names(metadata)
        if names is not None and hash_path(*names) != name_hash:
            return None
        return metadata


def _read_exact(reader, n):
    buf = b''
    while len(buf) < n:
        data = reader.read(n - len(buf))
        if not data:
            return None
        buf += data
    return buf


def _write_all(fd, data):
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as err:
        if err.errno in NOSPACE_ERRNOS:
            raise DiskFileNoSpace(str(err))
        raise
