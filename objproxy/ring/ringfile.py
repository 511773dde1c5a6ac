"""The on-disk container shared by ring files and builder files.

Why our own format: Swift's builder files are pickles, which are unsafe to
load and tied to Python class layout.  Ours is a gzip stream holding

    magic (8 bytes) | format version (uint16 BE) | JSON length (uint32 BE)
    | JSON header | array 1 | array 2 | ...

The JSON header holds everything small (metadata, devices) and describes
each array that follows (``{"typecode": "H", "length": N}``); arrays are
stored little-endian as produced by the ``array`` module.  Loading is a
gunzip plus ``array.frombytes`` per table, so a 2**18-partition ring loads
in milliseconds.  gzip's CRC and length trailer make truncation and bit rot
detectable; every problem is reported as one ``RingError`` sentence.

Writes are atomic: a temp file in the same directory, fsync, rename over the
target, fsync of the directory; a failure leaves the previous file intact.
Files are 0644, as Swift's: every server on the machine reads the rings,
whatever user it runs as.
"""
import array
import gzip
import json
import os
import struct
import sys
import tempfile
import zlib

from objproxy.common.exceptions import RingError

RING_MAGIC = b'OPXRING\n'
BUILDER_MAGIC = b'OPXBLDR\n'
FORMAT_VERSION = 1
_PREFIX = struct.Struct('>8sHI')
_MAX_HEADER = 64 * 1024 * 1024
_NEEDS_SWAP = sys.byteorder != 'little'


def _kind(magic):
    return 'ring' if magic == RING_MAGIC else 'builder'


def dump(path, magic, header, arrays, compresslevel=6):
    """Atomically write ``header`` (JSON-able dict) and ``arrays``."""
    header = dict(header)
    header['arrays'] = [{'typecode': a.typecode, 'length': len(a)}
                        for a in arrays]
    blob = json.dumps(header, sort_keys=True,
                      separators=(',', ':')).encode('utf-8')
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory,
                                    prefix='.' + os.path.basename(path),
                                    suffix='.tmp')
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600
        with os.fdopen(fd, 'wb') as raw:
            # mtime=0 keeps output byte-identical for identical content.
            with gzip.GzipFile(fileobj=raw, mode='wb', mtime=0,
                               compresslevel=compresslevel) as gz:
                gz.write(_PREFIX.pack(magic, FORMAT_VERSION, len(blob)))
                gz.write(blob)
                for arr in arrays:
                    if _NEEDS_SWAP:
                        arr = array.array(arr.typecode, arr)
                        arr.byteswap()
                    gz.write(memoryview(arr).cast('B'))
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def load(path, magic):
    """Read a file written by :func:`dump`; return ``(header, arrays)``.

    Raises RingError for a missing, unreadable, truncated, corrupt or
    foreign file, or one of a newer format version.
    """
    kind = _kind(magic)
    try:
        with open(path, 'rb') as raw:
            data = raw.read()
    except FileNotFoundError:
        raise RingError('%s file %s does not exist' % (kind, path))
    except IsADirectoryError:
        raise RingError('%s file %s is a directory' % (kind, path))
    except OSError as err:
        raise RingError('cannot read %s file %s: %s'
                        % (kind, path, err.strerror))
    if not data:
        raise RingError('%s file %s is empty' % (kind, path))
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise RingError('%s file %s is corrupt or truncated (%s)'
                        % (kind, path, err))
    if len(data) < _PREFIX.size:
        raise RingError('%s file %s is truncated' % (kind, path))
    found_magic, version, header_len = _PREFIX.unpack_from(data)
    if found_magic != magic:
        other = BUILDER_MAGIC if magic == RING_MAGIC else RING_MAGIC
        if found_magic == other:
            raise RingError('%s is a %s file, not a %s file'
                            % (path, _kind(other), kind))
        raise RingError('%s is not an objproxy %s file' % (path, kind))
    if version != FORMAT_VERSION:
        raise RingError('%s file %s has format version %d; this objproxy '
                        'reads version %d' % (kind, path, version,
                                              FORMAT_VERSION))
    offset = _PREFIX.size
    if header_len > _MAX_HEADER or offset + header_len > len(data):
        raise RingError('%s file %s is truncated' % (kind, path))
    try:
        header = json.loads(data[offset:offset + header_len])
        specs = header.pop('arrays')
        if not isinstance(header, dict) or not isinstance(specs, list):
            raise ValueError('bad header')
    except (ValueError, KeyError, AttributeError, TypeError):
        raise RingError('%s file %s has a corrupt header' % (kind, path))
    offset += header_len
    arrays = []
    view = memoryview(data)
    try:
        for spec in specs:
            arr = array.array(spec['typecode'])
            size = arr.itemsize * int(spec['length'])
            if size < 0 or offset + size > len(data):
                raise RingError('%s file %s is truncated' % (kind, path))
            arr.frombytes(view[offset:offset + size])
            if _NEEDS_SWAP:
                arr.byteswap()
            offset += size
            arrays.append(arr)
    except (ValueError, KeyError, TypeError):
        raise RingError('%s file %s has a corrupt table' % (kind, path))
    finally:
        view.release()
    if offset != len(data):
        raise RingError('%s file %s has trailing garbage' % (kind, path))
    return header, arrays
