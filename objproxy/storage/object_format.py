"""The object file format: body bytes, then metadata, then a trailer.

Why it is its own module: every reader of object files (the DiskFile
reader, the auditor, replication) needs to find and check a file's
metadata without knowing anything else about objects.

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
"""
import json
import os
import struct
import zlib

from objproxy.common.exceptions import DiskFileError

MAGIC = b'OPXM'
VERSION = 1
TRAILER = struct.Struct('>4sB3xII')
TRAILER_SIZE = TRAILER.size  # 16
MAX_METADATA_SIZE = 1024 * 1024
# Small files are read in one go (trailer, metadata and body together).
SMALL_READ = 65536


class CorruptFile(DiskFileError):
    """A file's trailer/metadata cannot be trusted."""


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
