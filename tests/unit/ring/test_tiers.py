"""The tier tree's arithmetic: wants by weight, caps, dispersion levels,
choosing a device, and the interleaved first-build sequence."""
import collections
import random

from objproxy.ring.tiers import _Tree, _interleave


def devs(layout, weight=100):
    """layout: [(region, zone, ip, ndisks)]"""
    out = []
    for region, zone, ip, ndisks in layout:
        for _ in range(ndisks):
            out.append({'id': len(out), 'region': region, 'zone': zone,
                        'ip': ip, 'weight': weight})
    return out


FOUR_ZONES = [(1, z, '10.0.%d.1' % z, 2) for z in range(1, 5)]


def test_wants_follow_weight_and_add_up_to_every_assignment():
    layout = devs(FOUR_ZONES)
    layout[0]['weight'] = 300
    tree = _Tree(layout, 3, 3 * 1024)
    assert sum(tree.want.values()) == 3 * 1024
    assert tree.want[0] > 2.5 * tree.want[1]


def test_a_heavy_device_is_never_asked_for_two_replicas_of_a_partition():
    layout = devs([(1, 1, 'a', 1), (1, 2, 'b', 1), (1, 3, 'c', 1)])
    layout[0]['weight'] = 10000
    tree = _Tree(layout, 3, 3 * 100)
    # one replica per device at most: each device holds every partition
    assert tree.want == {0: 100, 1: 100, 2: 100}


def test_caps_and_binding_levels():
    tree = _Tree(devs(FOUR_ZONES), 3, 3 * 64)
    zone_caps = [tree.cap[n] for n in tree.level_nodes[1]]
    assert zone_caps == [1, 1, 1, 1]
    assert tree.check_levels == [1]          # one per zone implies below
    two_zones = _Tree(devs([(1, 1, 'a', 2), (1, 1, 'b', 2),
                            (1, 2, 'c', 2), (1, 2, 'd', 2)]), 3, 3 * 64)
    assert [two_zones.cap[n] for n in two_zones.level_nodes[1]] == [2, 2]
    assert 1 in two_zones.check_levels and 2 in two_zones.check_levels


def test_choose_keeps_replicas_apart_and_prefers_the_largest_deficit():
    layout = devs(FOUR_ZONES)
    tree = _Tree(layout, 3, 3 * 8)
    zone_of = {d['id']: tree.chain[d['id']][1] for d in layout}
    used = collections.Counter()
    picked = []
    for _ in range(3):
        dev_id = tree.choose(used, positive_only=True)
        picked.append(dev_id)
        tree.adjust(dev_id, -1)
        for node in tree.chain[dev_id]:
            used[node] += 1
    assert len({zone_of[d] for d in picked}) == 3


def test_choose_prefers_the_device_that_is_most_short():
    tree = _Tree(devs(FOUR_ZONES), 3, 3 * 8)
    for dev_id in tree.chain:
        if dev_id != 5:
            tree.adjust(dev_id, -2)          # everyone but 5 got two
    assert tree.choose({}, positive_only=True) == 5


def test_choose_gives_up_when_every_allowed_device_is_full():
    layout = devs([(1, 1, 'a', 1), (1, 2, 'b', 1), (1, 3, 'c', 1)])
    tree = _Tree(layout, 3, 3)
    for dev_id in range(3):
        tree.adjust(dev_id, -1)              # every want met
    assert tree.choose({}, positive_only=True) is None
    assert tree.choose({}, positive_only=False) is not None


def test_adjust_keeps_room_as_the_sum_of_positive_deficits():
    tree = _Tree(devs(FOUR_ZONES), 3, 3 * 16)
    dev_id = 0
    for _ in range(tree.want[dev_id] + 3):   # overfill one device
        tree.adjust(dev_id, -1)
    leaf = tree.chain[dev_id][3]
    assert tree.deficit[leaf] == -3 and tree.room[leaf] == 0
    assert tree.room[0] == sum(max(0, tree.deficit[tree.chain[d][3]])
                               for d in tree.chain)


def test_the_first_build_sequence_spreads_consecutive_slots_over_zones():
    layout = devs(FOUR_ZONES)
    tree = _Tree(layout, 3, 3 * 64)
    seq = tree.sequence(random.Random(1))
    assert collections.Counter(seq) == collections.Counter(tree.want)
    zone = {d['id']: d['zone'] for d in layout}
    for start in range(0, len(seq) - 3, 3):
        assert len({zone[d] for d in seq[start:start + 3]}) == 3


def test_interleave_spreads_each_child_evenly():
    order = _interleave([4, 2])
    assert sorted(order) == [0, 0, 0, 0, 1, 1]
    assert order[0] == 0 and order[1:3] != [1, 1] and order[-2:] != [1, 1]
    assert _interleave([2, 2]) == [0, 1, 0, 1]
    shuffled = _interleave([3, 3, 3], random.Random(2))
    for start in range(0, 9, 3):
        assert sorted(shuffled[start:start + 3]) == [0, 1, 2]
