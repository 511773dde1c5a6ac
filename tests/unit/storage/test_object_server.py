"""ObjectServer driven through WSGI with real files in a tmp devices dir."""
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from webob import Request

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.common.exceptions import ConfigError
from objproxy.storage import diskfile
from objproxy.storage.object_format import read_info_fd
from objproxy.storage.object_response import CorruptBodyAbort
from objproxy.storage.object_server import ObjectServer
from objproxy.storage.suffix_hashes import get_hashes

BASE = int(time.time()) - 1000
PATH = '/sda/7/AUTH_a/c/o'


@pytest.fixture
def devices(tmp_path):
    set_hash_config('prefix', 'suffix')
    (tmp_path / 'sda').mkdir()
    return tmp_path


@pytest.fixture
def app(devices):
    return ObjectServer({'devices': str(devices), 'fsync': 'false',
                         'container_update_timeout': '5',
                         'node_timeout': '2'})


def ts(offset=0):
    return Timestamp(BASE + offset).internal


def req(app, path=PATH, method='GET', body=None, **headers):
    environ = {'REQUEST_METHOD': method}
    r = Request.blank(path, environ=environ, headers=headers)
    if body is not None:
        r.body = body
    return r.get_response(app)


def put(app, body=b'hello', t=0, path=PATH, **headers):
    headers.setdefault('X-Timestamp', ts(t))
    headers.setdefault('Content-Type', 'text/plain')
    return req(app, path, 'PUT', body, **headers)


def hash_dir(devices, path=PATH):
    dev, part, a, c, o = path.strip('/').split('/', 4)
    h = hash_path(a, c, o)
    return devices / dev / 'objects' / part / h[-3:] / h


def test_put_get_head_roundtrip(app, devices):
    resp = put(app, b'hello', **{'X-Object-Meta-Color': 'blue',
                                 'X-Object-Sysmeta-Thing': 's',
                                 'Content-Disposition': 'inline'})
    assert resp.status_int == 201
    assert resp.headers['ETag'] == hashlib.md5(b'hello').hexdigest()
    assert os.listdir(hash_dir(devices)) == [ts() + '.data']
    resp = req(app)
    assert resp.status_int == 200
    assert resp.body == b'hello'
    assert resp.headers['Content-Type'] == 'text/plain'
    assert resp.headers['X-Object-Meta-Color'] == 'blue'
    assert resp.headers['X-Object-Sysmeta-Thing'] == 's'
    assert resp.headers['Content-Disposition'] == 'inline'
    assert resp.headers['X-Backend-Timestamp'] == ts()
    assert resp.headers['X-Backend-Data-Timestamp'] == ts()
    assert resp.headers['Last-Modified'] == Timestamp(ts()).http_date
    head = req(app, method='HEAD')
    assert head.status_int == 200
    assert head.headers['Content-Length'] == '5'
    assert head.body == b''
    # nothing left in tmp
    assert os.listdir(devices / 'sda' / 'tmp') == []


def test_missing_and_bad_timestamp(app):
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT'}, body=b'x')
    assert r.get_response(app).status_int == 400
    for method in ('PUT', 'DELETE', 'POST'):
        resp = req(app, method=method, body=b'x',
                   **{'X-Timestamp': 'yesterday'})
        assert resp.status_int == 400, method
        assert b'X-Timestamp' in resp.body


def test_older_or_equal_put_conflicts(app):
    assert put(app, b'new', t=10).status_int == 201
    for t in (10, 5):
        resp = put(app, b'old', t=t)
        assert resp.status_int == 409
        assert resp.headers['X-Backend-Timestamp'] == ts(10)
    assert req(app).body == b'new'


def test_newer_put_replaces_and_cleans_old_files(app, devices):
    put(app, b'one', t=1)
    req(app, method='POST', **{'X-Timestamp': ts(2),
                               'X-Object-Meta-A': 'b'})
    put(app, b'two', t=3)
    assert sorted(os.listdir(hash_dir(devices))) == [ts(3) + '.data']
    resp = req(app)
    assert resp.body == b'two'
    assert 'X-Object-Meta-A' not in resp.headers


