"""Which files in a hash directory decide an object, and cleaning up the
rest on a real directory."""
import os

import pytest

from objproxy.common.timestamp import Timestamp
from objproxy.storage.hashdir import (
    cleanup_ondisk_files, content_type_timestamp, gather_ondisk_files,
    meta_filename, split_filename)

NOW = 1700000000


def ts(offset_seconds, offset=0):
    return Timestamp(NOW + offset_seconds, offset=offset).internal


def touch(directory, *names):
    for name in names:
        with open(os.path.join(str(directory), name), 'w'):
            pass


def test_newer_tombstone_makes_older_data_and_meta_obsolete():
    names = [ts(0) + '.data', ts(1) + '.meta', ts(2) + '.ts']
    info = gather_ondisk_files(names)
    assert info['ts'] == ts(2) + '.ts'
    assert info['data'] is None and info['meta'] is None
    assert sorted(info['obsolete']) == sorted(names[:2])


def test_meta_newer_than_tombstone_is_obsolete():
    """A POST to a deleted object means nothing once the delete is known."""
    info = gather_ondisk_files([ts(0) + '.ts', ts(5) + '.meta'])
    assert info['ts'] == ts(0) + '.ts'
    assert info['meta'] is None
    assert info['obsolete'] == [ts(5) + '.meta']


def test_newer_data_makes_older_tombstone_obsolete():
    info = gather_ondisk_files([ts(0) + '.ts', ts(1) + '.data'])
    assert info['data'] == ts(1) + '.data' and info['ts'] is None
    assert info['obsolete'] == [ts(0) + '.ts']


def test_meta_older_than_data_is_obsolete():
    info = gather_ondisk_files([ts(0) + '.meta', ts(1) + '.data'])
    assert info['data'] == ts(1) + '.data' and info['meta'] is None
    assert info['obsolete'] == [ts(0) + '.meta']


def test_timestamp_offset_orders_files_of_the_same_second():
    older, newer = ts(0, offset=1) + '.data', ts(0, offset=2) + '.data'
    info = gather_ondisk_files([newer, older])
    assert info['data'] == newer and info['obsolete'] == [older]


def test_names_that_are_not_object_files_are_ignored():
    info = gather_ondisk_files(['.lock', 'junk.data', ts(0) + '.tmp',
                                ts(0) + '.data'])
    assert info['data'] == ts(0) + '.data'
    assert info['obsolete'] == []


def test_empty_listing_decides_nothing():
    assert gather_ondisk_files([]) == {
        'data': None, 'ts': None, 'meta': None, 'obsolete': []}


def test_tombstone_is_reclaimed_only_after_reclaim_age():
    now = NOW + 1000
    young = gather_ondisk_files([ts(0) + '.ts'], reclaim_age=1000, now=now)
    assert young['ts'] == ts(0) + '.ts' and young['obsolete'] == []
    old = gather_ondisk_files([ts(0) + '.ts'], reclaim_age=999, now=now)
    assert old['ts'] is None and old['obsolete'] == [ts(0) + '.ts']


def test_data_is_never_reclaimed_by_age():
    info = gather_ondisk_files([ts(0) + '.data'], reclaim_age=1,
                               now=NOW + 10 ** 6)
    assert info['data'] == ts(0) + '.data' and info['obsolete'] == []


@pytest.mark.parametrize('name', [
    # the content-type timestamp must be written in its internal form
    '%s-%s.meta' % (ts(2), Timestamp(NOW + 1).normal.rstrip('0')),
    '%s-%s.meta' % (ts(2), 'not-a-time'),
    'notatime.data',
    ts(0),                       # no extension at all
])
def test_malformed_names_do_not_parse(name):
    assert split_filename(name) == (None, None)
    assert content_type_timestamp(name) is None


def test_meta_filename_round_trips_through_the_parser():
    name = meta_filename(NOW + 2, NOW + 1)
    assert split_filename(name) == (Timestamp(NOW + 2), 'meta')
    assert content_type_timestamp(name) == Timestamp(NOW + 1)
    assert content_type_timestamp(meta_filename(NOW + 2)) is None


def test_cleanup_removes_obsolete_files_and_reports_the_rest(tmp_path):
    hash_dir = tmp_path / 'hash'
    hash_dir.mkdir()
    touch(hash_dir, ts(0) + '.data', ts(1) + '.meta', ts(2) + '.data',
          ts(3) + '.meta')
    info = cleanup_ondisk_files(str(hash_dir))
    assert sorted(os.listdir(str(hash_dir))) == [
        ts(2) + '.data', ts(3) + '.meta']
    assert info['files'] == [ts(2) + '.data', ts(3) + '.meta']
    assert info['data'] == ts(2) + '.data'


def test_cleanup_removes_reclaimed_tombstone_and_the_empty_dir(tmp_path):
    hash_dir = tmp_path / 'hash'
    hash_dir.mkdir()
    old = Timestamp(1000).internal + '.ts'
    touch(hash_dir, old)
    info = cleanup_ondisk_files(str(hash_dir), reclaim_age=60)
    assert info['files'] == [] and info['ts'] is None
    assert not hash_dir.exists()


def test_cleanup_keeps_dir_holding_unknown_files(tmp_path):
    """Only object files are ever deleted; a stray file keeps the dir."""
    hash_dir = tmp_path / 'hash'
    hash_dir.mkdir()
    touch(hash_dir, 'stray', Timestamp(1000).internal + '.ts')
    info = cleanup_ondisk_files(str(hash_dir), reclaim_age=60)
    assert info['files'] == []
    assert os.listdir(str(hash_dir)) == ['stray']


def test_cleanup_of_missing_dir_or_plain_file_reports_nothing(tmp_path):
    missing = cleanup_ondisk_files(str(tmp_path / 'gone'))
    assert (missing['data'], missing['ts'], missing['meta']) == (
        None, None, None)
    plain = tmp_path / 'plain'
    plain.write_bytes(b'x')
    info = cleanup_ondisk_files(str(plain))
    assert (info['data'], info['ts'], info['meta']) == (None, None, None)
    assert plain.read_bytes() == b'x'
