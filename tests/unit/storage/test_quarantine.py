"""Moving a hash directory into quarantine and removing orphaned upload
files, on a real device directory."""
import fcntl
import os

import pytest

from objproxy.storage.layout import INVALID_FILE, TMP_PREFIX
from objproxy.storage.quarantine import clean_tmp, quarantine_dir

NAME_HASH = 'd41d8cd98f00b204e9800998ecf8abc0'


@pytest.fixture
def device(tmp_path):
    d = tmp_path / 'sdc'
    d.mkdir()
    return str(d)


def make_hash_dir(device, body=b'bad'):
    hash_dir = os.path.join(device, 'objects', '3', NAME_HASH[-3:],
                            NAME_HASH)
    os.makedirs(hash_dir)
    with open(os.path.join(hash_dir, '1700000000.00000.data'), 'wb') as fp:
        fp.write(body)
    return hash_dir


def test_quarantine_moves_the_hash_dir_aside_with_its_files(device):
    hash_dir = make_hash_dir(device)
    target = quarantine_dir(device, hash_dir)
    assert target == os.path.join(device, 'quarantined', 'objects',
                                  NAME_HASH)
    assert not os.path.exists(hash_dir)
    with open(os.path.join(target, '1700000000.00000.data'), 'rb') as fp:
        assert fp.read() == b'bad'


def test_quarantine_fsyncs_both_ends_of_the_move(device, monkeypatch):
    """A crash after the move neither puts the damaged copy back in
    service nor loses it."""
    from objproxy.storage import quarantine
    synced = []
    monkeypatch.setattr(quarantine, 'fsync_dir', synced.append)
    hash_dir = make_hash_dir(device)
    quarantine_dir(device, hash_dir)
    assert synced == [os.path.join(device, 'quarantined', 'objects'),
                      os.path.dirname(hash_dir)]


def test_quarantine_invalidates_the_suffix_for_replication(device):
    hash_dir = make_hash_dir(device)
    quarantine_dir(device, hash_dir)
    with open(os.path.join(device, 'objects', '3', INVALID_FILE)) as fp:
        assert fp.read().split() == [NAME_HASH[-3:]]


def test_second_quarantine_of_one_hash_keeps_both_copies(device):
    first = quarantine_dir(device, make_hash_dir(device, b'one'))
    second = quarantine_dir(device, make_hash_dir(device, b'two'))
    assert second != first
    assert os.path.basename(second).startswith(NAME_HASH + '-')
    for path, body in ((first, b'one'), (second, b'two')):
        with open(os.path.join(path, '1700000000.00000.data'), 'rb') as fp:
            assert fp.read() == body


def test_quarantine_of_a_vanished_dir_raises(device):
    with pytest.raises(FileNotFoundError):
        quarantine_dir(device, os.path.join(device, 'objects', '3', 'abc',
                                            NAME_HASH))


def make_tmp(device, name):
    tmp_dir = os.path.join(device, 'tmp')
    os.makedirs(tmp_dir, exist_ok=True)
    path = os.path.join(tmp_dir, name)
    with open(path, 'wb') as fp:
        fp.write(b'partial upload')
    return path


def test_clean_tmp_removes_unlocked_temp_files(device):
    orphan = make_tmp(device, TMP_PREFIX + 'dead.tmp')
    assert clean_tmp(device) == 1
    assert not os.path.exists(orphan)


def test_clean_tmp_leaves_files_it_does_not_own(device):
    foreign = make_tmp(device, 'someone-elses.tmp')
    assert clean_tmp(device) == 0
    assert os.path.exists(foreign)


def test_clean_tmp_spares_a_locked_upload_until_it_is_too_old(device):
    live = make_tmp(device, TMP_PREFIX + 'live.tmp')
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert clean_tmp(device, max_age=60) == 0
        assert os.path.exists(live)
        os.utime(live, (0, 0))           # a writer stuck for ages
        assert clean_tmp(device, max_age=60) == 1
        assert not os.path.exists(live)
    finally:
        os.close(fd)


def test_clean_tmp_without_a_tmp_dir_removes_nothing(device):
    assert clean_tmp(device) == 0
