"""Which ring devices belong to this node, and the partition dirs found."""
import pytest

from objproxy.common.exceptions import ConfigError
from objproxy.daemons.local_devs import (
    is_local, list_partitions, local_ring_devs, same_dev)


def ring_dev(ip='10.0.0.1', port=6200, device='sdb1', dev_id=0):
    return {'id': dev_id, 'ip': ip, 'port': port, 'device': device}


class FakeRing(object):
    """Only what local_ring_devs reads: the device list."""

    def __init__(self, devs):
        self.devs = devs


@pytest.mark.parametrize('conf,local', [
    ({'bind_port': '6200'}, True),
    ({'bind_port': '6201'}, False),
    ({'bind_port': '6200', 'bind_ip': '10.0.0.1'}, True),
    ({'bind_port': '6200', 'bind_ip': '10.0.0.2'}, False),
    ({'bind_port': '6200', 'bind_ip': '0.0.0.0'}, True),
    ({'bind_port': '6200', 'bind_ip': '::'}, True),
    ({'bind_port': '6200', 'bind_ip': '  '}, True),
    ({}, True),                       # nothing configured: every device
])
def test_device_is_local_by_port_and_bound_address(conf, local):
    assert is_local(ring_dev(), conf) is local


def test_string_port_in_the_ring_device_compares_as_a_number():
    assert is_local(ring_dev(port='6200'), {'bind_port': '6200'})


def test_a_hole_in_the_device_list_is_never_local():
    assert is_local(None, {}) is False


def test_bad_bind_port_is_a_config_error():
    with pytest.raises(ConfigError):
        is_local(ring_dev(), {'bind_port': 'sixty'})


def test_local_ring_devs_keeps_present_devices_of_this_node():
    ring = FakeRing([
        ring_dev(device='sdb1', dev_id=0),
        None,
        ring_dev(device='sdc1', dev_id=2),
        ring_dev(device='sdd1', dev_id=3),            # not on this disk
        ring_dev(port=6300, device='sdb1', dev_id=4),  # another node
    ])
    found = local_ring_devs(ring, {'bind_port': '6200'}, ['sdb1', 'sdc1',
                                                          'sdz1'])
    assert {name: dev['id'] for name, dev in found.items()} == {
        'sdb1': 0, 'sdc1': 2}


def test_same_dev_compares_address_and_name_only():
    a = ring_dev(port=6200)
    assert same_dev(a, dict(a, id=9, weight=1.0, port='6200'))
    assert not same_dev(a, ring_dev(device='sdb2'))
    assert not same_dev(a, ring_dev(ip='10.0.0.9'))
    assert not same_dev(a, ring_dev(port=6201))


def test_list_partitions_returns_numeric_dirs_only(tmp_path):
    for name in ('0', '17', '1024', 'tmp', '12a', '\u0661\u0662', '-3'):
        (tmp_path / name).mkdir()
    assert sorted(list_partitions(str(tmp_path))) == [0, 17, 1024]


def test_list_partitions_can_be_limited(tmp_path):
    for name in ('1', '2', '3'):
        (tmp_path / name).mkdir()
    assert sorted(list_partitions(str(tmp_path), only={2, 3, 9})) == [2, 3]


def test_list_partitions_of_a_missing_datadir_is_empty(tmp_path):
    assert list_partitions(str(tmp_path / 'objects')) == []
