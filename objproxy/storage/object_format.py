"""The object file format: body bytes, block checksums, metadata, trailer.

Why it is its own module: every reader of object files (the DiskFile
reader, the auditor, replication) needs to find and check a file's
metadata, and the checksum of any block of its body, without knowing
anything else about objects.

Swift keeps metadata in xattrs, but ext4 gives an inode only about 4 KiB
of xattr space, less than Swift's maximum metadata.  So every file keeps
its metadata inside itself, *after* the object bytes, which lets a PUT
stream the body straight to disk and add the metadata (whose ETag is only
known at the end) without a second pass.

Version 2 (every ``.data`` written now) also keeps a CRC32C of each
``block_size`` piece of the body, so a reader checks exactly the blocks
it sends, before sending them, instead of an MD5 of the whole body that
is only known after the last byte has left::

    +-------------+-----------------+-------------+--------------------+
    | object bytes| block checksums | metadata    | trailer, 16 bytes: |
    | (Content-   | u32 CRC32C per  | (JSON UTF-8,|  b'OPXM' magic     |
    |  Length)    | block, in order;| flat dict of|  u8  version (2)   |
    |             | v2 only         | str -> str) |  u8  log2(block    |
    |             |                 |             |      size); v1: 0  |
    |             |                 |             |  2 bytes zero      |
    |             |                 |             |  u32 metadata len  |
    |             |                 |             |  u32 crc32(meta)   |
    +-------------+-----------------+-------------+--------------------+

(integers big-endian; the last block may be short).  Version 1 is the
same without the checksum table (its block-size byte is zero); it is
still read, and still written for ``.ts`` and ``.meta`` files, which have
no object bytes.  The body size of a v2 file follows from the rest:
``rest = file size - metadata - trailer`` holds the body and 4 bytes per
block, so there are ``ceil(rest / (block_size + 4))`` blocks.

A file whose trailer or metadata CRC is wrong, or whose body length
differs from its ``Content-Length``, is corrupt and gets quarantined; so
is one whose block fails its checksum (found when the block is read).
"""
import json
import os
import struct
import zlib

import crc32c

from objproxy.common.exceptions import DiskFileError

MAGIC = b'OPXM'
VERSION_1 = 1
VERSION_2 = 2
TRAILER = struct.Struct('>4sBB2xII')
TRAILER_SIZE = TRAILER.size  # 16
CHECKSUM = struct.Struct('>I')
CHECKSUM_SIZE = CHECKSUM.size  # 4
MAX_METADATA_SIZE = 1024 * 1024
# Small files are read in one go (trailer, metadata and body together).
SMALL_READ = 65536
# 64 KiB blocks: see docs/object_integrity.md for the measurements.
DEFAULT_BLOCK_SIZE = 65536
MIN_BLOCK_SHIFT = 9      # 512 B
MAX_BLOCK_SHIFT = 26     # 64 MiB


class CorruptFile(DiskFileError):
    """A file's trailer/metadata cannot be trusted."""


class CorruptBlock(CorruptFile):
    """A body block does not match its stored checksum."""

    def __init__(self, offset, reason='block checksum mismatch'):
        super().__init__('%s at byte %d' % (reason, offset))
        self.offset = offset


class FileInfo(object):
    """What the end of a file says about the rest of it.

    ``block_size`` is 0 for a version-1 file (no checksum table).
    """
    __slots__ = ('metadata', 'body_size', 'block_size', 'tail')

    def __init__(self, metadata, body_size, block_size, tail=b''):
        self.metadata = metadata
        self.body_size = body_size
        self.block_size = block_size
        self.tail = tail

    @property
    def table_offset(self):
        return self.body_size

    @property
    def blocks(self):
        return block_count(self.body_size, self.block_size)


