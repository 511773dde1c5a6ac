"""Device/partition validation shared by every storage layer."""
import pytest

from objproxy.common.exceptions import DeviceUnavailable
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)


def test_present_device(tmp_path):
    (tmp_path / 'sda').mkdir()
    assert validate_device(str(tmp_path), 'sda') == str(tmp_path / 'sda')


def test_missing_device_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable):
        validate_device(str(tmp_path), 'sdb')
    (tmp_path / 'afile').write_text('x')
    with pytest.raises(DeviceUnavailable):
        validate_device(str(tmp_path), 'afile')


def test_mount_check_requires_mount_point(tmp_path):
    (tmp_path / 'sda').mkdir()
    with pytest.raises(DeviceUnavailable):
        validate_device(str(tmp_path), 'sda', mount_check=True)
    assert validate_device('/', 'proc', mount_check=True) == '/proc'


@pytest.mark.parametrize('name', ['', '.', '..', 'a/b', 'a\x00', '/etc',
                                  'a\\b', '\udcff'])
def test_bad_device_names(tmp_path, name):
    with pytest.raises(InvalidPath):
        validate_device(str(tmp_path), name)


def test_partitions():
    assert check_partition('0') == 0
    assert check_partition('4294967295') == 2 ** 32 - 1
    assert check_partition(12) == 12
    for bad in ('4294967296', '-1', '1.5', 'abc', '', None, ' 1', '١',
                '99999999999999999999', -1, True):
        with pytest.raises(InvalidPath):
            check_partition(bad)
