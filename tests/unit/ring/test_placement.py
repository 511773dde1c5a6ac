"""Placement steps of a rebalance, tested directly: the surplus shedder's
two ways of moving (bit masks for one-per-zone layouts, the tier tree for
others), the partition walk and the table search."""
import array
import collections
import random

from objproxy.ring.placement import _SurplusShedder, _positions, _rows_from
from objproxy.ring.tiers import _Tree
from tests.unit.ring.helpers import add_server, make_builder, zones_of


def counts_of(builder):
    counts = collections.Counter()
    for table in builder._replica2part2dev:
        counts.update(table)
    return counts


def shedder_after(builder):
    """A shedder set up as rebalance sets it up, for the builder's current
    tables against its current weights."""
    counts = counts_of(builder)
    tree = _Tree(builder._active_devs(), builder.replicas,
                 sum(builder._replica_lengths()))
    for dev_id, count in counts.items():
        tree.adjust(dev_id, -count)
    return _SurplusShedder(builder, tree, counts, budget=10 ** 6), counts


def surplus_total(shed):
    return sum(shed.surplus.values())


def run(shed, builder):
    move = shed.move_by_bits if shed.fast else shed.move_by_tree
    moved_parts = []
    for part, row in _rows_from(builder._replica2part2dev, builder.parts, 0):
        sources = shed.sources(row)
        if sources and move(part, row, list(row) and sources):
            moved_parts.append(part)
        if shed.done():
            break
    return moved_parts


def test_one_replica_per_zone_layouts_move_by_bit_masks():
    builder = make_builder(zones=4, servers=1, disks=2)
    builder.rebalance(seed=1)
    builder.devs[0]['weight'] = 10          # now far overweight
    builder.devs_changed = True
    shed, counts = shedder_after(builder)
    assert shed.fast and shed.worthwhile()
    before = surplus_total(shed)
    moved = run(shed, builder)
    assert shed.moved == len(moved) > 0
    assert surplus_total(shed) == before - shed.moved
    for row in builder._rows():
        assert len(set(zones_of(builder, row))) == 3   # still one per zone
    assert counts_of(builder) == +counts


def test_other_layouts_move_through_the_tier_tree():
    # two zones for three replicas: a zone must hold two (cap 2), so the
    # binding levels are not all "one each" and the tree decides
    builder = make_builder(zones=2, servers=2, disks=2)
    builder.rebalance(seed=1)
    add_server(builder, 1, 2, '10.1.2.9', 2)
    shed, counts = shedder_after(builder)
    assert not shed.fast and shed.worthwhile()
    before = surplus_total(shed)
    moved = run(shed, builder)
    assert shed.moved == len(moved) > 0
    assert surplus_total(shed) == before - shed.moved
    for row in builder._rows():
        assert len(set(row)) == 3
        assert max(collections.Counter(zones_of(builder, row)).values()) <= 2
    assert counts_of(builder) == +counts


def test_each_path_moves_at_most_one_replica_of_a_partition():
    for zones in (4, 2):
        builder = make_builder(zones=zones, servers=2, disks=2)
        builder.rebalance(seed=1)
        old = [list(t) for t in builder._replica2part2dev]
        add_server(builder, 1, 1, '10.1.1.9', 4)
        shed, _ = shedder_after(builder)
        run(shed, builder)
        for part in range(builder.parts):
            changed = sum(old[r][part] != builder._replica2part2dev[r][part]
                          for r in range(3))
            assert changed <= 1


def test_the_budget_stops_the_pass():
    builder = make_builder(zones=4, servers=1, disks=2)
    builder.rebalance(seed=1)
    builder.devs[0]['weight'] = 10
    builder.devs_changed = True
    shed, _ = shedder_after(builder)
    shed.budget = 3
    run(shed, builder)
    assert shed.moved == 3


def test_nothing_to_do_when_balanced():
    builder = make_builder(zones=4, servers=1, disks=2)
    builder.rebalance(seed=1)
    shed, _ = shedder_after(builder)
    assert not shed.worthwhile()


def test_rows_are_visited_once_each_from_the_start():
    tables = [array.array('H', range(0, 8)), array.array('H', range(8, 16))]
    visited = list(_rows_from(tables, 8, 5))
    assert [p for p, _ in visited] == [5, 6, 7, 0, 1, 2, 3, 4]
    assert list(visited[0][1]) == [5, 13]


def test_rows_of_a_fractional_replica_skip_the_short_table():
    tables = [array.array('H', range(4)), array.array('H', [9, 9])]
    visited = dict(_rows_from(tables, 4, 0))
    assert visited[1] == [1, 9] and visited[3] == [3]


def test_positions_finds_aligned_entries_only():
    table = array.array('H', [1, 256, 1, 7, 1])
    assert _positions(table, 1) == [0, 2, 4]
    assert _positions(table, 256) == [1]
    assert _positions(table, 3) == []


def test_a_seeded_rebalance_is_reproducible_on_either_path():
    for zones in (4, 2):
        tables = []
        for _ in range(2):
            builder = make_builder(zones=zones, servers=2, disks=2)
            builder.rebalance(seed=7)
            add_server(builder, 1, 1, '10.1.1.9', 2)
            builder.rebalance(seed=random.Random(3).randrange(100))
            tables.append([list(t) for t in builder._replica2part2dev])
        assert tables[0] == tables[1]
