"""Helpers for daemon unit tests: object files and a real HTTP server."""
import hashlib
import os
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage.object_format import (
    CHECKSUM, checksum, encode_metadata, encode_v2_tail)
from objproxy.storage.suffix_hashes import invalidate_hash


@pytest.fixture(autouse=True)
def hash_config():
    set_hash_config('unitprefix', 'unitsuffix')


def write_object(device_path, part, name, body=b'hello', timestamp=None,
                 ext='.data', block_size=0):
    """A file in diskfile's on-disk format; returns its path.

    ``block_size``: write a version-2 ``.data`` with CRC32C checksums of
    blocks of that size (0: version 1, as older nodes write).
    """
    timestamp = Timestamp(timestamp or Timestamp.now())
    name_hash = hash_path('AUTH_a', 'c', name)
    hash_dir = os.path.join(device_path, 'objects', str(part),
                            name_hash[-3:], name_hash)
    os.makedirs(hash_dir, exist_ok=True)
    meta = {'name': '/AUTH_a/c/%s' % name,
            'X-Timestamp': timestamp.internal}
    if ext == '.data':
        meta.update({'Content-Length': str(len(body)),
                     'ETag': hashlib.md5(body).hexdigest()})
    else:
        body = b''
    path = os.path.join(hash_dir, timestamp.internal + ext)
    if block_size and ext == '.data':
        table = b''.join(
            CHECKSUM.pack(checksum(body[at:at + block_size]))
            for at in range(0, len(body), block_size))
        tail = encode_v2_tail(meta, table, block_size)
    else:
        tail = encode_metadata(meta)
    with open(path, 'wb') as fp:
        fp.write(body + tail)
    invalidate_hash(os.path.dirname(hash_dir))
    return path


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(app) -> (ip, port) of a real loopback HTTP server."""
    servers = []

    def start(app):
        server = make_server('127.0.0.1', 0, app, handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return '127.0.0.1', server.server_port
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