def test_etag_mismatch_is_422_and_leaves_nothing(app, devices):
    resp = put(app, b'data', ETag='0' * 32)
    assert resp.status_int == 422
    assert not hash_dir(devices).exists()
    assert os.listdir(devices / 'sda' / 'tmp') == []
    resp = put(app, b'data', ETag='"%s"' % hashlib.md5(b'data').hexdigest())
    assert resp.status_int == 201


def test_short_body_is_499_and_leaves_nothing(app, devices):
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT'}, headers={
        'X-Timestamp': ts(), 'Content-Type': 'a/b'})
    r.body = b'abc'
    r.environ['CONTENT_LENGTH'] = '10'
    resp = r.get_response(app)
    assert resp.status_int == 499
    assert not hash_dir(devices).exists()
    assert os.listdir(devices / 'sda' / 'tmp') == []


def test_client_timeout_is_408(devices):
    app = ObjectServer({'devices': str(devices), 'fsync': 'false',
                        'client_timeout': '0.05'})

    class Stalling(object):
        def read(self, n):
            import eventlet
            eventlet.sleep(1)
            return b'x'
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT',
                                     'wsgi.input': Stalling(),
                                     'CONTENT_LENGTH': '5'},
                      headers={'X-Timestamp': ts(), 'Content-Type': 'a/b'})
    resp = r.get_response(app)
    assert resp.status_int == 408
    assert os.listdir(devices / 'sda' / 'tmp') == []


def test_disconnect_is_499(app, devices):
    class Broken(object):
        def read(self, n):
            raise ConnectionResetError('gone')
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT',
                                     'wsgi.input': Broken(),
                                     'CONTENT_LENGTH': '5'},
                      headers={'X-Timestamp': ts(), 'Content-Type': 'a/b'})
    assert r.get_response(app).status_int == 499
    assert os.listdir(devices / 'sda' / 'tmp') == []


def test_chunked_put(app):
    class Chunks(object):
        def __init__(self):
            self.parts = [b'ab', b'cd', b'']

        def read(self, n):
            return self.parts.pop(0)
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT',
                                     'wsgi.input': Chunks()},
                      headers={'X-Timestamp': ts(), 'Content-Type': 'a/b',
                               'Transfer-Encoding': 'chunked'})
    assert r.get_response(app).status_int == 201
    assert req(app).body == b'abcd'


def test_no_length_is_411_bad_length_400(app):
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT'},
                      headers={'X-Timestamp': ts()})
    r.environ.pop('CONTENT_LENGTH', None)
    assert r.get_response(app).status_int == 411
    r = Request.blank(PATH, environ={'REQUEST_METHOD': 'PUT',
                                     'CONTENT_LENGTH': 'abc'},
                      headers={'X-Timestamp': ts()})
    assert r.get_response(app).status_int == 400


def test_no_space_is_507_and_leaves_nothing(app, devices, monkeypatch):
    import errno
    real_write = os.write

    def full(fd, data):
        if len(data) > 3:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_write(fd, data)
    monkeypatch.setattr(diskfile.os, 'write', full)
    resp = put(app, b'x' * 100)
    monkeypatch.undo()
    assert resp.status_int == 507
    assert os.listdir(devices / 'sda' / 'tmp') == []
    assert not hash_dir(devices).exists()


def test_a_failed_directory_fsync_is_not_acknowledged(devices, monkeypatch):
    """EIO from the hash dir's fsync: the rename may not survive a crash,
    so the PUT must not answer 201 (the proxy counts the replica failed)."""
    durable = ObjectServer({'devices': str(devices), 'fsync': 'true',
                            'mount_check': 'false'})

    def failing(path):
        raise OSError(5, 'Input/output error')
    monkeypatch.setattr(diskfile, 'fsync_dir', failing)
    resp = put(durable, b'x' * 100)
    monkeypatch.undo()
    assert resp.status_int == 500


def test_space_is_reserved_up_front(app, devices, monkeypatch):
    """A known length is reserved before the body is read: a disk without
    room refuses at once (507) and keeps nothing."""
    import errno
    reserved = []

    def no_room(fd, offset, size):
        reserved.append(size)
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(diskfile.os, 'posix_fallocate', no_room)
    resp = put(app, b'x' * 100)
    monkeypatch.undo()
    assert resp.status_int == 507
    assert reserved == [100]
    assert os.listdir(devices / 'sda' / 'tmp') == []
    assert not hash_dir(devices).exists()


