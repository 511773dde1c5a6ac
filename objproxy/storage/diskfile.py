"""Objects on disk: atomic writes, verified reads, tombstones and quarantine.

Layout (Swift's)::

    <device>/objects/<partition>/<suffix>/<hash>/<timestamp>.data|.ts|.meta
    <device>/objects/<partition>/hashes.json      per-suffix hashes
    <device>/objects/<partition>/hashes.invalid   suffixes written since
    <device>/tmp/objw-<random>.tmp                uploads in progress
    <device>/quarantined/objects/<hash>[-<random>]/

``<hash>`` is ``hash_path(a, c, o)``, ``<suffix>`` its last three hex
digits, ``<timestamp>`` ``Timestamp.internal`` (file names sort by age).

File format (version 1).  Swift keeps metadata in xattrs, but ext4 gives an
inode only about 4 KiB of xattr space, less than Swift's maximum metadata
(90 keys, 4 KiB of names+values, plus system fields).  So every file keeps
its metadata inside itself, *after* the object bytes, which lets a PUT
stream the body straight to disk and add the metadata (whose ETag is only
known at the end) without a second pass::

    +------------------+---------------------+-------------------------+
    | object bytes     | metadata (JSON,     | trailer, 16 bytes:      |
    | (Content-Length) | UTF-8, a flat dict  |  b'OPXM'  magic         |
    |                  | of str -> str)      |  u8   version (1)       |
    |                  |                     |  3 bytes zero           |
    |                  |                     |  u32  metadata length   |
    |                  |                     |  u32  crc32(metadata)   |
    +------------------+---------------------+-------------------------+

(integers big-endian).  ``.ts`` and ``.meta`` files have no object bytes,
only metadata and trailer.  A reader takes the trailer from the end of the
file; the body is everything before the metadata.  A file whose trailer or
CRC is wrong, or whose body length differs from its ``Content-Length``, is
corrupt and gets quarantined.

Atomicity: a write goes to ``<device>/tmp``, is fsynced, renamed into its
hash directory (same filesystem, so atomic) and the directory is fsynced;
only then are older files of the object removed.  A crash at any moment
therefore leaves either the old files or the new file, never a torn one;
a leftover temp file is removed by ``clean_tmp`` when a server starts (a
live writer holds an flock on its temp file, so only orphans go).

Precedence in a hash directory: the newest ``.data`` or ``.ts`` decides
whether the object exists; the newest ``.meta`` newer than that ``.data``
replaces its user metadata; everything else is obsolete.
"""
import errno
import fcntl
import hashlib
import json
import os
import struct
import time
import uuid
import zlib

from eventlet import sleep, tpool

from objproxy.common.exceptions import (
    DiskFileDeleted, DiskFileError, DiskFileNoSpace, DiskFileNotExist,
    DiskFileQuarantined)
from objproxy.common.hashing import hash_path
from objproxy.common.timestamp import Timestamp

MAGIC = b'OPXM'
VERSION = 1
TRAILER = struct.Struct('>4sB3xII')
TRAILER_SIZE = TRAILER.size  # 16
MAX_METADATA_SIZE = 1024 * 1024
# Small files are read in one go (trailer, metadata and body together).
SMALL_READ = 65536

DATADIR = 'objects'
TMPDIR = 'tmp'
QUARANTINE = 'quarantined'
HASHES_FILE = 'hashes.json'
INVALID_FILE = 'hashes.invalid'
LOCK_FILE = '.lock'
TMP_PREFIX = 'objw-'
DEFAULT_RECLAIM_AGE = 7 * 24 * 3600
NOSPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class CorruptFile(DiskFileError):
    """A file's trailer/metadata cannot be trusted."""


# --------------------------------------------------------------- format
def encode_metadata(metadata):
    blob = json.dumps(metadata, ensure_ascii=False,
                      separators=(',', ':')).encode('utf-8', 'surrogatepass')
    return blob + TRAILER.pack(MAGIC, VERSION, len(blob),
                               zlib.crc32(blob) & 0xffffffff)


