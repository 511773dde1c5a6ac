"""On-disk object files: format, precedence, hashes, quarantine, tmp."""
import fcntl
import os
import time

import pytest

from objproxy.common.exceptions import (
    DiskFileDeleted, DiskFileNotExist, DiskFileQuarantined)
from objproxy.common.hashing import set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage.diskfile import DiskFile
from objproxy.storage.hashdir import (
    content_type_timestamp, gather_ondisk_files, meta_filename,
    split_filename)
from objproxy.storage.layout import INVALID_FILE
from objproxy.storage.object_format import SMALL_READ
from objproxy.storage.quarantine import clean_tmp
from objproxy.storage.suffix_hashes import (
    PartitionLock, get_hashes, hash_suffix)

NOW = int(time.time())


@pytest.fixture
def dev(tmp_path):
    set_hash_config('prefix', 'suffix')
    d = tmp_path / 'sda'
    d.mkdir()
    return str(d)


def make(dev, obj='o'):
    return DiskFile(dev, 5, 'a', 'c', obj, fsync=True,
                    use_tpool=False)


def write(df, body, t, **meta):
    w = df.writer()
    try:
        w.open()
        w.write(body)
        md = {'name': df.name, 'X-Timestamp': Timestamp(t).internal,
              'ETag': w.etag, 'Content-Length': str(len(body)),
              'Content-Type': 'a/b'}
        md.update(meta)
        return w.commit(md, Timestamp(t))
    finally:
        w.abort()


def test_format_roundtrip_and_layout(dev):
    df = make(dev)
    path = write(df, b'body', NOW, **{'X-Object-Meta-\u00e9': 'v\u00ff'})
    assert path == os.path.join(dev, 'objects', '5', df.name_hash[-3:],
                                df.name_hash, Timestamp(NOW).internal +
                                '.data')
    with open(path, 'rb') as fp:
        raw = fp.read()
    assert raw.startswith(b'body')
    assert raw[-16:-12] == b'OPXM'
    md = df.open()
    assert md['X-Object-Meta-\u00e9'] == 'v\u00ff'
    assert df.body_size == 4
    assert b''.join(df.read_body_range(0, 4, 2)) == b'body'
    df.close()


def test_metadata_larger_than_ext4_xattrs(dev):
    df = make(dev)
    big = {'X-Object-Meta-K%03d' % i: 'x' * 256 for i in range(90)}
    write(df, b'', NOW, **big)
    md = df.open()
    df.close()
    assert all(md[k] == v for k, v in big.items())


def test_large_body_metadata_read_from_tail(dev):
    df = make(dev)
    body = os.urandom(SMALL_READ * 2 + 7)
    write(df, body, NOW, **{'X-Object-Meta-Big': 'y' * 70000})
    df.open()
    assert b''.join(df.read_body_range(0, len(body), 65536)) == body
    assert b''.join(df.read_body_range(len(body) - 10, len(body), 3)) == \
        body[-10:]
    df.close()


def test_corrupt_trailer_quarantines(dev):
    df = make(dev)
    path = write(df, b'body', NOW)
    with open(path, 'r+b') as fp:
        fp.seek(-3, os.SEEK_END)
        fp.write(b'\x00\x00\x00')
    with pytest.raises(DiskFileQuarantined):
        df.open()
    assert not os.path.exists(df.hash_dir)
    qroot = os.path.join(dev, 'quarantined', 'objects')
    assert os.listdir(qroot) == [df.name_hash]
    # a second corrupt copy gets a unique name
    path = write(df, b'body', NOW + 1)
    with open(path, 'r+b') as fp:
        fp.truncate(5)
    with pytest.raises(DiskFileQuarantined):
        df.open()
    assert len(os.listdir(qroot)) == 2