def resident_bytes(path):
    """How much of a file is in the page cache (util-linux fincore)."""
    out = subprocess.run(['fincore', '--bytes', '--noheadings', '--output',
                          'RES', str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip())


def test_big_uploads_leave_the_page_cache_once_synced(devices):
    app = ObjectServer({'devices': str(devices), 'fsync': 'true',
                        'keep_cache_size': str(1 << 20)})
    small, big = PATH + '-small', PATH + '-big'
    assert put(app, b's' * (256 << 10), path=small).status_int == 201
    assert put(app, os.urandom(2 << 20), path=big).status_int == 201
    (small_file,) = hash_dir(devices, small).iterdir()
    (big_file,) = hash_dir(devices, big).iterdir()
    assert resident_bytes(small_file) > 0       # kept: small enough
    assert resident_bytes(big_file) == 0        # dropped after the fsync
    assert req(app, big).status_int == 200      # and still readable


def test_missing_device_507(app):
    resp = req(app, '/sdz/1/a/c/o')
    assert resp.status_int == 507
    resp = put(app, path='/sdz/1/a/c/o')
    assert resp.status_int == 507


@pytest.mark.parametrize('path', [
    '/../1/a/c/o', '/sda/-1/a/c/o', '/sda/abc/a/c/o',
    '/sda/4294967296/a/c/o', '/sda/1/a', '/sda/1/a/c', '/sda%00/1/a/c/o',
    '/sda/1/a/c/' + 'x' * 1025, '/sda/1/a/c/%ff',
    '/./1/a/c/o', '/sda/1//c/o', '/sda/ 1/a/c/o'])
def test_bad_paths_are_400(app, path):
    from urllib.parse import unquote_to_bytes
    r = Request.blank('/')
    r.environ['PATH_INFO'] = unquote_to_bytes(path).decode('latin-1')
    for method in ('GET', 'PUT', 'DELETE', 'HEAD'):
        r.method = method
        r.headers['X-Timestamp'] = ts()
        resp = r.get_response(app)
        assert resp.status_int == 400, (path, method, resp.body)


def test_max_name_ok(app):
    name = '/sda/1/a/c/' + 'x' * 1024
    assert put(app, path=name).status_int == 201
    assert req(app, name).body == b'hello'


def test_max_metadata_fits(app, devices):
    headers = {'X-Object-Meta-%02d' % i + 'n' * 20: 'v' * 20
               for i in range(90)}
    # 90 keys, overall (names + values) just under 4096
    total = sum(len(k) - len('X-Object-Meta-') + len(v)
                for k, v in headers.items())
    assert total <= 4096
    headers['X-Object-Sysmeta-Big'] = 's' * 4000
    assert put(app, b'x', **headers).status_int == 201
    resp = req(app)
    assert resp.status_int == 200
    for key, value in headers.items():
        assert resp.headers[key] == value
    resp = put(app, b'x', t=5, **{'X-Object-Meta-X': 'v' * 257})
    assert resp.status_int == 400


def test_delete(app, devices):
    resp = req(app, method='DELETE', **{'X-Timestamp': ts(1)})
    assert resp.status_int == 404
    put(app, t=2)
    resp = req(app, method='DELETE', **{'X-Timestamp': ts(1)})
    assert resp.status_int == 409
    assert resp.headers['X-Backend-Timestamp'] == ts(2)
    resp = req(app, method='DELETE', **{'X-Timestamp': ts(3)})
    assert resp.status_int == 204
    assert resp.headers['X-Backend-Timestamp'] == ts(3)
    assert os.listdir(hash_dir(devices)) == [ts(3) + '.ts']
    resp = req(app)
    assert resp.status_int == 404
    assert resp.headers['X-Backend-Timestamp'] == ts(3)
    assert req(app, method='HEAD').status_int == 404
    assert put(app, t=2.5).status_int == 409
    assert put(app, t=4).status_int == 201
    assert req(app).status_int == 200


def test_post_metadata(app, devices):
    assert req(app, method='POST', **{'X-Timestamp': ts(1)}).status_int \
        == 404
    put(app, t=1, **{'X-Object-Meta-Old': '1', 'X-Object-Sysmeta-S': 'k'})
    resp = req(app, method='POST', **{'X-Timestamp': ts(2),
                                      'X-Object-Meta-New': '2'})
    assert resp.status_int == 202
    resp = req(app)
    assert resp.headers['X-Object-Meta-New'] == '2'
    assert 'X-Object-Meta-Old' not in resp.headers
    assert resp.headers['X-Object-Sysmeta-S'] == 'k'
    assert resp.headers['X-Backend-Timestamp'] == ts(2)
    assert resp.headers['X-Backend-Data-Timestamp'] == ts(1)
    assert resp.body == b'hello'
    resp = req(app, method='POST', **{'X-Timestamp': ts(2)})
    assert resp.status_int == 409
    req(app, method='POST', **{'X-Timestamp': ts(3), 'X-Object-Meta-Z': 'z'})
    assert sorted(os.listdir(hash_dir(devices))) == [ts(1) + '.data',
                                                    ts(3) + '.meta']
    req(app, method='DELETE', **{'X-Timestamp': ts(4)})
    assert req(app, method='POST', **{'X-Timestamp': ts(5)}).status_int \
        == 404


def test_ranges(app):
    body = bytes(range(256)) * 4
    put(app, body)
    resp = req(app, Range='bytes=10-19')
    assert resp.status_int == 206
    assert resp.body == body[10:20]
    assert resp.headers['Content-Range'] == 'bytes 10-19/1024'
    resp = req(app, Range='bytes=-5')
    assert resp.body == body[-5:]
    resp = req(app, Range='bytes=1000-')
    assert resp.body == body[1000:]
    resp = req(app, Range='bytes=2000-3000')
    assert resp.status_int == 416
    assert resp.headers['Content-Range'] == 'bytes */1024'
    resp = req(app, Range='bytes=junk')
    assert resp.status_int == 200 and resp.body == body
    resp = req(app, Range='bytes=0-1,5-6,2000-')
    assert resp.status_int == 206
    ctype = resp.headers['Content-Type']
    assert ctype.startswith('multipart/byteranges;boundary=')
    boundary = ctype.split('=', 1)[1].encode()
    assert int(resp.headers['Content-Length']) == len(resp.body)
    parts = resp.body.split(b'--' + boundary)
    assert parts[-1] == b'--'
    assert parts[1].endswith(b'\r\n\r\n' + body[0:2] + b'\r\n')
    assert b'Content-Range: bytes 5-6/1024' in parts[2]
    assert parts[2].endswith(body[5:7] + b'\r\n')


def test_large_object_ranges_and_stream(app):
    body = os.urandom(300000)
    put(app, body)
    resp = req(app)
    assert resp.body == body
    resp = req(app, Range='bytes=100000-250000')
    assert resp.body == body[100000:250001]
    resp = req(app, Range='bytes=0-0,299999-')
    assert body[:1] in resp.body and body[-1:] in resp.body


def body_chunk_lengths(app, path=PATH):
    statuses = []
    body = app(Request.blank(path).environ,
               lambda status, headers, exc_info=None: statuses.append(status))
    try:
        return statuses, [len(chunk) for chunk in body]
    finally:
        getattr(body, 'close', lambda: None)()


@pytest.mark.parametrize('conf, chunk', [
    ({}, 256 * 1024), ({'disk_chunk_size': '65536'}, 65536)])
def test_get_streams_in_disk_chunk_size_pieces(devices, conf, chunk):
    app = ObjectServer(dict({'devices': str(devices), 'fsync': 'false'},
                            **conf))
    body = os.urandom(3 * chunk + 10)
    assert put(app, body).status_int == 201
    statuses, lengths = body_chunk_lengths(app)
    assert statuses[0].startswith('200')
    assert sum(lengths) == len(body)
    assert max(lengths) == chunk


def test_conditionals(app):
    put(app, b'abc')
    etag = hashlib.md5(b'abc').hexdigest()
    lm = Timestamp(ts()).http_date
    assert req(app, **{'If-Match': '"%s"' % etag}).status_int == 200
    assert req(app, **{'If-Match': '*'}).status_int == 200
    assert req(app, **{'If-Match': '"nope"'}).status_int == 412
    resp = req(app, **{'If-None-Match': '"%s"' % etag})
    assert resp.status_int == 304
    assert resp.headers['ETag'] == etag
    assert req(app, method='HEAD',
               **{'If-None-Match': '*'}).status_int == 304
    assert req(app, **{'If-None-Match': '"x"'}).status_int == 200
    assert req(app, **{'If-Modified-Since': lm}).status_int == 304
    assert req(app, **{'If-Modified-Since':
                       'Mon, 01 Jan 2001 00:00:00 GMT'}).status_int == 200
    assert req(app, **{'If-Unmodified-Since':
                       'Mon, 01 Jan 2001 00:00:00 GMT'}).status_int == 412
    assert req(app, **{'If-Unmodified-Since': lm}).status_int == 200
    assert req(app, **{'If-Modified-Since': 'garbage'}).status_int == 200
    # If-None-Match: * on PUT refuses to overwrite
    assert put(app, t=5, **{'If-None-Match': '*'}).status_int == 412


def test_corrupt_body_quarantined_small(app, devices):
    put(app, b'hello')
    path = hash_dir(devices) / (ts() + '.data')
    data = bytearray(path.read_bytes())
    data[0:5] = b'HELLO'
    path.write_bytes(bytes(data))
    resp = req(app)
    assert resp.status_int == 404
    assert not hash_dir(devices).exists()
    qdir = devices / 'sda' / 'quarantined' / 'objects'
    assert os.listdir(qdir) == [hash_dir(devices).name]
    assert req(app).status_int == 404


def read_until_abort(app, **headers):
    """(status, bytes sent, error) of a GET whose body may be cut short."""
    statuses, sent = [], []
    env = Request.blank(PATH, headers=headers).environ
    body = app(env, lambda status, hdrs, exc_info=None: statuses.append(
        status))
    try:
        for chunk in body:
            sent.append(chunk)
    except CorruptBodyAbort as err:
        return statuses[0], b''.join(sent), err
    finally:
        getattr(body, 'close', lambda: None)()
    return statuses[0], b''.join(sent), None


def corrupt(path, offset):
    with open(path, 'r+b') as fp:
        fp.seek(offset)
        byte = fp.read(1)
        fp.seek(offset)
        fp.write(bytes([byte[0] ^ 0xff]))


def test_corrupt_block_stops_get_before_its_bytes(app, devices):
    """The GET sends the verified blocks before the bad one, then aborts
    (the server drops the connection) and quarantines the file."""
    body = os.urandom(200000)
    put(app, body)
    corrupt(hash_dir(devices) / (ts() + '.data'), 150000)
    status, sent, err = read_until_abort(app)
    assert status.startswith('200')   # headers already gone out
    assert err is not None
    assert sent == body[:131072]      # blocks 0 and 1 (64 KiB each)
    assert not hash_dir(devices).exists()
    assert req(app).status_int == 404


def test_ranged_get_checks_only_the_blocks_it_touches(app, devices):
    body = os.urandom(300000)
    put(app, body)
    corrupt(hash_dir(devices) / (ts() + '.data'), 10)    # block 0
    resp = req(app, Range='bytes=70000-140000')           # blocks 1, 2
    assert resp.status_int == 206
    assert resp.body == body[70000:140001]
    assert hash_dir(devices).exists()
    status, sent, err = read_until_abort(app, Range='bytes=5-99')
    assert status.startswith('206') and err is not None and sent == b''
    assert not hash_dir(devices).exists()


def test_corrupt_block_in_a_multipart_range(app, devices):
    body = os.urandom(300000)
    put(app, body)
    corrupt(hash_dir(devices) / (ts() + '.data'), 299000)   # last block
    status, sent, err = read_until_abort(
        app, Range='bytes=0-9,299990-299995')
    assert status.startswith('206') and err is not None
    assert body[:10] in sent and body[299990:299996] not in sent
    assert not hash_dir(devices).exists()


def test_corrupt_version1_body_found_by_md5_at_the_end(devices):
    """A file written without block checksums (checksum_block_size = 0,
    as older nodes write) is still checked against its ETag."""
    app = ObjectServer({'devices': str(devices), 'fsync': 'false',
                        'checksum_block_size': '0'})
    body = os.urandom(200000)
    put(app, body)
    path = hash_dir(devices) / (ts() + '.data')
    assert read_info(path).block_size == 0
    corrupt(path, 150000)
    resp = req(app)
    assert resp.status_int == 200   # headers already gone out
    assert resp.body != body
    assert not hash_dir(devices).exists()
    assert req(app).status_int == 404
    # a range read of a version-1 file is not verified
    put(app, body, t=10)
    corrupt(hash_dir(devices) / (ts(10) + '.data'), 10)
    assert req(app, Range='bytes=0-99').status_int == 206
    assert hash_dir(devices).exists()


def test_version1_and_version2_files_side_by_side(devices):
    old = ObjectServer({'devices': str(devices), 'fsync': 'false',
                        'checksum_block_size': '0'})
    new = ObjectServer({'devices': str(devices), 'fsync': 'false'})
    v1, v2 = os.urandom(100000), os.urandom(100000)
    put(old, v1, path=PATH + '1')
    put(new, v2, path=PATH + '2')
    assert read_info(hash_dir(devices, PATH + '1') /
                     (ts() + '.data')).block_size == 0
    assert read_info(hash_dir(devices, PATH + '2') /
                     (ts() + '.data')).block_size == 65536
    for app in (old, new):
        assert req(app, PATH + '1').body == v1
        assert req(app, PATH + '2').body == v2
        assert req(app, PATH + '1', Range='bytes=-3').body == v1[-3:]
        assert req(app, PATH + '2', Range='bytes=-3').body == v2[-3:]


@pytest.mark.parametrize('value', ['1000', '256', '-1', 'big',
                                   str(128 * 1024 * 1024)])
def test_bad_checksum_block_size_is_refused(devices, value):
    with pytest.raises(ConfigError):
        ObjectServer({'devices': str(devices),
                      'checksum_block_size': value})


def read_info(path):
    fd = os.open(str(path), os.O_RDONLY)
    try:
        return read_info_fd(fd)
    finally:
        os.close(fd)


def test_size_mismatch_quarantined_up_front(app, devices):
    put(app, b'x' * 1000)
    path = hash_dir(devices) / (ts() + '.data')
    data = path.read_bytes()
    # drop body bytes but keep the trailer intact
    path.write_bytes(data[10:])
    assert req(app, method='HEAD').status_int == 404
    assert not hash_dir(devices).exists()


def test_expired_object_is_404(app):
    later = str(int(time.time()) + 2)
    put(app, **{'X-Delete-At': later})
    assert req(app).status_int == 200
    assert put(app, t=5, **{'X-Delete-At': '1'}).status_int == 400
    assert put(app, t=5, **{'X-Delete-At': 'soon'}).status_int == 400


def test_replicate(app, devices):
    put(app, b'a')
    put(app, b'b', path='/sda/7/AUTH_a/c/o2')
    r = Request.blank('/sda/7', environ={'REQUEST_METHOD': 'REPLICATE'})
    resp = r.get_response(app)
    assert resp.status_int == 200
    hashes = json.loads(resp.body)
    suffix = hash_path('AUTH_a', 'c', 'o')[-3:]
    assert suffix in hashes and len(hashes[suffix]) == 32
    assert hashes == get_hashes(str(devices / 'sda'), 7)
    old = hashes[suffix]
    req(app, method='DELETE', **{'X-Timestamp': ts(9)})
    r = Request.blank('/sda/7/%s' % suffix,
                      environ={'REQUEST_METHOD': 'REPLICATE'})
    assert json.loads(r.get_response(app).body)[suffix] != old
    r = Request.blank('/sda/7/zzz', environ={'REQUEST_METHOD': 'REPLICATE'})
    assert r.get_response(app).status_int == 400
    r = Request.blank('/sda/99', environ={'REQUEST_METHOD': 'REPLICATE'})
    assert json.loads(r.get_response(app).body) == {}


def test_bad_method(app):
    assert req(app, method='PATCH').status_int == 405


def test_tmp_cleaned_on_start(devices):
    tmp = devices / 'sda' / 'tmp'
    tmp.mkdir()
    (tmp / 'objw-dead.tmp').write_bytes(b'partial')
    (tmp / 'other-engineers-file').write_bytes(b'keep')
    ObjectServer({'devices': str(devices)})
    assert sorted(os.listdir(tmp)) == ['other-engineers-file']


def test_ignore_range_if_metadata_present(app):
    put(app, b'0123456789', **{'X-Static-Large-Object': 'True'})
    resp = req(app, Range='bytes=0-1', **{
        'X-Backend-Ignore-Range-If-Metadata-Present':
            'X-Static-Large-Object'})
    assert resp.status_int == 200 and resp.body == b'0123456789'
    resp = req(app, Range='bytes=0-1', **{
        'X-Backend-Ignore-Range-If-Metadata-Present': 'X-Other'})
    assert resp.status_int == 206 and resp.body == b'01'


def test_post_makes_and_unmakes_a_dynamic_large_object(app):
    put(app, t=1)
    req(app, method='POST', **{'X-Timestamp': ts(2),
                               'X-Object-Manifest': 'segs/prefix'})
    assert req(app, method='HEAD').headers['X-Object-Manifest'] == \
        'segs/prefix'
    req(app, method='POST', **{'X-Timestamp': ts(3)})
    assert 'X-Object-Manifest' not in req(app, method='HEAD').headers


class ContainerRecorder(BaseHTTPRequestHandler):
    """A stand-in container server remembering every update."""
    protocol_version = 'HTTP/1.1'

    def do_PUT(self):
        self.server.seen.append((self.command, self.path,
                                 dict(self.headers)))
        self.send_response(201)
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_DELETE = do_PUT

    def log_message(self, *args):
        pass


@pytest.fixture
def container_server():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), ContainerRecorder)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def update_targets(port):
    return {'X-Container-Host': '127.0.0.1:%d' % port,
            'X-Container-Device': 'sdc', 'X-Container-Partition': '9'}