def decode_tail(tail, file_size):
    """(metadata, body_size) from the last bytes of a file.

    ``tail`` must hold at least the trailer; returns (None, needed) when the
    metadata extends before ``tail`` so the caller reads more.
    """
    if len(tail) < TRAILER_SIZE:
        raise CorruptFile('file too short for a trailer')
    magic, version, length, crc = TRAILER.unpack(tail[-TRAILER_SIZE:])
    if magic != MAGIC or version != VERSION:
        raise CorruptFile('bad trailer magic/version')
    if length > MAX_METADATA_SIZE or length + TRAILER_SIZE > file_size:
        raise CorruptFile('bad metadata length')
    if length + TRAILER_SIZE > len(tail):
        return None, length + TRAILER_SIZE
    blob = tail[-TRAILER_SIZE - length:-TRAILER_SIZE]
    if zlib.crc32(blob) & 0xffffffff != crc:
        raise CorruptFile('metadata checksum mismatch')
    try:
        metadata = json.loads(blob.decode('utf-8', 'surrogatepass'))
    except ValueError:
        raise CorruptFile('metadata is not JSON')
    if not isinstance(metadata, dict):
        raise CorruptFile('metadata is not a dict')
    return metadata, file_size - length - TRAILER_SIZE


def read_metadata_fd(fd, file_size=None):
    """(metadata, body_size, tail_bytes) of an open file."""
    if file_size is None:
        file_size = os.fstat(fd).st_size
    want = min(file_size, SMALL_READ)
    tail = os.pread(fd, want, file_size - want)
    metadata, body_size = decode_tail(tail, file_size)
    if metadata is None:
        want = body_size
        tail = os.pread(fd, want, file_size - want)
        metadata, body_size = decode_tail(tail, file_size)
    return metadata, body_size, tail