def test_tombstone_and_meta_precedence(dev):
    df = make(dev)
    write(df, b'v1', NOW)
    df.write_meta(NOW + 1, {'X-Object-Meta-A': '1'})
    df.write_meta(NOW + 2, {'X-Object-Meta-B': '2'})
    md = df.open()
    df.close()
    assert md['X-Object-Meta-B'] == '2' and 'X-Object-Meta-A' not in md
    assert df.timestamp == Timestamp(NOW + 2)
    assert df.data_timestamp == Timestamp(NOW)
    assert sorted(os.listdir(df.hash_dir)) == [
        Timestamp(NOW).internal + '.data', Timestamp(NOW + 2).internal +
        '.meta']
    df.write_tombstone(NOW + 3)
    assert os.listdir(df.hash_dir) == [Timestamp(NOW + 3).internal + '.ts']
    with pytest.raises(DiskFileDeleted) as info:
        df.open()
    assert info.value.timestamp == Timestamp(NOW + 3)


def test_gather_ondisk_files():
    t = [Timestamp(NOW + i).internal for i in range(5)]
    info = gather_ondisk_files(
        [t[0] + '.data', t[1] + '.meta', t[2] + '.data', t[3] + '.meta',
         t[4] + '.meta', 'junk'])
    assert info['data'] == t[2] + '.data'
    assert info['meta'] == t[4] + '.meta'
    assert sorted(info['obsolete']) == sorted(
        [t[0] + '.data', t[1] + '.meta', t[3] + '.meta'])
    old = Timestamp(NOW - 10 ** 6).internal
    info = gather_ondisk_files([old + '.ts'], reclaim_age=1000)
    assert info['ts'] is None and info['obsolete'] == [old + '.ts']


def test_missing_object(dev):
    with pytest.raises(DiskFileNotExist):
        make(dev).open()


def test_abort_removes_tmp(dev):
    df = make(dev)
    w = df.writer().open()
    w.write(b'partial')
    assert len(os.listdir(os.path.join(dev, 'tmp'))) == 1
    w.abort()
    assert os.listdir(os.path.join(dev, 'tmp')) == []
    assert not os.path.exists(df.hash_dir)


def test_clean_tmp_spares_live_writers(dev):
    df = make(dev)
    live = df.writer().open()
    tmp = os.path.join(dev, 'tmp')
    with open(os.path.join(tmp, 'objw-orphan.tmp'), 'wb') as fp:
        fp.write(b'x')
    assert clean_tmp(dev) == 1
    assert os.listdir(tmp) == [os.path.basename(live.tmp_path)]
    # a stuck writer older than the bound goes too
    os.utime(live.tmp_path, (0, 0))
    assert clean_tmp(dev, max_age=60) == 1
    live.abort()


def test_get_hashes_tracks_changes(dev):
    assert get_hashes(dev, 5) == {}
    df = make(dev)
    write(df, b'x', NOW)
    h1 = get_hashes(dev, 5)
    assert list(h1) == [df.name_hash[-3:]]
    part = os.path.join(dev, 'objects', '5')
    assert not os.path.exists(os.path.join(part, INVALID_FILE))
    # unchanged: same answer from the cache
    assert get_hashes(dev, 5) == h1
    df.write_tombstone(NOW + 1)
    assert os.path.exists(os.path.join(part, INVALID_FILE))
    h2 = get_hashes(dev, 5)
    assert h2[df.name_hash[-3:]] != h1[df.name_hash[-3:]]
    # a file changed behind our back is only seen when recalculated
    os.rename(os.path.join(df.hash_dir, Timestamp(NOW + 1).internal +
                           '.ts'),
              os.path.join(df.hash_dir, Timestamp(NOW + 2).internal +
                           '.ts'))
    assert get_hashes(dev, 5) == h2
    h3 = get_hashes(dev, 5, recalculate=[df.name_hash[-3:]])
    assert h3 != h2
    # a suffix that empties disappears
    for name in os.listdir(df.hash_dir):
        os.unlink(os.path.join(df.hash_dir, name))
    assert get_hashes(dev, 5, recalculate=[df.name_hash[-3:]]) \
        == {}


def test_partition_lock_excludes_others(dev):
    df1 = make(dev, 'one')
    write(df1, b'x', NOW)
    h_a = hash_suffix(df1.suffix_dir)
    assert h_a is not None
    lock = PartitionLock(os.path.dirname(df1.suffix_dir))
    with lock:
        with pytest.raises(BlockingIOError):
            fd = os.open(lock.path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)