def test_post_changes_content_type_and_later_posts_keep_it(app, devices):
    put(app, t=1, **{'Content-Type': 'text/plain', 'X-Object-Meta-A': 'a'})
    resp = req(app, method='POST', **{'X-Timestamp': ts(2),
                                      'Content-Type': 'image/jpeg'})
    assert resp.status_int == 202
    head = req(app, method='HEAD')
    assert head.headers['Content-Type'] == 'image/jpeg'
    assert head.headers['Last-Modified'] == Timestamp(ts(2)).http_date
    assert head.headers['X-Backend-Data-Timestamp'] == ts(1)
    assert head.headers['Content-Length'] == '5'
    assert 'Content-Type-Timestamp' not in head.headers
    # a POST without Content-Type changes the metadata, not the type
    resp = req(app, method='POST', **{'X-Timestamp': ts(3),
                                      'X-Object-Meta-B': 'b'})
    assert resp.status_int == 202
    get = req(app)
    assert get.headers['Content-Type'] == 'image/jpeg'
    assert get.headers['X-Object-Meta-B'] == 'b'
    assert 'X-Object-Meta-A' not in get.headers
    assert get.body == b'hello'
    assert sorted(os.listdir(hash_dir(devices))) == [
        ts(1) + '.data', '%s-%s.meta' % (ts(3), ts(2))]
    # a new PUT brings its own content type
    put(app, t=4, **{'Content-Type': 'text/x'})
    assert req(app, method='HEAD').headers['Content-Type'] == 'text/x'


