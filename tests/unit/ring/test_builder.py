import collections

import pytest

from objproxy.common.exceptions import RingError
from objproxy.ring.builder import RingBuilder
from tests.unit.ring.helpers import add_server, make_builder, rows, zones_of


def test_initial_rebalance_balanced_and_dispersed():
    builder = make_builder(part_power=10)
    moved, balance, removed = builder.rebalance(seed=1)
    assert moved == 3 * 1024
    assert removed == 0
    assert balance < 1
    for row in rows(builder):
        assert len(set(zones_of(builder, row))) == 3
    assert builder.dispersion_report()['dispersion'] == 0
    builder.validate()


def test_weights_are_honoured():
    builder = RingBuilder(10, 3, 0)
    for zone, weight in ((1, 100), (2, 100), (3, 200), (4, 200)):
        add_server(builder, 1, zone, '10.0.0.%d' % zone, 2, weight)
    _moved, balance, _ = builder.rebalance(seed=2)
    counts = builder.dev_counts()
    light = counts[0]
    heavy = counts[4]
    assert abs(heavy / light - 2.0) < 0.05
    assert balance < 2
    for row in rows(builder):
        assert len(set(zones_of(builder, row))) == 3


def test_fewer_zones_than_replicas_spreads_over_servers():
    builder = make_builder(part_power=8, zones=2, servers=2, disks=2)
    builder.rebalance(seed=3)
    for row in rows(builder):
        zones = collections.Counter(zones_of(builder, row))
        assert max(zones.values()) == 2
        servers = {builder.devs[d]['ip'] for d in row}
        assert len(servers) == 3


def test_seed_makes_rebalance_reproducible():
    one = make_builder()
    two = make_builder()
    one.rebalance(seed=7)
    two.rebalance(seed=7)
    assert rows(one) == rows(two)


def test_adding_server_moves_only_what_it_must_one_replica_per_part():
    builder = make_builder(part_power=10)
    builder.rebalance(seed=1)
    before = rows(builder)
    add_server(builder, 1, 1, '10.1.1.9', 2)
    builder.pretend_min_part_hours_passed()
    moved, balance, _ = builder.rebalance(seed=1)
    after = rows(builder)
    changed = [sum(1 for a, b in zip(old, new) if a != b)
               for old, new in zip(before, after)]
    assert max(changed) == 1          # one replica per partition per pass
    assert sum(changed) == moved
    wanted = 3 * 1024 * 2 // 18       # the new server's weight share
    assert wanted * 0.98 <= moved <= wanted * 1.05
    assert balance < 2
    for row in after:
        assert len(set(zones_of(builder, row))) == 3


def test_min_part_hours_blocks_moves():
    builder = make_builder(part_power=8, min_part_hours=24)
    builder.rebalance(seed=1)
    before = rows(builder)
    add_server(builder, 1, 1, '10.1.1.9', 2)
    moved, balance, _ = builder.rebalance(seed=1)
    assert moved == 0
    assert rows(builder) == before
    assert balance > 10
    builder.pretend_min_part_hours_passed()
    moved, _balance, _ = builder.rebalance(seed=1)
    assert moved > 0


def test_removed_device_is_drained_even_within_min_part_hours():
    builder = make_builder(part_power=8, min_part_hours=24)
    builder.rebalance(seed=1)
    held = builder.dev_counts()[5]
    builder.remove_dev(5)
    moved, _balance, removed = builder.rebalance(seed=1)
    assert removed == 1
    assert moved == held
    assert builder.devs[5] is None
    assert all(5 not in row for row in rows(builder))
    builder.validate()


def test_remove_moves_only_its_partitions():
    builder = make_builder(part_power=10)
    builder.rebalance(seed=1)
    before = rows(builder)
    builder.remove_dev(3)
    builder.pretend_min_part_hours_passed()
    moved, balance, _ = builder.rebalance(seed=4)
    changed = sum(1 for old, new in zip(before, rows(builder))
                  for a, b in zip(old, new) if a != b)
    held = sum(row.count(3) for row in before)
    assert changed == moved
    assert held <= moved <= held * 1.05
    assert balance < 2


