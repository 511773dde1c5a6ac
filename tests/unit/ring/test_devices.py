"""The builder's device list: what a valid device is, how ids are handed
out, edits and removals, and swift-ring-builder style searches."""
import pytest

from objproxy.common.exceptions import RingError
from objproxy.ring.builder import RingBuilder
from objproxy.ring.devices import MAX_DEVICES, validate_dev

GOOD = {'region': 1, 'zone': 2, 'ip': '10.0.0.1', 'port': 6200,
        'device': 'sdb1', 'weight': 100, 'meta': 'ssd rack3'}


def dev(**changes):
    out = dict(GOOD)
    out.update(changes)
    return out


@pytest.fixture
def builder():
    return RingBuilder(4, 3, 1)


# -- validation ---------------------------------------------------------------
def test_valid_device_is_copied_with_float_weight():
    original = dev(weight=100)
    clean = validate_dev(original)
    assert clean == dict(GOOD, weight=100.0)
    assert isinstance(clean['weight'], float)
    assert original['weight'] == 100      # the caller's dict is untouched


def test_region_defaults_to_1_and_meta_to_empty():
    clean = validate_dev({'zone': 0, 'ip': '::1', 'port': 1,
                          'device': 'd', 'weight': 0})
    assert clean['region'] == 1 and clean['meta'] == ''


@pytest.mark.parametrize('changes,words', [
    ({'zone': -1}, 'device zone must be a whole number >= 0'),
    ({'zone': None}, 'device zone must be a whole number >= 0'),
    ({'region': True}, 'device region must be a whole number >= 0'),
    ({'port': '6200'}, 'device port must be a whole number >= 0'),
    ({'port': 0}, 'device port must be 1-65535'),
    ({'port': 65536}, 'device port must be 1-65535'),
    ({'ip': ''}, 'device ip must be a non-empty string'),
    ({'ip': '10.0.0.1 '}, 'device ip must be a non-empty string'),
    ({'device': None}, 'device device must be a non-empty string'),
    ({'device': 'sd b'}, 'without spaces'),
    ({'device': 'a/b'}, 'may not contain "/"'),
    ({'weight': -1}, 'device weight must be a number >= 0'),
    ({'weight': float('nan')}, 'device weight must be a number >= 0'),
    ({'weight': float('inf')}, 'device weight must be a number >= 0'),
    ({'weight': '100'}, 'device weight must be a number >= 0'),
    ({'weight': False}, 'device weight must be a number >= 0'),
    ({'meta': 5}, 'device meta must be a string'),
])
def test_bad_device_fields_are_named(changes, words):
    with pytest.raises(RingError) as info:
        validate_dev(dev(**changes))
    assert words in str(info.value)


def test_device_must_be_a_dict():
    with pytest.raises(RingError):
        validate_dev([('ip', '10.0.0.1')])


# -- ids ----------------------------------------------------------------------
def test_ids_count_up_and_each_add_bumps_the_version(builder):
    assert builder.add_dev(dev(device='a')) == 0
    assert builder.add_dev(dev(device='b')) == 1
    assert builder.version == 2 and builder.devs_changed
    assert builder.devs[1]['device'] == 'b' and builder.devs[1]['id'] == 1


def test_explicit_id_leaves_a_gap_that_is_filled_later(builder):
    assert builder.add_dev(dev(device='a', id=3)) == 3
    assert builder.devs[:3] == [None, None, None]
    assert builder.add_dev(dev(device='b')) == 0


@pytest.mark.parametrize('bad_id', [-1, MAX_DEVICES, '2', 1.0, True])
def test_explicit_id_out_of_range_is_refused(builder, bad_id):
    with pytest.raises(RingError) as info:
        builder.add_dev(dev(id=bad_id))
    assert 'bad device id' in str(info.value)


def test_explicit_id_in_use_is_refused(builder):
    builder.add_dev(dev(device='a', id=2))
    with pytest.raises(RingError) as info:
        builder.add_dev(dev(device='b', id=2))
    assert 'device id 2 already in use' in str(info.value)


def test_same_ip_port_and_device_twice_is_refused(builder):
    builder.add_dev(dev())
    with pytest.raises(RingError) as info:
        builder.add_dev(dev(zone=3, weight=1))
    assert str(info.value) == 'device 10.0.0.1:6200/sdb1 already exists (id 0)'
    # another port on the same ip is another device
    assert builder.add_dev(dev(port=6201)) == 1


def test_id_of_a_device_being_removed_is_not_reused(builder):
    builder.add_dev(dev(device='a'))
    builder.devs.append(None)             # a hole left by an earlier removal
    builder._remove_pending.add(1)
    assert builder.add_dev(dev(device='b')) == 2