def test_post_without_content_type_header_from_eventlet(app):
    """eventlet's server puts text/plain in the environ of a request
    that has no Content-Type; the raw headers show none was sent."""
    put(app, t=1, **{'Content-Type': 'image/png'})
    r = Request.blank(PATH, environ={
        'REQUEST_METHOD': 'POST', 'CONTENT_TYPE': 'text/plain',
        'headers_raw': (('X-Timestamp', ts(2)),)},
        headers={'X-Timestamp': ts(2)})
    assert r.get_response(app).status_int == 202
    assert req(app, method='HEAD').headers['Content-Type'] == 'image/png'


def test_post_content_type_cannot_set_swift_bytes(app):
    put(app, t=1, **{'Content-Type': 'text/plain'})
    req(app, method='POST', **{'X-Timestamp': ts(2),
                               'Content-Type': 'a/b; swift_bytes=99'})
    assert req(app, method='HEAD').headers['Content-Type'] == 'a/b'


def test_content_type_post_updates_container_listing(app, devices,
                                                     container_server):
    """The listing row gets the new content type at the POST's time, and
    the data file's size and ETag with the stored override (an SLO's),
    and keeps the SLO's swift_bytes; a POST without Content-Type sends
    no update."""
    port = container_server.server_port
    manifest = b'[{"path": "c/seg"}]'
    put(app, manifest, t=1, **{
        'Content-Type': 'application/octet-stream;swift_bytes=1048576',
        'X-Static-Large-Object': 'True',
        'X-Object-Sysmeta-Container-Update-Override-Etag':
            'abc; slo_etag=def'})
    resp = req(app, method='POST', **dict(update_targets(port), **{
        'X-Timestamp': ts(2), 'Content-Type': 'image/jpeg',
        'X-Trans-Id': 'tx-post'}))
    assert resp.status_int == 202
    assert len(container_server.seen) == 1
    method, path, headers = container_server.seen[0]
    assert (method, path) == ('PUT', '/sdc/9/AUTH_a/c/o')
    assert headers['X-Timestamp'] == ts(2)
    assert headers['X-Size'] == str(len(manifest))
    assert headers['X-Content-Type'] == 'image/jpeg;swift_bytes=1048576'
    assert headers['X-Etag'] == 'abc; slo_etag=def'
    assert headers['X-Trans-Id'] == 'tx-post'
    assert headers['X-Backend-Layer'] == 'container'
    head = req(app, method='HEAD')
    assert head.headers['Content-Type'] == \
        'image/jpeg;swift_bytes=1048576'
    assert head.headers['X-Static-Large-Object'] == 'True'
    resp = req(app, method='POST', **dict(update_targets(port), **{
        'X-Timestamp': ts(3), 'X-Object-Meta-X': 'y'}))
    assert resp.status_int == 202
    assert len(container_server.seen) == 1
    assert not (devices / 'sda' / 'async_pending').exists()