def block_count(body_size, block_size):
    return -(-body_size // block_size) if block_size else 0


def checksum(data, value=0):
    """CRC32C of ``data`` (continuing ``value``)."""
    return crc32c.crc32c(data, value)


def _trailer(version, shift, blob):
    return TRAILER.pack(MAGIC, version, shift, len(blob),
                        zlib.crc32(blob) & 0xffffffff)


def _blob(metadata):
    return json.dumps(metadata, ensure_ascii=False,
                      separators=(',', ':')).encode('utf-8', 'surrogatepass')


def encode_metadata(metadata):
    """Metadata and trailer of a version-1 file (``.ts``/``.meta``)."""
    blob = _blob(metadata)
    return blob + _trailer(VERSION_1, 0, blob)


def encode_v2_tail(metadata, table, block_size):
    """What follows the body of a version-2 file: the checksum table
    (``CHECKSUM``-packed, one per block), metadata and trailer."""
    shift = block_size.bit_length() - 1
    if block_size != 1 << shift or \
            not MIN_BLOCK_SHIFT <= shift <= MAX_BLOCK_SHIFT:
        raise ValueError('block size must be a power of two between '
                         '%d and %d' % (1 << MIN_BLOCK_SHIFT,
                                        1 << MAX_BLOCK_SHIFT))
    blob = _blob(metadata)
    return bytes(table) + blob + _trailer(VERSION_2, shift, blob)


def decode_tail(tail, file_size):
    """FileInfo from the last bytes of a file.

    ``tail`` must hold at least the trailer; returns (None, needed) when the
    metadata extends before ``tail`` so the caller reads more.
    """
    if len(tail) < TRAILER_SIZE:
        raise CorruptFile('file too short for a trailer')
    magic, version, shift, length, crc = TRAILER.unpack(tail[-TRAILER_SIZE:])
    if magic != MAGIC or version not in (VERSION_1, VERSION_2):
        raise CorruptFile('bad trailer magic/version')
    if version == VERSION_1:
        block_size = 0
    elif MIN_BLOCK_SHIFT <= shift <= MAX_BLOCK_SHIFT:
        block_size = 1 << shift
    else:
        raise CorruptFile('bad block size')
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
    rest = file_size - length - TRAILER_SIZE
    if not block_size:
        return FileInfo(metadata, rest, 0)
    blocks = -(-rest // (block_size + CHECKSUM_SIZE))
    body_size = rest - blocks * CHECKSUM_SIZE
    if block_count(body_size, block_size) != blocks:
        raise CorruptFile('bad block table size')
    return FileInfo(metadata, body_size, block_size)


def read_info_fd(fd, file_size=None):
    """FileInfo of an open file, ``tail`` holding its last bytes (all of
    a small file)."""
    if file_size is None:
        file_size = os.fstat(fd).st_size
    want = min(file_size, SMALL_READ)
    tail = os.pread(fd, want, file_size - want)
    info = decode_tail(tail, file_size)
    if isinstance(info, tuple):
        want = info[1]
        tail = os.pread(fd, want, file_size - want)
        info = decode_tail(tail, file_size)
    info.tail = tail
    return info


def read_metadata(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_info_fd(fd).metadata
    finally:
        os.close(fd)


def first_bad_block(data, block_size, checksums):
    """Index (within ``data``) of the first block whose CRC32C differs
    from ``checksums`` (packed table bytes), or None."""
    view = memoryview(data)
    want = struct.unpack('>%dI' % (len(checksums) // CHECKSUM_SIZE),
                         checksums)
    if len(want) != block_count(len(data), block_size):
        return 0
    for index, expected in enumerate(want):
        start = index * block_size
        if crc32c.crc32c(view[start:start + block_size]) != expected:
            return index
    return None


def find_bad_block(fd, info, chunk_size=SMALL_READ):
    """Body offset of the first block of an open version-2 file that does
    not match its checksum (or cannot be read), or None if all do."""
    block = info.block_size
    step = max(block, chunk_size // block * block)
    pos = 0
    while pos < info.body_size:
        size = min(step, info.body_size - pos)
        data = os.pread(fd, size, pos)
        table = os.pread(fd, block_count(size, block) * CHECKSUM_SIZE,
                         info.table_offset + pos // block * CHECKSUM_SIZE)
        bad = first_bad_block(data, block, table) if len(data) == size \
            else 0
        if bad is not None:
            return pos + bad * block
        pos += size
    return None