def read_metadata(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_metadata_fd(fd)[0]
    finally:
        os.close(fd)


# ----------------------------------------------------------- dir helpers
def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def makedirs_fsynced(path, fsync=True):
    """mkdir -p, fsyncing the parent of every directory it created.

    Returns the created directories (deepest first); with ``fsync=False``
    the caller fsyncs their parents later (after one journal commit on
    ext4 those fsyncs are nearly free, so it pays to do them last).
    """
    created = []
    probe = path
    while not os.path.isdir(probe):
        created.append(probe)
        probe = os.path.dirname(probe)
    for directory in reversed(created):
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
    if fsync:
        for directory in created:
            fsync_dir(os.path.dirname(directory))
    return created


def split_filename(filename):
    """(Timestamp, ext) of a ``<ts>.<ext>`` name, or (None, None)."""
    base, dot, ext = filename.rpartition('.')
    if not dot or ext not in ('data', 'ts', 'meta'):
        return None, None
    try:
        return Timestamp(base), ext
    except ValueError:
        return None, None


def gather_ondisk_files(filenames, reclaim_age=None, now=None):
    """Classify the names in a hash dir.

    Returns a dict with ``data``, ``ts``, ``meta`` (file names or None) and
    ``obsolete`` (names to delete).
    """
    result = {'data': None, 'ts': None, 'meta': None, 'obsolete': []}
    entries = []
    for name in filenames:
        ts, ext = split_filename(name)
        if ts is not None:
            entries.append((ts, ext, name))
    entries.sort(key=lambda e: (e[0], e[1] != 'meta'), reverse=True)
    decided = False
    for ts, ext, name in entries:
        if decided:
            result['obsolete'].append(name)
        elif ext == 'meta':
            if result['meta'] is None:
                result['meta'] = name
            else:
                result['obsolete'].append(name)
        else:
            result[ext] = name
            decided = True
    if result['ts'] is not None:
        # metadata updates of a deleted object mean nothing
        if result['meta']:
            result['obsolete'].append(result['meta'])
            result['meta'] = None
        if reclaim_age is not None:
            ts = split_filename(result['ts'])[0]
            if (now or time.time()) - float(ts) > reclaim_age:
                result['obsolete'].append(result['ts'])
                result['ts'] = None
    return result


def cleanup_ondisk_files(hash_dir, reclaim_age=DEFAULT_RECLAIM_AGE):
    """Remove obsolete files; remove the dir when empty. Returns the
    classification of what is left (dict as gather_ondisk_files)."""
    try:
        files = os.listdir(hash_dir)
    except FileNotFoundError:
        return gather_ondisk_files([])
    except NotADirectoryError:
        # something that is not a hash dir: quarantine-worthy, skip it
        return gather_ondisk_files([])
    info = gather_ondisk_files(files, reclaim_age)
    for name in info['obsolete']:
        try:
            os.unlink(os.path.join(hash_dir, name))
        except FileNotFoundError:
            pass
    if not (info['data'] or info['ts'] or info['meta']):
        try:
            os.rmdir(hash_dir)
        except OSError:
            pass
    info['files'] = sorted(f for f in (info['data'], info['ts'],
                                       info['meta']) if f)
    return info


# ------------------------------------------------------------- hashes
class PartitionLock(object):
    """flock on ``<partition>/.lock`` guarding hashes.json/.invalid."""

    def __init__(self, partition_dir, timeout=10, blocking=False):
        self.path = os.path.join(partition_dir, LOCK_FILE)
        self.timeout = timeout
        self.blocking = blocking  # True in OS threads (tpool)
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if self.blocking:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return self
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.time() > deadline:
                    os.close(self.fd)
                    raise DiskFileError('timed out locking %s' % self.path)
                sleep(0.001)

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock


def invalidate_hash(suffix_dir, blocking=False):
    """Record that a suffix changed; the next get_hashes recomputes it."""
    partition_dir = os.path.dirname(suffix_dir)
    suffix = os.path.basename(suffix_dir)
    try:
        with PartitionLock(partition_dir, blocking=blocking):
            fd = os.open(os.path.join(partition_dir, INVALID_FILE),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, suffix.encode('ascii') + b'\n')
            finally:
                os.close(fd)
    except FileNotFoundError:
        pass  # partition removed meanwhile: nothing to invalidate


def hash_suffix(suffix_dir, reclaim_age=DEFAULT_RECLAIM_AGE):
    """MD5 of the (cleaned-up) file names in a suffix, or None if empty."""
    try:
        hashes = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    md5 = hashlib.md5()
    found = False
    for name_hash in hashes:
        info = cleanup_ondisk_files(os.path.join(suffix_dir, name_hash),
                                    reclaim_age)
        for name in info['files']:
            md5.update(('%s/%s\n' % (name_hash, name)).encode('utf-8'))
            found = True
    if not found:
        try:
            os.rmdir(suffix_dir)
        except OSError:
            pass
        return None
    return md5.hexdigest()


def _load_hashes(partition_dir):
    try:
        with open(os.path.join(partition_dir, HASHES_FILE)) as fp:
            data = json.load(fp)
        if isinstance(data, dict) and data.get('version') == 1:
            return dict(data.get('hashes') or {}), True
    except (OSError, ValueError):
        pass
    return {}, False


def _save_hashes(partition_dir, hashes):
    tmp = os.path.join(partition_dir, '.%s.%s' % (HASHES_FILE,
                                                 uuid.uuid4().hex))
    with open(tmp, 'w') as fp:
        json.dump({'version': 1, 'hashes': hashes}, fp, sort_keys=True)
    os.rename(tmp, os.path.join(partition_dir, HASHES_FILE))


def _consolidate(partition_dir, hashes):
    """Fold hashes.invalid into ``hashes`` (as None); returns those names."""
    path = os.path.join(partition_dir, INVALID_FILE)
    try:
        with open(path, 'rb') as fp:
            names = set(fp.read().decode('ascii', 'replace').split())
    except FileNotFoundError:
        return set()
    for suffix in names:
        hashes[suffix] = None
    return names


def _is_suffix(name):
    return len(name) == 3 and all(c in '0123456789abcdef' for c in name)


def get_hashes(device_path, partition, recalculate=(),
               reclaim_age=DEFAULT_RECLAIM_AGE):
    """{suffix: md5 of its file names} for one object partition.

    Suffixes written since the last call (hashes.invalid) and those named
    in ``recalculate`` are recomputed; the rest come from hashes.json.  The
    replicator imports this; REPLICATE serves it.
    """
    partition_dir = os.path.join(device_path, DATADIR, str(partition))
    if not os.path.isdir(partition_dir):
        return {}
    for _attempt in range(5):
        with PartitionLock(partition_dir):
            hashes, valid = _load_hashes(partition_dir)
            _consolidate(partition_dir, hashes)
            if not valid:
                hashes = dict((s, None) for s in os.listdir(partition_dir)
                              if _is_suffix(s))
            for suffix in recalculate:
                if _is_suffix(suffix):
                    hashes[suffix] = None
            _save_hashes(partition_dir, hashes)
            try:
                os.unlink(os.path.join(partition_dir, INVALID_FILE))
            except FileNotFoundError:
                pass
        computed = {}
        for suffix, value in hashes.items():
            if value is None:
                computed[suffix] = hash_suffix(
                    os.path.join(partition_dir, suffix), reclaim_age)
        with PartitionLock(partition_dir):
            stored, _ = _load_hashes(partition_dir)
            again = _consolidate(partition_dir, stored)
            for suffix, value in computed.items():
                if suffix in again or stored.get(suffix, 0) is not None:
                    continue  # changed while we hashed: leave invalid
                if value is None:
                    stored.pop(suffix, None)
                else:
                    stored[suffix] = value
            _save_hashes(partition_dir, stored)
            try:
                os.unlink(os.path.join(partition_dir, INVALID_FILE))
            except FileNotFoundError:
                pass
        if all(v is not None for v in stored.values()):
            return stored
    # a busy partition kept changing; hand back what we have
    return dict((s, v) for s, v in stored.items() if v is not None)


# ------------------------------------------------------------ quarantine
def quarantine_dir(device_path, hash_dir):
    """Move a whole hash dir to quarantine; returns the new path."""
    name_hash = os.path.basename(hash_dir)
    qroot = os.path.join(device_path, QUARANTINE, DATADIR)
    makedirs_fsynced(qroot, fsync=False)
    target = os.path.join(qroot, name_hash)
    try:
        os.rename(hash_dir, target)
    except OSError as err:
        if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        target = '%s-%s' % (target, uuid.uuid4().hex)
        os.rename(hash_dir, target)
    invalidate_hash(os.path.dirname(hash_dir))
    return target


# ------------------------------------------------------------ tmp files
def clean_tmp(device_path, max_age=86400):
    """Remove our orphaned temp files; returns how many were removed.

    A live writer holds an flock on its temp file, so any temp file that can
    be locked belongs to a dead process.  Files older than ``max_age`` are
    removed even if locked (a writer that wrote nothing for that long is
    stuck).
    """
    tmp_dir = os.path.join(device_path, TMPDIR)
    try:
        names = os.listdir(tmp_dir)
    except OSError:
        return 0
    removed = 0
    now = time.time()
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        path = os.path.join(tmp_dir, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                orphan = True
            except BlockingIOError:
                orphan = now - os.fstat(fd).st_mtime > max_age
            if orphan:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
        finally:
            os.close(fd)
    return removed


# ------------------------------------------------------------- diskfile
class DiskFile(object):
    """One object's hash directory: find, read, write, delete it."""

    def __init__(self, device_path, partition, account, container, obj,
                 name_hash=None, fsync=True, use_tpool=True,
                 reclaim_age=DEFAULT_RECLAIM_AGE):
        self.device_path = device_path
        self.partition = str(partition)
        self.name = '/%s/%s/%s' % (account, container, obj)
        self.name_hash = name_hash or hash_path(account, container, obj)
        self.suffix = self.name_hash[-3:]
        self.suffix_dir = os.path.join(device_path, DATADIR, self.partition,
                                       self.suffix)
        self.hash_dir = os.path.join(self.suffix_dir, self.name_hash)
        self.fsync = fsync
        self.use_tpool = use_tpool
        self.reclaim_age = reclaim_age
        self._reset()

    def _reset(self):
        self.data_file = self.ts_file = self.meta_file = None
        self.data_metadata = None
        self.metadata = None
        self.data_timestamp = None
        self.timestamp = None      # newest of data/meta (or the tombstone)
        self.body_size = None
        self.fd = None
        self.tail = None
        self.file_size = None

    # ---------------------------------------------------------- lookups
    def classify(self):
        try:
            files = os.listdir(self.hash_dir)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        return gather_ondisk_files(files)

    def current_timestamp(self):
        """Timestamp of the newest .data or .ts (None if neither)."""
        info = self.classify()
        name = info['data'] or info['ts']
        return split_filename(name)[0] if name else None

    def open(self):
        """Open the current data file and read its metadata.

        Raises DiskFileDeleted (tombstone; .timestamp set),
        DiskFileNotExist, or DiskFileQuarantined (corrupt, moved away).
        """
        self._reset()
        info = self.classify()
        if info['ts']:
            self.ts_file = info['ts']
            self.timestamp = split_filename(info['ts'])[0]
            raise DiskFileDeleted(self.timestamp)
        if not info['data']:
            raise DiskFileNotExist()
        self.data_file = info['data']
        self.meta_file = info['meta']
        path = os.path.join(self.hash_dir, self.data_file)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            # replaced under us by a newer write: look again once
            return self._reopen_once()
        try:
            st = os.fstat(fd)
            metadata, body_size, tail = read_metadata_fd(fd, st.st_size)
            clen = metadata.get('Content-Length')
            if clen is None or str(body_size) != str(clen):
                raise CorruptFile('size on disk %d != Content-Length %s'
                                  % (body_size, clen))
            if metadata.get('name') not in (None, self.name):
                raise CorruptFile('name mismatch')
        except CorruptFile as err:
            os.close(fd)
            self.quarantine(str(err))
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.file_size = st.st_size
        self.tail = tail
        self.body_size = body_size
        self.data_metadata = metadata
        self.data_timestamp = split_filename(self.data_file)[0]
        merged = dict(metadata)
        self.timestamp = self.data_timestamp
        if self.meta_file:
            try:
                meta = read_metadata(os.path.join(self.hash_dir,
                                                  self.meta_file))
            except FileNotFoundError:
                meta = None
            except CorruptFile as err:
                self.close()
                self.quarantine('bad .meta: %s' % err)
            if meta is not None:
                merged = merge_metadata(metadata, meta)
                self.timestamp = split_filename(self.meta_file)[0]
        self.metadata = merged
        return merged

    _reopened = False

    def _reopen_once(self):
        if self._reopened:
            raise DiskFileNotExist()
        self._reopened = True
        return self.open()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def quarantine(self, reason=''):
        self.close()
        try:
            quarantine_dir(self.device_path, self.hash_dir)
        except FileNotFoundError:
            pass
        raise DiskFileQuarantined(reason)

    # ---------------------------------------------------------- reading
    def read_body_range(self, start, stop, chunk_size):
        """Yield body bytes [start, stop) (no verification)."""
        fd = self.fd
        pos = start
        body_in_tail = self.file_size - len(self.tail)
        while pos < stop:
            n = min(chunk_size, stop - pos)
            if pos >= body_in_tail:
                off = pos - body_in_tail
                data = self.tail[off:off + n]
            else:
                data = os.pread(fd, n, pos)
            if not data:
                raise DiskFileError('unexpected end of file')
            if pos != start:
                sleep(0)  # let other requests run between chunks
            pos += len(data)
            yield data

    # ---------------------------------------------------------- writing
    def writer(self):
        return DiskFileWriter(self)

    def _run(self, func, *args):
        if self.use_tpool:
            return tpool.execute(func, *args)
        return func(*args)

    def write_tombstone(self, timestamp, metadata=None):
        meta = dict(metadata or {})
        meta['name'] = self.name
        meta['X-Timestamp'] = Timestamp(timestamp).internal
        self._write_small(Timestamp(timestamp), '.ts', meta)

    def write_meta(self, timestamp, metadata):
        meta = dict(metadata)
        meta['name'] = self.name
        meta['X-Timestamp'] = Timestamp(timestamp).internal
        self._write_small(Timestamp(timestamp), '.meta', meta)

    def _write_small(self, timestamp, ext, metadata):
        w = DiskFileWriter(self)
        try:
            w.open()
            w.commit(metadata, timestamp, ext)
        finally:
            w.abort()


def merge_metadata(data_meta, meta_meta):
    """Data-file metadata with a .meta's user metadata replacing its own."""
    merged = dict((k, v) for k, v in data_meta.items()
                  if not is_replaceable_key(k))
    for key, value in meta_meta.items():
        if key == 'name':
            continue
        merged[key] = value
    return merged


# Headers a POST replaces (everything else stays from the PUT).
POST_REPLACEABLE = frozenset((
    'content-disposition', 'content-encoding', 'x-delete-at',
    'cache-control', 'content-language', 'expires', 'x-robots-tag'))


def is_replaceable_key(key):
    lkey = key.lower()
    return (lkey.startswith('x-object-meta-') or
            lkey.startswith('x-object-transient-sysmeta-') or
            lkey in POST_REPLACEABLE)


class DiskFileWriter(object):
    """Streams one new file to <device>/tmp and commits it atomically.

    ``write`` appends body bytes (updating the MD5); ``commit`` appends the
    metadata trailer, fsyncs, renames into the hash dir, fsyncs the dir,
    removes older files and invalidates the suffix hash.  ``abort`` (always
    call it, e.g. in ``finally``) removes the temp file if not committed.
    """

    def __init__(self, diskfile):
        self.df = diskfile
        self.fd = None
        self.tmp_path = None
        self.md5 = hashlib.md5()
        self.bytes_written = 0
        self.committed = False

    def open(self):
        tmp_dir = os.path.join(self.df.device_path, TMPDIR)
        self.tmp_path = os.path.join(
            tmp_dir, '%s%s.tmp' % (TMP_PREFIX, uuid.uuid4().hex))
        try:
            try:
                fd = os.open(self.tmp_path,
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                makedirs_fsynced(tmp_dir, fsync=False)
                fd = os.open(self.tmp_path,
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            if err.errno in NOSPACE_ERRNOS:
                raise DiskFileNoSpace(str(err))
            raise
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "I am alive"
        self.fd = fd
        return self

    def _write_all(self, data):
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as err:
            if err.errno in NOSPACE_ERRNOS:
                raise DiskFileNoSpace(str(err))
            raise

    def write(self, data):
        self.md5.update(data)
        self._write_all(data)
        self.bytes_written += len(data)

    @property
    def etag(self):
        return self.md5.hexdigest()

    def commit(self, metadata, timestamp, ext='.data'):
        """Make the file visible as ``<timestamp><ext>``."""
        timestamp = Timestamp(timestamp)
        self._write_all(encode_metadata(metadata))
        target = os.path.join(self.df.hash_dir, timestamp.internal + ext)
        try:
            self.df._run(self._finalize, target)
        except OSError as err:
            if err.errno in NOSPACE_ERRNOS:
                raise DiskFileNoSpace(str(err))
            raise
        self.committed = True
        return target

    def _finalize(self, target):
        df = self.df
        if df.fsync:
            os.fdatasync(self.fd)
        created = []
        if not os.path.isdir(df.hash_dir):
            created = makedirs_fsynced(df.hash_dir, fsync=False)
        try:
            os.rename(self.tmp_path, target)
        except FileNotFoundError:
            # an empty hash/suffix dir was just pruned by a cleanup
            created = makedirs_fsynced(df.hash_dir, fsync=False)
            os.rename(self.tmp_path, target)
        self.tmp_path = None
        if df.fsync:
            fsync_dir(df.hash_dir)
            for directory in created:
                fsync_dir(os.path.dirname(directory))
        os.close(self.fd)
        self.fd = None
        cleanup_ondisk_files(df.hash_dir, df.reclaim_age)
        invalidate_hash(df.suffix_dir, blocking=df.use_tpool)

    def abort(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        if self.tmp_path and not self.committed:
            try:
                os.unlink(self.tmp_path)
            except OSError:
                pass
            self.tmp_path = None