def test_content_type_post_update_failure_is_async_pending(app, devices):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    dead = s.getsockname()[1]
    s.close()
    put(app, t=1)
    resp = req(app, method='POST', **dict(update_targets(dead), **{
        'X-Timestamp': ts(2), 'Content-Type': 'image/gif'}))
    assert resp.status_int == 202
    pending = [p for p in (devices / 'sda' / 'async_pending').rglob('*')
               if p.is_file()]
    assert len(pending) == 1
    assert pending[0].name.endswith('-' + ts(2))
    record = json.loads(pending[0].read_text())
    assert record['op'] == 'PUT'
    assert record['headers']['X-Timestamp'] == ts(2)
    assert record['headers']['X-Content-Type'] == 'image/gif'
    assert record['headers']['X-Size'] == '5'
    assert record['headers']['X-Etag'] == hashlib.md5(b'hello').hexdigest()


def test_an_expired_object_cannot_be_revived_by_a_post(app):
    # replication may carry an already expired object; no waiting needed
    put(app, t=1, **{'X-Delete-At': str(int(time.time()) - 10),
                     'X-Backend-Replication': 'true'})
    resp = req(app, method='POST', **{'X-Timestamp': ts(5),
                                      'X-Object-Meta-Test': 'restored!'})
    assert resp.status_int == 404
    assert req(app).status_int == 404


def test_if_match_and_if_unmodified_since_are_both_checked(app):
    put(app, t=1)
    head = req(app, method='HEAD')
    etag, lm = head.headers['ETag'], head.headers['Last-Modified']
    old = 'Thu, 01 Jan 1970 00:00:10 GMT'
    assert req(app, **{'If-Match': etag,
                       'If-Unmodified-Since': lm}).status_int == 200
    assert req(app, **{'If-Match': etag,
                       'If-Unmodified-Since': old}).status_int == 412
    assert req(app, **{'If-Match': 'bogus',
                       'If-Unmodified-Since': lm}).status_int == 412
