"""What the builder reports about a built table: per-device balance,
dispersion, the consistency check and per-device partition lists."""
import pytest

from objproxy.common.exceptions import RingError
from objproxy.ring.builder import RingBuilder
from objproxy.ring.report import MAX_BALANCE
from tests.unit.ring.helpers import add_server, make_builder


@pytest.fixture
def built():
    """4 zones x 1 server x 2 disks, 3 replicas, 256 partitions."""
    builder = make_builder(part_power=8, zones=4, servers=1, disks=2)
    builder.rebalance(seed=7)
    return builder


def same_zone_other_dev(builder, dev_id):
    dev = builder.devs[dev_id]
    return next(d['id'] for d in builder.devs
                if d['zone'] == dev['zone'] and d['id'] != dev_id)


# -- before any rebalance -----------------------------------------------------
def test_unbuilt_builder_reports_nothing_and_fails_validation():
    builder = make_builder(part_power=4)
    assert builder.dev_counts() == {}
    assert set(builder.dev_balances().values()) == {0.0}
    assert builder.get_balance() == 0.0
    assert builder.dispersion_report() == {'dispersion': 0.0, 'levels': {},
                                           'parts': 0}
    assert builder.list_parts([0, 1]) == []
    with pytest.raises(RingError) as info:
        builder.validate()
    assert 'has not been rebalanced yet' in str(info.value)


def test_empty_builder_has_zero_balance():
    assert RingBuilder(4, 3, 1).get_balance() == 0.0


# -- counts and balance -------------------------------------------------------
def test_counts_cover_every_replica_of_every_partition(built):
    assert sum(built.dev_counts().values()) == 3 * 256


def test_balance_is_the_percentage_over_or_under_the_weight_share(built):
    # 8 equal devices share 768 assignments: 96 each
    counts = {dev['id']: 96 for dev in built.devs}
    counts[0], counts[1] = 120, 72
    balances = built.dev_balances(counts)
    assert balances[0] == pytest.approx(25.0)
    assert balances[1] == pytest.approx(-25.0)
    assert balances[2] == pytest.approx(0.0)


def test_balance_of_a_device_without_weight_is_capped_when_it_holds_parts(
        built):
    built.set_dev_weight(3, 0)
    balances = built.dev_balances()
    assert built.dev_counts()[3] > 0
    assert balances[3] == MAX_BALANCE
    assert built.get_balance() == MAX_BALANCE
    assert built.dev_balances({d['id']: 0 for d in built.devs})[3] == 0.0


def test_device_being_removed_counts_as_unbalanced_until_drained(built):
    built.remove_dev(5)
    assert built.dev_balances()[5] == MAX_BALANCE


def test_balance_of_a_new_empty_device_is_minus_100(built):
    new = add_server(built, 1, 1, '10.9.9.9', 1)[0]
    assert built.dev_balances()[new] == pytest.approx(-100.0)


# -- dispersion ---------------------------------------------------------------
def test_well_spread_ring_has_no_dispersion(built):
    report = built.dispersion_report()
    assert report['dispersion'] == 0.0 and report['parts'] == 0
    assert report['max_replicas'] == {'region': 3, 'zone': 1, 'server': 1,
                                      'device': 1}


def test_two_replicas_in_one_zone_are_reported(built):
    tables = built._replica2part2dev
    tables[1][0] = same_zone_other_dev(built, tables[0][0])
    report = built.dispersion_report()
    assert report['parts'] == 1
    assert report['levels']['zone'] == 1
    assert report['levels']['device'] == 0
    assert report['dispersion'] == pytest.approx(100.0 / 256)


def test_fewer_active_devices_than_replicas_is_fully_dispersed():
    builder = RingBuilder(4, 3, 0)
    add_server(builder, 1, 1, '10.0.0.1', 3)
    builder.rebalance(seed=1)
    for dev_id in (1, 2):
        builder.set_dev_weight(dev_id, 0)
    report = builder.dispersion_report()
    assert report['dispersion'] == 100.0 and report['parts'] == 16


# -- validate -----------------------------------------------------------------
def test_freshly_built_table_validates(built):
    built.validate()


def test_validate_catches_a_table_of_the_wrong_length(built):
    built._replica2part2dev[2].pop()
    with pytest.raises(RingError) as info:
        built.validate()
    assert 'partition table has the wrong shape' in str(info.value)


def test_validate_catches_a_reference_to_a_missing_device(built):
    built._replica2part2dev[1][9] = 42
    with pytest.raises(RingError) as info:
        built.validate()
    assert str(info.value) == 'replica 1 refers to missing device 42'


def test_validate_catches_two_replicas_on_one_device(built):
    tables = built._replica2part2dev
    tables[2][5] = tables[0][5]
    with pytest.raises(RingError) as info:
        built.validate()
    assert str(info.value) == 'partition 5 has two replicas on device %d' % (
        tables[0][5],)


def test_validate_catches_a_weighted_device_with_no_partitions(built):
    new = add_server(built, 1, 2, '10.8.8.8', 1)[0]
    with pytest.raises(RingError) as info:
        built.validate()
    assert str(info.value) == (
        'device %d (10.8.8.8:6200/d0) has weight but no partitions' % new)


# -- list_parts ---------------------------------------------------------------
def test_list_parts_orders_by_replicas_held_then_partition(built):
    tables = built._replica2part2dev
    zone_mate = same_zone_other_dev(built, tables[0][3])
    tables[1][3] = zone_mate
    listing = built.list_parts([tables[0][3], zone_mate])
    assert listing[0] == (3, 2)
    rest = listing[1:]
    assert all(count == 1 for _part, count in rest)
    assert [part for part, _ in rest] == sorted(part for part, _ in rest)
    held = {part for table in tables for part, d in enumerate(table)
            if d in (tables[0][3], zone_mate)}
    assert {part for part, _ in listing} == held


def test_list_parts_of_unknown_device_is_empty(built):
    assert built.list_parts([99]) == []