# -- edits --------------------------------------------------------------------
def test_set_weight_validates_and_bumps_the_version(builder):
    dev_id = builder.add_dev(dev())
    builder.set_dev_weight(dev_id, 5)
    assert builder.devs[dev_id]['weight'] == 5.0 and builder.version == 2
    with pytest.raises(RingError):
        builder.set_dev_weight(dev_id, -5)
    assert builder.devs[dev_id]['weight'] == 5.0


def test_set_info_changes_the_address_and_bumps_the_version(builder):
    dev_id = builder.add_dev(dev())
    builder.set_dev_info(dev_id, ip='10.0.0.9', port=6300, device='sdc',
                         meta='new')
    moved = builder.devs[dev_id]
    assert (moved['ip'], moved['port'], moved['device'], moved['meta']) == (
        '10.0.0.9', 6300, 'sdc', 'new')
    assert (moved['zone'], moved['weight']) == (2, 100.0)
    assert builder.version == 2


def test_set_info_validates_the_new_address(builder):
    dev_id = builder.add_dev(dev())
    with pytest.raises(RingError):
        builder.set_dev_info(dev_id, port=0)
    assert builder.devs[dev_id]['port'] == 6200


def test_set_info_refuses_what_it_cannot_change(builder):
    """Weight and zone have commands of their own; set_info never drops
    them silently."""
    dev_id = builder.add_dev(dev())
    with pytest.raises(RingError) as err:
        builder.set_dev_info(dev_id, zone=7, weight=1.0)
    assert 'weight, zone' in str(err.value)
    assert (builder.devs[dev_id]['zone'], builder.version) == (2, 1)


def test_set_info_may_not_collide_with_another_device(builder):
    builder.add_dev(dev(device='a'))
    other = builder.add_dev(dev(device='b'))
    with pytest.raises(RingError):
        builder.set_dev_info(other, device='a')
    builder.set_dev_info(other, device='b', meta='same address is fine')
    assert builder.devs[other]['device'] == 'b'


def test_remove_drains_the_device_and_forbids_reweighing(builder):
    dev_id = builder.add_dev(dev())
    builder.remove_dev(dev_id)
    assert builder.devs[dev_id]['weight'] == 0.0
    assert dev_id in builder._remove_pending
    with pytest.raises(RingError) as info:
        builder.set_dev_weight(dev_id, 10)
    assert 'device %d is being removed' % dev_id in str(info.value)


@pytest.mark.parametrize('missing', [5, -1])
def test_edits_of_unknown_devices_name_the_id(builder, missing):
    builder.add_dev(dev())
    for call in (lambda: builder.set_dev_weight(missing, 1),
                 lambda: builder.set_dev_info(missing, meta='x'),
                 lambda: builder.remove_dev(missing)):
        with pytest.raises(RingError) as info:
            call()
        assert 'no device with id %d' % missing in str(info.value)


# -- search -------------------------------------------------------------------
@pytest.fixture
def cluster(builder):
    builder.add_dev(dev(region=1, zone=1, ip='10.0.0.1', device='sda',
                        meta='ssd'))
    builder.add_dev(dev(region=1, zone=2, ip='10.0.0.2', device='sda',
                        meta='hdd'))
    builder.add_dev(dev(region=2, zone=1, ip='10.0.0.1', port=6201,
                        device='sdb', meta='ssd fast'))
    builder.add_dev(dev(region=2, zone=1, ip='fe80::1', device='sdc',
                        meta=''))
    return builder


@pytest.mark.parametrize('search,ids', [
    ('d2', [2]),
    ('r2', [2, 3]),
    ('r1z2', [1]),
    ('z1', [0, 2, 3]),
    ('-10.0.0.1', [0, 2]),
    ('-10.0.0.1:6201', [2]),
    (':6200', [0, 1, 3]),
    ('/sda', [0, 1]),
    ('_ssd', [0, 2]),
    ('_fast', [2]),
    ('r2z1-[fe80::1]:6200/sdc', [3]),
    ('d9', []),
])
def test_search_values(cluster, search, ids):
    assert [d['id'] for d in cluster.search_devs(search)] == ids


@pytest.mark.parametrize('search', ['', None, 'x1', 'z', 'd1 ', 'zone1'])
def test_invalid_search_value_explains_the_syntax(cluster, search):
    with pytest.raises(RingError) as info:
        cluster.search_devs(search)
    assert 'invalid search value' in str(info.value)
    assert 'd<id>r<region>z<zone>' in str(info.value)
