"""Objects on disk: atomic writes and verified reads of one object.

``DiskFile`` finds, opens and reads an object's current file (merging a
newer ``.meta``), writes tombstones and metadata updates; its
``DiskFileWriter`` streams a new file in.  The pieces it stands on have
their own modules: layout.py (directories and names), object_format.py
(the file format: block checksums, metadata, trailer), hashdir.py (which
files count), suffix_hashes.py (hashes.json for replication),
quarantine.py and dirsync.py; import those names from there.

Reading: ``read_verified_range`` reads whole blocks of a version-2 file
and checks each against its CRC32C before handing out any of its bytes
(docs/object_integrity.md); ``read_body_range`` reads unchecked bytes
(version-1 files, whose whole-body MD5 the GET path checks instead).

Atomicity: a write goes to ``<device>/tmp``, is fsynced, renamed into its
hash directory (same filesystem, so atomic) and the directory is fsynced;
only then are older files of the object removed.  A crash at any moment
therefore leaves either the old files or the new file, never a torn one;
a leftover temp file is removed by ``clean_tmp`` when a server starts (a
live writer holds an flock on its temp file, so only orphans go).
"""
import errno
import fcntl
import hashlib
import os
import uuid

from eventlet import sleep

from objproxy.common.exceptions import (
    DiskFileDeleted, DiskFileError, DiskFileNoSpace, DiskFileNotExist,
    DiskFileQuarantined)
from objproxy.common.hashing import hash_path
from objproxy.common.offload import run_in_thread, run_inline
from objproxy.common.timestamp import Timestamp
from objproxy.storage.dirsync import fsync_dir, makedirs_fsynced
from objproxy.storage.hashdir import (
    cleanup_ondisk_files, gather_ondisk_files, meta_filename,
    split_filename)
from objproxy.storage.layout import (
    DATADIR, DEFAULT_KEEP_CACHE_SIZE, DEFAULT_RECLAIM_AGE, NOSPACE_ERRNOS,
    TMP_PREFIX, TMPDIR)
from objproxy.storage.object_format import (
    CHECKSUM, CHECKSUM_SIZE, DEFAULT_BLOCK_SIZE, CorruptBlock, CorruptFile,
    checksum, encode_metadata, encode_v2_tail, first_bad_block,
    read_info_fd, read_metadata)
from objproxy.storage.quarantine import quarantine_dir
from objproxy.storage.suffix_hashes import invalidate_hash

# Checksums read from a big file's table at a time (4 KiB of table).
TABLE_WINDOW = 1024