def test_zero_weight_device_gets_nothing():
    builder = make_builder(part_power=8)
    builder.set_dev_weight(2, 0)
    builder.rebalance(seed=1)
    assert builder.dev_counts().get(2, 0) == 0


def test_fractional_replicas():
    builder = make_builder(part_power=8, replicas=2.5)
    builder.rebalance(seed=1)
    lengths = [len(t) for t in builder._replica2part2dev]
    assert lengths == [256, 256, 128]
    for row in rows(builder):
        assert len(set(row)) == len(row)
    builder.validate()


def test_more_replicas_than_devices_refused():
    builder = RingBuilder(8, 3, 1)
    add_server(builder, 1, 1, '10.0.0.1', 2)
    with pytest.raises(RingError, match='cannot place 3 replicas on 2'):
        builder.rebalance()


@pytest.mark.parametrize('args', [(0, 3, 1), (25, 3, 1), (8, 0.5, 1),
                                  (8, 3, -1), ('8', 3, 1)])
def test_bad_create_arguments(args):
    with pytest.raises(RingError):
        RingBuilder(*args)


@pytest.mark.parametrize('change', [
    {'ip': ''}, {'port': 0}, {'port': 70000}, {'weight': -1},
    {'zone': 'a'}, {'device': 'a/b'}, {'weight': float('nan')}])
def test_bad_devices_refused(change):
    builder = RingBuilder(8, 3, 1)
    dev = dict({'region': 1, 'zone': 1, 'ip': '10.0.0.1', 'port': 6200,
                'device': 'sda', 'weight': 1, 'meta': ''}, **change)
    with pytest.raises(RingError):
        builder.add_dev(dev)


def test_duplicate_device_refused():
    builder = make_builder()
    with pytest.raises(RingError, match='already exists'):
        add_server(builder, 1, 1, '10.1.1.1', 1)


def test_search_devs():
    builder = make_builder()
    assert [d['id'] for d in builder.search_devs('d3')] == [3]
    assert len(builder.search_devs('z2')) == 4
    assert len(builder.search_devs('z2-10.1.2.1')) == 2
    assert [d['id'] for d in builder.search_devs('z1-10.1.1.1:6200/d1')] \
        == [1]
    with pytest.raises(RingError):
        builder.search_devs('q!')


def test_builder_round_trip(tmp_path):
    builder = make_builder(part_power=9, replicas=2.5)
    builder.rebalance(seed=1)
    builder.remove_dev(1)
    path = str(tmp_path / 'object.builder')
    builder.save(path)
    loaded = RingBuilder.load(path)
    assert loaded.devs == builder.devs
    assert loaded.replicas == 2.5
    assert loaded.min_part_hours == builder.min_part_hours
    assert rows(loaded) == rows(builder)
    assert loaded._remove_pending == {1}
    assert list(loaded._last_part_moves) == list(builder._last_part_moves)
    loaded.pretend_min_part_hours_passed()
    loaded.rebalance(seed=2)
    assert loaded.devs[1] is None


def test_builder_load_errors(tmp_path):
    builder = make_builder()
    builder.rebalance(seed=1)
    path = tmp_path / 'object.builder'
    builder.save(str(path))
    data = path.read_bytes()
    (tmp_path / 'trunc.builder').write_bytes(data[:len(data) // 2])
    with pytest.raises(RingError, match='corrupt or truncated'):
        RingBuilder.load(str(tmp_path / 'trunc.builder'))
    with pytest.raises(RingError, match='does not exist'):
        RingBuilder.load(str(tmp_path / 'missing.builder'))
    builder.write_ring(str(tmp_path / 'object.ring.gz'))
    with pytest.raises(RingError, match='is a ring file'):
        RingBuilder.load(str(tmp_path / 'object.ring.gz'))


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    builder = make_builder()
    builder.rebalance(seed=1)
    path = str(tmp_path / 'object.builder')
    builder.save(path)
    before = open(path, 'rb').read()
    builder.add_dev({'region': 1, 'zone': 1, 'ip': '10.9.9.9', 'port': 1,
                     'device': 'x', 'weight': 1})
    import os

    def broken_fsync(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError):
        builder.save(path)
    monkeypatch.undo()
    assert open(path, 'rb').read() == before
    assert [p.name for p in tmp_path.iterdir()] == ['object.builder']
