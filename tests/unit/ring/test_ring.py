import collections
import os
import time

import pytest

from objproxy.common.exceptions import RingError
from objproxy.common.hashing import hash_path
from objproxy.ring.ring import Ring
from tests.unit.ring.helpers import make_builder


@pytest.fixture
def ring_dir(tmp_path):
    builder = make_builder(part_power=8, zones=4, servers=2, disks=2)
    builder.rebalance(seed=1)
    builder.write_ring(str(tmp_path / 'object.ring.gz'))
    return tmp_path, builder


def test_load_and_contract(ring_dir):
    path, builder = ring_dir
    ring = Ring(str(path), ring_name='object')
    same = Ring(str(path / 'object.ring.gz'))
    assert ring.replica_count == 3 and isinstance(ring.replica_count, int)
    assert ring.partition_count == 256 and ring.part_power == 8
    assert ring.devs == same.devs
    assert ring.devs[0] == {'id': 0, 'region': 1, 'zone': 1,
                            'ip': '10.1.1.1', 'port': 6200, 'device': 'd0',
                            'weight': 100.0, 'meta': ''}


def test_get_part_uses_hash_path_top_bits(ring_dir):
    path, _builder = ring_dir
    ring = Ring(str(path), 'object')
    digest = hash_path('AUTH_a', 'c', 'o', raw_digest=True)
    assert ring.get_part('AUTH_a', 'c', 'o') == digest[0]  # 8 top bits
    parts = {ring.get_part('a', 'c', 'o%d' % i) for i in range(3000)}
    assert len(parts) > 240


def test_get_nodes_matches_builder_table(ring_dir):
    path, builder = ring_dir
    ring = Ring(str(path), 'object')
    part, nodes = ring.get_nodes('AUTH_a', 'c', 'o')
    assert part == ring.get_part('AUTH_a', 'c', 'o')
    assert [n['id'] for n in nodes] == list(list(builder._rows())[part])
    assert [n['index'] for n in nodes] == [0, 1, 2]
    assert len({n['zone'] for n in nodes}) == 3
    nodes[0]['ip'] = 'mutated'
    assert ring.get_part_nodes(part)[0]['ip'] != 'mutated'
    assert ring.get_nodes('AUTH_a')[0] == ring.get_part('AUTH_a')


def test_handoffs_prefer_unused_zones_and_are_stable(ring_dir):
    path, _builder = ring_dir
    ring = Ring(str(path), 'object')
    for part in (0, 17, 255):
        primaries = ring.get_part_nodes(part)
        handoffs = list(ring.get_more_nodes(part))
        assert len(handoffs) == len(ring.devs) - 3
        assert [h['handoff_index'] for h in handoffs] == \
            list(range(len(handoffs)))
        used_zones = {p['zone'] for p in primaries}
        assert handoffs[0]['zone'] not in used_zones
        first_servers = {h['ip'] for h in handoffs[:1]} | \
            {p['ip'] for p in primaries}
        assert handoffs[1]['ip'] not in first_servers
        ids = [h['id'] for h in handoffs]
        assert not set(ids) & {p['id'] for p in primaries}
        assert ids == [h['id'] for h in ring.get_more_nodes(part)]
    firsts = collections.Counter(next(ring.get_more_nodes(p))['id']
                                 for p in range(256))
    assert len(firsts) > 3      # handoff load is spread


def test_reload_on_mtime_change(ring_dir):
    path, builder = ring_dir
    ring = Ring(str(path), 'object', reload_time=0)
    builder.add_dev({'region': 1, 'zone': 5, 'ip': '10.5.5.5',
                     'port': 6200, 'device': 'new', 'weight': 100})
    builder.pretend_min_part_hours_passed()
    builder.rebalance(seed=2)
    ring_file = str(path / 'object.ring.gz')
    builder.write_ring(ring_file)
    stamp = time.time() + 5
    os.utime(ring_file, (stamp, stamp))
    ring.get_part_nodes(0)
    assert len(ring.devs) == 17
    assert ring.devs[16]['device'] == 'new'


def test_no_reload_before_reload_time(ring_dir):
    path, builder = ring_dir
    ring = Ring(str(path), 'object', reload_time=3600)
    builder.add_dev({'region': 1, 'zone': 5, 'ip': '10.5.5.5',
                     'port': 6200, 'device': 'new', 'weight': 100})
    builder.pretend_min_part_hours_passed()
    builder.rebalance(seed=2)
    builder.write_ring(str(path / 'object.ring.gz'))
    ring.get_part_nodes(0)
    assert len(ring.devs) == 16
    assert ring.has_changed()


def test_bad_file_during_reload_keeps_old_ring(ring_dir):
    path, _builder = ring_dir
    ring = Ring(str(path), 'object', reload_time=0)
    ring_file = path / 'object.ring.gz'
    ring_file.write_bytes(ring_file.read_bytes()[:100])
    assert len(ring.get_part_nodes(3)) == 3


def test_fractional_replicas_ring(tmp_path):
    builder = make_builder(part_power=8, replicas=2.5)
    builder.rebalance(seed=1)
    builder.write_ring(str(tmp_path / 'o.ring.gz'))
    ring = Ring(str(tmp_path / 'o.ring.gz'))
    assert ring.replica_count == 2.5
    sizes = collections.Counter(len(ring.get_part_nodes(p))
                                for p in range(256))
    assert sizes == {3: 128, 2: 128}


def test_ring_load_errors(ring_dir):
    path, builder = ring_dir
    data = (path / 'object.ring.gz').read_bytes()
    (path / 'trunc.ring.gz').write_bytes(data[:len(data) - 10])
    (path / 'junk.ring.gz').write_bytes(b'not a ring at all')
    (path / 'empty.ring.gz').write_bytes(b'')
    builder.save(str(path / 'object.builder'))
    cases = {'trunc': 'corrupt or truncated', 'junk': 'corrupt or truncated',
             'empty': 'empty', 'missing': 'does not exist'}
    for name, message in cases.items():
        with pytest.raises(RingError, match=message):
            Ring(str(path), name)
    with pytest.raises(RingError, match='is a builder file'):
        Ring(str(path / 'object.builder'))
    with pytest.raises(RingError, match='directory'):
        Ring(str(path))


def test_wrong_version_refused(ring_dir, monkeypatch):
    path, builder = ring_dir
    from objproxy.ring import ringfile
    monkeypatch.setattr(ringfile, 'FORMAT_VERSION', 99)
    builder.write_ring(str(path / 'future.ring.gz'))
    monkeypatch.undo()
    with pytest.raises(RingError, match='format version 99'):
        Ring(str(path), 'future')


def test_write_is_atomic_and_deterministic(ring_dir):
    path, builder = ring_dir
    first = (path / 'object.ring.gz').read_bytes()
    builder.write_ring(str(path / 'object.ring.gz'))
    assert (path / 'object.ring.gz').read_bytes() == first
    assert sorted(p.name for p in path.iterdir()) == ['object.ring.gz']
