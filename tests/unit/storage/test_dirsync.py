"""Directory fsyncs: which directories really get fsynced.

A crash cannot be caused in a unit test, so os.fsync is replaced by a
recorder that notes which path each descriptor refers to."""
import os
import stat

import pytest

from objproxy.storage import dirsync
from objproxy.storage.dirsync import fsync_dir, makedirs_fsynced


@pytest.fixture
def fsynced(monkeypatch):
    """Paths handed to os.fsync, in call order; each must be a directory."""
    calls = []

    def record(fd):
        assert stat.S_ISDIR(os.fstat(fd).st_mode)
        calls.append(os.readlink('/proc/self/fd/%d' % fd))

    monkeypatch.setattr(dirsync.os, 'fsync', record)
    return calls


def open_fds():
    return set(os.listdir('/proc/self/fd'))


def test_fsync_dir_fsyncs_that_directory(tmp_path, fsynced):
    before = open_fds()
    fsync_dir(str(tmp_path))
    assert fsynced == [str(tmp_path)]
    assert open_fds() == before          # the descriptor is closed again


def test_fsync_dir_of_a_missing_path_does_nothing(tmp_path, fsynced):
    fsync_dir(str(tmp_path / 'missing'))
    assert fsynced == []


def test_a_failed_fsync_raises_and_closes_the_descriptor(tmp_path,
                                                        monkeypatch):
    """EIO from fsync means the directory update may be lost: the write
    it was for must not be acknowledged, so the error reaches the caller."""
    def failing(fd):
        raise OSError(5, 'EIO')

    monkeypatch.setattr(dirsync.os, 'fsync', failing)
    before = open_fds()
    with pytest.raises(OSError):
        fsync_dir(str(tmp_path))
    assert open_fds() == before


def test_fsync_dir_of_a_file_raises(tmp_path, fsynced):
    path = tmp_path / 'plain'
    path.write_bytes(b'x')
    with pytest.raises(NotADirectoryError):
        fsync_dir(str(path))


def test_makedirs_fsyncs_the_parent_of_every_new_directory(tmp_path,
                                                           fsynced):
    target = tmp_path / 'a' / 'b' / 'c'
    created = makedirs_fsynced(str(target))
    assert target.is_dir()
    assert created == [str(target), str(tmp_path / 'a' / 'b'),
                       str(tmp_path / 'a')]
    assert sorted(fsynced) == sorted([str(tmp_path / 'a' / 'b'),
                                      str(tmp_path / 'a'), str(tmp_path)])


def test_makedirs_without_fsync_leaves_the_fsyncs_to_the_caller(tmp_path,
                                                                fsynced):
    target = tmp_path / 'a' / 'b'
    created = makedirs_fsynced(str(target), fsync=False)
    assert target.is_dir()
    assert created == [str(target), str(tmp_path / 'a')]
    assert fsynced == []


def test_makedirs_of_an_existing_directory_creates_and_fsyncs_nothing(
        tmp_path, fsynced):
    assert makedirs_fsynced(str(tmp_path)) == []
    assert fsynced == []


def test_makedirs_only_reports_the_part_that_was_missing(tmp_path, fsynced):
    (tmp_path / 'a').mkdir()
    created = makedirs_fsynced(str(tmp_path / 'a' / 'b'))
    assert created == [str(tmp_path / 'a' / 'b')]
    assert fsynced == [str(tmp_path / 'a')]