def test_meta_content_type_wins_over_older_data_only(dev):
    """A .meta's content type replaces the data file's, and is named
    after it; a newer data file (e.g. replicated in later) keeps its own
    content type even under that .meta, whose user metadata still
    applies."""
    df = make(dev)
    write(df, b'v1', NOW)
    df.write_meta(NOW + 1, {'Content-Type': 'image/jpeg',
                            'Content-Type-Timestamp': Timestamp(NOW + 1),
                            'X-Object-Meta-A': '1'})
    t = [Timestamp(NOW + i).internal for i in range(4)]
    assert sorted(os.listdir(df.hash_dir)) == [
        t[0] + '.data', '%s-%s.meta' % (t[1], t[1])]
    md = df.open()
    df.close()
    assert md['Content-Type'] == 'image/jpeg'
    assert md['Content-Type-Timestamp'] == t[1]
    assert df.timestamp == Timestamp(NOW + 1)
    # a later POST carries the content type forward in its own .meta
    df.write_meta(NOW + 3, {'Content-Type': 'image/jpeg',
                            'Content-Type-Timestamp': t[1],
                            'X-Object-Meta-B': '2'})
    assert sorted(os.listdir(df.hash_dir)) == [
        t[0] + '.data', '%s-%s.meta' % (t[3], t[1])]
    # a data file newer than the content type but older than the .meta
    write(df, b'v2', NOW + 2, **{'Content-Type': 'text/x'})
    md = df.open()
    df.close()
    assert md['Content-Type'] == 'text/x'
    assert 'Content-Type-Timestamp' not in md
    assert md['X-Object-Meta-B'] == '2'
    assert df.data_timestamp == Timestamp(NOW + 2)


def test_meta_content_type_keeps_swift_bytes_of_data(dev):
    df = make(dev)
    write(df, b'[]', NOW, **{
        'Content-Type': 'application/octet-stream;swift_bytes=1048576'})
    df.write_meta(NOW + 1, {'Content-Type': 'image/jpeg;q=1',
                            'Content-Type-Timestamp': Timestamp(NOW + 1)})
    md = df.open()
    df.close()
    assert md['Content-Type'] == 'image/jpeg;q=1;swift_bytes=1048576'
    assert md['Content-Length'] == '2'


def test_meta_knowing_newer_content_type_wins_at_same_timestamp():
    """Two replicas' .meta of one POST differ when only one knew an
    earlier content-type change; that one is kept (and so replicated)."""
    t = [Timestamp(NOW + i).internal for i in range(4)]
    plain, knows, knows_more = (
        t[3] + '.meta', '%s-%s.meta' % (t[3], t[1]),
        '%s-%s.meta' % (t[3], t[2]))
    info = gather_ondisk_files([t[0] + '.data', plain, knows])
    assert info['meta'] == knows and info['obsolete'] == [plain]
    info = gather_ondisk_files(
        [t[0] + '.data', knows, knows_more, plain])
    assert info['meta'] == knows_more
    assert sorted(info['obsolete']) == sorted([knows, plain])
    # a .meta at the data file's own timestamp is obsolete, named or not
    info = gather_ondisk_files(
        [t[3] + '.data', knows])
    assert info['meta'] is None and info['obsolete'] == [knows]


@pytest.mark.parametrize('name,parsed', [
    ('%s-%s.meta', True),
    ('%s-%s.data', False),                 # only .meta names carry one
    ('%s-junk.meta', False),
    ('%s-%s.meta.tmp', False),
])
def test_split_filename_with_content_type_timestamp(name, parsed):
    t1, t2 = Timestamp(NOW + 1).internal, Timestamp(NOW + 2).internal
    filename = name % ((t2, t1) if name.count('%s') == 2 else (t2,))
    ts, ext = split_filename(filename)
    if parsed:
        assert (ts, ext) == (Timestamp(t2), 'meta')
        assert content_type_timestamp(filename) == Timestamp(t1)
    else:
        assert ts is None
    # a content type newer than its own .meta cannot be
    assert split_filename('%s-%s.meta' % (t1, t2)) == (None, None)
    assert meta_filename(t2, t1) == '%s-%s.meta' % (t2, t1)
    assert meta_filename(t2) == t2 + '.meta'