class DiskFile(object):
    """One object's hash directory: find, read, write, delete it."""

    def __init__(self, device_path, partition, account, container, obj,
                 name_hash=None, fsync=True, use_tpool=True,
                 reclaim_age=DEFAULT_RECLAIM_AGE,
                 keep_cache_size=DEFAULT_KEEP_CACHE_SIZE,
                 write_block_size=DEFAULT_BLOCK_SIZE):
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
        # where the blocking commit work (fdatasync, rename, dir fsync) runs
        self.offload = run_in_thread if use_tpool else run_inline
        self.reclaim_age = reclaim_age
        self.keep_cache_size = keep_cache_size
        # block size of the checksums of new .data files; 0 writes
        # version-1 files (no checksums), as older nodes read
        self.write_block_size = write_block_size
        self._reset()

    def _reset(self):
        self.data_file = self.ts_file = self.meta_file = None
        self.data_metadata = None
        self.meta_metadata = {}    # the current .meta's own keys, if any
        self.metadata = None
        self.data_timestamp = None
        self.timestamp = None      # newest of data/meta (or the tombstone)
        self.body_size = None
        self.fd = None
        self.tail = None
        self.file_size = None
        self.block_size = 0        # 0: a version-1 file, no checksums

    # ---------------------------------------------------------- lookups
    def classify(self):
        try:
            files = os.listdir(self.hash_dir)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        return gather_ondisk_files(files)

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
            info = read_info_fd(fd, st.st_size)
            metadata, body_size, tail = \
                info.metadata, info.body_size, info.tail
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
        self.block_size = info.block_size
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
                self.meta_metadata = meta
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
    def _pread(self, offset, size):
        """``size`` bytes of the file at ``offset`` (from the tail already
        in memory when it holds them)."""
        tail_start = self.file_size - len(self.tail)
        if offset >= tail_start:
            return self.tail[offset - tail_start:offset - tail_start + size]
        return os.pread(self.fd, size, offset)

    def read_body_range(self, start, stop, chunk_size):
        """Yield body bytes [start, stop) (no verification)."""
        pos = start
        while pos < stop:
            data = self._pread(pos, min(chunk_size, stop - pos))
            if not data:
                raise DiskFileError('unexpected end of file')
            if pos != start:
                sleep(0)  # let other requests run between chunks
            pos += len(data)
            yield data

    def read_verified_range(self, start, stop, chunk_size):
        """Yield body bytes [start, stop) of a version-2 file, reading the
        whole blocks they lie in and checking each block's CRC32C before
        any of its bytes are yielded.  The bytes before a bad block are
        yielded, then CorruptBlock (with the block's offset) is raised."""
        block = self.block_size
        step = max(block, chunk_size // block * block)
        pos = start // block * block
        end = min(-(-stop // block) * block, self.body_size)
        table = b''
        table_first = 0        # block number of table[0]
        while pos < end:
            size = min(step, end - pos)
            data = self._pread(pos, size)
            first = pos // block
            count = -(-size // block)
            if first + count > table_first + len(table) // CHECKSUM_SIZE:
                table_first = first
                table = self._pread(
                    self.body_size + first * CHECKSUM_SIZE,
                    max(count, TABLE_WINDOW) * CHECKSUM_SIZE)
            at = (first - table_first) * CHECKSUM_SIZE
            bad = first_bad_block(data, block,
                                  table[at:at + count * CHECKSUM_SIZE]) \
                if len(data) == size else 0
            good_end = pos + size if bad is None else pos + bad * block
            lo, hi = max(start, pos), min(stop, good_end)
            if lo < hi:
                yield data[lo - pos:hi - pos]
            if bad is not None:
                raise CorruptBlock(pos + bad * block)
            pos += size
            if pos < end:
                sleep(0)  # let other requests run between chunks

    def check_body(self, body):
        """Raise CorruptBlock unless ``body`` (the whole body, already in
        memory) matches the file's block checksums."""
        table = self._pread(self.body_size,
                            -(-len(body) // self.block_size) *
                            CHECKSUM_SIZE)
        bad = first_bad_block(body, self.block_size, table)
        if bad is not None:
            raise CorruptBlock(bad * self.block_size)

    # ---------------------------------------------------------- writing
    def writer(self):
        return DiskFileWriter(self)

    def write_tombstone(self, timestamp, metadata=None):
        meta = dict(metadata or {})
        meta['name'] = self.name
        meta['X-Timestamp'] = Timestamp(timestamp).internal
        self._write_small(Timestamp(timestamp), '.ts', meta)

    def write_meta(self, timestamp, metadata):
        """Write a .meta; one carrying ``Content-Type`` must carry its
        ``Content-Type-Timestamp`` too, and is named after both."""
        meta = dict(metadata)
        meta['name'] = self.name
        meta['X-Timestamp'] = Timestamp(timestamp).internal
        ctype_ts = None
        if 'Content-Type' in meta:
            ctype_ts = Timestamp(meta['Content-Type-Timestamp'])
            meta['Content-Type-Timestamp'] = ctype_ts.internal
        else:
            meta.pop('Content-Type-Timestamp', None)
        self._write_small(Timestamp(timestamp), '.meta', meta,
                          meta_filename(timestamp, ctype_ts))

    def _write_small(self, timestamp, ext, metadata, filename=None):
        w = DiskFileWriter(self)
        try:
            w.open()
            w.commit(metadata, timestamp, ext, filename)
        finally:
            w.abort()


def merge_metadata(data_meta, meta_meta):
    """Data-file metadata with a .meta's user metadata replacing its own.

    A content type in the .meta (``Content-Type`` with its
    ``Content-Type-Timestamp``) replaces the data file's only when it was
    set after that data file was written: a replica that gets a newer
    PUT by replication keeps the PUT's content type even if it holds a
    .meta from before.  An SLO's ``;swift_bytes=N`` on the data file's
    content type (the manifest's total size, which listings show) stays.
    """
    merged = dict((k, v) for k, v in data_meta.items()
                  if not is_replaceable_key(k))
    for key, value in meta_meta.items():
        if key in ('name', 'Content-Type', 'Content-Type-Timestamp'):
            continue
        merged[key] = value
    ctype = meta_content_type(data_meta, meta_meta)
    if ctype is not None:
        merged['Content-Type'] = ctype
        merged['Content-Type-Timestamp'] = meta_meta['Content-Type-Timestamp']
    return merged


def meta_content_type(data_meta, meta_meta):
    """The content type a .meta gives the object, or None when the data
    file's own stays (none in the .meta, or older than the data)."""
    ctype = meta_meta.get('Content-Type')
    try:
        when = Timestamp(meta_meta.get('Content-Type-Timestamp'))
        data_when = Timestamp(data_meta.get('X-Timestamp'))
    except (ValueError, TypeError):
        return None
    if ctype is None or when <= data_when:
        return None
    swift_bytes = swift_bytes_param(data_meta.get('Content-Type', ''))
    if swift_bytes is not None:
        ctype = '%s;swift_bytes=%s' % (strip_swift_bytes(ctype), swift_bytes)
    return ctype


def _ctype_params(ctype):
    return [p.strip() for p in ctype.split(';')]


def swift_bytes_param(ctype):
    """N of a ``;swift_bytes=N`` content-type parameter, or None."""
    for param in _ctype_params(ctype)[1:]:
        key, sep, value = param.partition('=')
        if sep and key.strip().lower() == 'swift_bytes':
            return value.strip()
    return None


def strip_swift_bytes(ctype):
    """A content type without its ``swift_bytes`` parameter."""
    params = _ctype_params(ctype)
    return ';'.join([params[0]] + [
        p for p in params[1:]
        if p.partition('=')[0].strip().lower() != 'swift_bytes'])


# Headers a POST replaces (everything else stays from the PUT).
POST_REPLACEABLE = frozenset((
    'content-disposition', 'content-encoding', 'x-delete-at',
    'cache-control', 'content-language', 'expires', 'x-robots-tag',
    'x-object-manifest'))      # a POST makes or unmakes a DLO, as in Swift


def is_replaceable_key(key):
    lkey = key.lower()
    return (lkey.startswith('x-object-meta-') or
            lkey.startswith('x-object-transient-sysmeta-') or
            lkey in POST_REPLACEABLE)


class DiskFileWriter(object):
    """Streams one new file to <device>/tmp and commits it atomically.

    ``write`` appends body bytes (updating the MD5, the ETag, and the
    CRC32C of the current block); ``commit`` appends the block checksums
    (a ``.data`` only) and the metadata trailer, fsyncs, renames into the
    hash dir, fsyncs the dir, removes older files and invalidates the
    suffix hash.  ``abort`` (always
    call it, e.g. in ``finally``) removes the temp file if not committed.
    """

    def __init__(self, diskfile):
        self.df = diskfile
        self.fd = None
        self.tmp_path = None
        self.md5 = hashlib.md5()
        self.bytes_written = 0
        self.committed = False
        self.block_size = diskfile.write_block_size
        self._table = bytearray()   # 4 bytes a block: 320 KiB for 5 GiB
        self._crc = 0               # CRC32C of the current block so far
        self._fill = 0              # its bytes so far

    def open(self, size=None):
        """Create the temp file; with ``size`` (the body's length, when
        known) reserve its blocks up front, as Swift does, so a full disk
        is refused before any of the body is read."""
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
        if size:
            self._reserve(size)
        return self

    def _reserve(self, size):
        try:
            os.posix_fallocate(self.fd, 0, size)
        except OSError as err:
            if err.errno in NOSPACE_ERRNOS:
                raise DiskFileNoSpace(str(err))
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise  # a file system without fallocate just goes on

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
        if self.block_size:
            self._checksum(data)
        self._write_all(data)
        self.bytes_written += len(data)

    def _checksum(self, data):
        view = memoryview(data)
        block = self.block_size
        while view:
            take = min(block - self._fill, len(view))
            self._crc = checksum(view[:take], self._crc)
            self._fill += take
            view = view[take:]
            if self._fill == block:
                self._end_block()

    def _end_block(self):
        self._table += CHECKSUM.pack(self._crc)
        self._crc = self._fill = 0

    def _tail(self, metadata, ext):
        if ext != '.data' or not self.block_size:
            return encode_metadata(metadata)
        if self._fill:
            self._end_block()
        return encode_v2_tail(metadata, self._table, self.block_size)

    @property
    def etag(self):
        return self.md5.hexdigest()

    def commit(self, metadata, timestamp, ext='.data', filename=None):
        """Make the file visible as ``<timestamp><ext>`` (or as
        ``filename``, a name hashdir understands)."""
        timestamp = Timestamp(timestamp)
        self._write_all(self._tail(metadata, ext))
        target = os.path.join(self.df.hash_dir,
                              filename or timestamp.internal + ext)
        try:
            self.df.offload(self._finalize, target)
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
            if self.bytes_written > df.keep_cache_size:
                # Swift does this too: the pages are clean now, and leaving
                # big uploads in the page cache makes every later write pay
                # for reclaiming them (measured: twice the kernel time)
                os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
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
