"""Per-partition suffix hashes on a real device directory: what a suffix
hashes to, how writes invalidate it, and how hashes.json is kept."""
import fcntl
import hashlib
import json
import os

import pytest

from objproxy.common.exceptions import DiskFileError
from objproxy.common.timestamp import Timestamp
from objproxy.storage.layout import HASHES_FILE, INVALID_FILE, LOCK_FILE
from objproxy.storage.suffix_hashes import (
    PartitionLock, get_hashes, hash_suffix, invalidate_hash)

PART = 7
T1 = Timestamp(1700000001).internal
T2 = Timestamp(1700000002).internal


def put_file(device, suffix, name_hash, filename):
    """Create <device>/objects/<PART>/<suffix>/<hash>/<filename>."""
    hash_dir = os.path.join(device, 'objects', str(PART), suffix,
                            suffix_hash(name_hash, suffix))
    os.makedirs(hash_dir, exist_ok=True)
    with open(os.path.join(hash_dir, filename), 'w'):
        pass
    return hash_dir


def suffix_hash(name_hash, suffix):
    """A 32-hex hash name ending in ``suffix``, as hash_path would give."""
    return (name_hash * 32)[:29] + suffix


def part_dir(device):
    return os.path.join(device, 'objects', str(PART))


@pytest.fixture
def device(tmp_path):
    d = tmp_path / 'sdb'
    d.mkdir()
    return str(d)


def test_suffix_hash_is_md5_of_hash_and_file_names(device):
    hash_dir = put_file(device, 'abc', 'a', T1 + '.data')
    suffix_dir = os.path.dirname(hash_dir)
    expected = hashlib.md5(('%s/%s\n' % (os.path.basename(hash_dir),
                                         T1 + '.data')).encode()).hexdigest()
    assert hash_suffix(suffix_dir) == expected


def test_suffix_hash_ignores_obsolete_files_and_removes_them(device):
    """Two replicas that differ only in files already superseded agree."""
    clean = os.path.join(device, 'clean')
    dirty = os.path.join(device, 'dirty')
    for dev in (clean, dirty):
        put_file(dev, 'abc', 'a', T2 + '.data')
    hash_dir = put_file(dirty, 'abc', 'a', T1 + '.data')
    assert hash_suffix(os.path.dirname(hash_dir)) == hash_suffix(
        os.path.join(part_dir(clean), 'abc'))
    assert os.listdir(hash_dir) == [T2 + '.data']


def test_suffix_with_no_object_files_hashes_to_none_and_goes(device):
    hash_dir = put_file(device, 'abc', 'a', Timestamp(1000).internal + '.ts')
    suffix_dir = os.path.dirname(hash_dir)
    assert hash_suffix(suffix_dir, reclaim_age=60) is None
    assert not os.path.exists(suffix_dir)
    assert hash_suffix(suffix_dir) is None   # and a missing one is None too


def test_a_stray_file_in_a_suffix_does_not_stop_its_partition_hashing(
        device):
    """A plain file where a hash dir belongs holds no object: the suffix
    hashes as its objects alone, so replication of the partition goes on."""
    hash_dir = put_file(device, 'abc', 'a', T1 + '.data')
    suffix_dir = os.path.dirname(hash_dir)
    expected = hash_suffix(suffix_dir)
    with open(os.path.join(suffix_dir, 'strayfile'), 'w'):
        pass
    assert hash_suffix(suffix_dir) == expected
    assert get_hashes(device, PART)['abc'] == expected


def test_invalidate_appends_the_suffix_under_the_partition(device):
    suffix_dir = os.path.dirname(put_file(device, 'abc', 'a', T1 + '.data'))
    invalidate_hash(suffix_dir)
    invalidate_hash(suffix_dir, blocking=True)
    with open(os.path.join(part_dir(device), INVALID_FILE)) as fp:
        assert fp.read() == 'abc\nabc\n'


def test_invalidate_of_a_removed_partition_is_harmless(device):
    invalidate_hash(os.path.join(device, 'objects', '99', 'abc'))
    assert not os.path.exists(os.path.join(device, 'objects', '99'))


def test_get_hashes_of_missing_partition_is_empty(device):
    assert get_hashes(device, PART) == {}


def test_get_hashes_stores_version_1_json_and_drops_invalid(device):
    hash_dir = put_file(device, 'abc', 'a', T1 + '.data')
    invalidate_hash(os.path.dirname(hash_dir))
    hashes = get_hashes(device, PART)
    assert set(hashes) == {'abc'}
    with open(os.path.join(part_dir(device), HASHES_FILE)) as fp:
        assert json.load(fp) == {'version': 1, 'hashes': hashes}
    assert not os.path.exists(os.path.join(part_dir(device), INVALID_FILE))


def test_invalidated_suffix_is_rehashed_others_come_from_cache(device):
    a_dir = put_file(device, 'abc', 'a', T1 + '.data')
    b_dir = put_file(device, 'def', 'b', T1 + '.data')
    first = get_hashes(device, PART)
    # change both suffixes on disk, but only announce one of them
    for hash_dir in (a_dir, b_dir):
        os.rename(os.path.join(hash_dir, T1 + '.data'),
                  os.path.join(hash_dir, T2 + '.data'))
    invalidate_hash(os.path.dirname(a_dir))
    second = get_hashes(device, PART)
    assert second['abc'] != first['abc']
    assert second['def'] == first['def']
    third = get_hashes(device, PART, recalculate=['def'])
    assert third['def'] != first['def']


def test_corrupt_or_foreign_hashes_file_is_rebuilt_from_the_listing(device):
    put_file(device, 'abc', 'a', T1 + '.data')
    good = get_hashes(device, PART)
    path = os.path.join(part_dir(device), HASHES_FILE)
    for content in ('{not json', json.dumps({'version': 2, 'hashes': {}}),
                    json.dumps(['abc'])):
        with open(path, 'w') as fp:
            fp.write(content)
        assert get_hashes(device, PART) == good


def test_recalculate_ignores_names_that_are_not_suffixes(device):
    put_file(device, 'abc', 'a', T1 + '.data')
    hashes = get_hashes(device, PART, recalculate=['../x', 'abcd', 'ABC'])
    assert set(hashes) == {'abc'}


def test_rebuild_only_counts_three_hex_digit_directories(device):
    put_file(device, 'abc', 'a', T1 + '.data')
    os.makedirs(os.path.join(part_dir(device), 'xyz'))
    assert set(get_hashes(device, PART)) == {'abc'}


def test_emptied_suffix_leaves_the_hashes(device):
    hash_dir = put_file(device, 'abc', 'a', T1 + '.data')
    assert set(get_hashes(device, PART)) == {'abc'}
    os.unlink(os.path.join(hash_dir, T1 + '.data'))
    invalidate_hash(os.path.dirname(hash_dir))
    assert get_hashes(device, PART) == {}


def test_partition_lock_times_out_with_a_clear_error(device):
    os.makedirs(part_dir(device))
    fd = os.open(os.path.join(part_dir(device), LOCK_FILE),
                 os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(DiskFileError) as info:
            with PartitionLock(part_dir(device), timeout=0.05):
                pass
        assert 'timed out locking' in str(info.value)
    finally:
        os.close(fd)
    # released: the next taker gets it at once
    with PartitionLock(part_dir(device), timeout=0):
        pass
