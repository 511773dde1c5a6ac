"""Where partition replicas go: the first build and every rebalance.

Why it is shaped like this: the builder must balance by weight, keep each
partition's replicas apart (region, zone, server, device), and move as
little as possible, at 2**18+ partitions in pure Python.  So the work is
arranged around whole-table operations on the tier tree (tiers.py):

* A first build lays the devices out as a hierarchically interleaved
  sequence (zones round-robin, servers round-robin inside a zone, ...)
  and cuts it into windows of ``replicas`` slots, one window a partition:
  balanced and dispersed by construction, in C-speed list operations.
* Later rebalances only touch what must change: assignments on removed
  devices, partitions over a cap, then the surplus of overweight devices,
  each re-placed by walking the tree towards the largest deficit a
  partition may still use.  A partition moves at most one replica per
  rebalance (except off removed devices) and none within
  ``min_part_hours`` of its last move.

``PlacementMixin`` gives ``RingBuilder`` ``rebalance`` and its helpers;
they work on the builder's ``_replica2part2dev`` tables.
"""
import array
import collections
import itertools
import math
import random

from objproxy.common.exceptions import RingError
from objproxy.ring.ring import NONE_DEV
from objproxy.ring.tiers import _Tree


class PlacementMixin(object):
    """``rebalance`` and the placement steps it is made of."""

    def rebalance(self, seed=None, progress=None):
        """Place/move replicas; return (assignments moved, balance %,
        removed device count)."""
        say = progress or (lambda message: None)
        rng = random.Random(seed)
        active = self._active_devs()
        need = math.ceil(self.replicas - 1e-9)
        if len(active) < need:
            raise RingError('cannot place %s replicas on %d device(s) with '
                            'weight; add devices or lower replicas'
                            % (format_replicas(self.replicas), len(active)))
        self._update_last_part_moves()
        lengths = self._replica_lengths()
        total = sum(lengths)
        tree = _Tree(active, self.replicas, total)
        moved_flags = bytearray(self.parts)
        placed = 0

        if self._replica2part2dev is None or \
                [len(t) for t in self._replica2part2dev] != lengths:
            say('initial placement of %d assignments' % total)
            self._initial_placement(tree, lengths, rng)
            moved_flags = bytearray(b'\x01' * self.parts)
            placed = total
            counts = dict(tree.want)
            for dev_id, want in tree.want.items():
                tree.adjust(dev_id, -want)
            initial = True
        else:
            initial = False
            counts = collections.Counter()
            for table in self._replica2part2dev:
                counts.update(table)
            gain = sum(max(0, want - counts.get(dev_id, 0))
                       for dev_id, want in tree.want.items())
            drop = sum(max(0, count - tree.want.get(dev_id, 0))
                       for dev_id, count in counts.items())
            # Churn budget: never move more than 4% above what the weights
            # strictly require (dispersion can make exact balance costly).
            budget = int(1.04 * max(gain, drop))
            for dev_id, count in counts.items():
                if dev_id in tree.chain:
                    tree.adjust(dev_id, -count)
            # A. assignments on removed / zero-weight devices must go.
            gone = {d for d in counts if d not in tree.chain}
            pending = []
            if gone:
                say('moving assignments off %d device(s)' % len(gone))
                for replica, table in enumerate(self._replica2part2dev):
                    for dev_id in gone:
                        for part in _positions(table, dev_id):
                            table[part] = NONE_DEV
                            pending.append((part, replica))
                for dev_id in gone:
                    del counts[dev_id]
            rng.shuffle(pending)
            for part, replica in pending:
                self._place(tree, counts, part, replica, False)
                moved_flags[part] = 1
            placed += len(pending)

        # B. partitions over a dispersion cap.
        say('checking dispersion')
        mph = self.min_part_hours
        last = self._last_part_moves
        fixes = []
        over = set()
        for found in self._violations(tree).values():
            over.update(found)
        for part in sorted(over):
            if not initial and (moved_flags[part] or last[part] < mph):
                continue
            replica = self._worst_replica(tree, part)
            dev_id = self._replica2part2dev[replica][part]
            self._replica2part2dev[replica][part] = NONE_DEV
            counts[dev_id] -= 1
            tree.adjust(dev_id, 1)
            fixes.append((part, replica, dev_id))
        for part, replica, old in fixes:
            new = self._place(tree, counts, part, replica, False)
            moved_flags[part] = 1
            if new != old:
                placed += 1

        # C. surplus of overweight devices goes to underweight ones.
        if not initial:
            placed += self._shed_surplus(tree, counts, moved_flags, rng, say,
                                         budget - placed)

        if initial:
            self._last_part_moves = array.array('B', bytes(self.parts))
        else:
            for part in itertools.compress(range(self.parts), moved_flags):
                last[part] = 0
        removed = 0
        for dev_id in sorted(self._remove_pending):
            if self.devs[dev_id] is not None:
                self.devs[dev_id] = None
                removed += 1
        self._remove_pending.clear()
        while self.devs and self.devs[-1] is None:
            self.devs.pop()
        self.devs_changed = False
        self.version += 1
        balances = self.dev_balances(counts)
        return placed, max((abs(b) for b in balances.values()),
                           default=0.0), removed

    def _initial_placement(self, tree, lengths, rng):
        seq = tree.sequence(rng)
        width = len(lengths)
        whole = len([n for n in lengths if n == self.parts])
        partial = lengths[-1] if width > whole else 0
        head = partial * width
        tables = []
        for replica in range(width):
            if replica < whole:
                values = seq[replica:head:width] + seq[head + replica::whole]
            else:
                values = seq[replica:head:width]
            tables.append(array.array('H', values))
        self._replica2part2dev = tables

    def _used(self, tree, part, skip_replica):
        used = {}
        for replica, table in enumerate(self._replica2part2dev):
            if replica == skip_replica or part >= len(table):
                continue
            dev_id = table[part]
            if dev_id == NONE_DEV:
                continue
            for node in tree.chain[dev_id]:
                used[node] = used.get(node, 0) + 1
        return used

    def _place(self, tree, counts, part, replica, positive_only):
        used = self._used(tree, part, replica)
        dev_id = tree.choose(used, positive_only)
        if dev_id is None:
            if positive_only:
                return None
            dev_id = tree.choose_relaxed(used)
        self._replica2part2dev[replica][part] = dev_id
        counts[dev_id] = counts.get(dev_id, 0) + 1
        tree.adjust(dev_id, -1)
        return dev_id

    def _violations(self, tree, every_level=False):
        """Partitions holding more replicas in some tier node than its cap,
        as {level: [partitions]}.  Only levels whose caps can bind are
        scanned (``every_level`` scans all four, for reports)."""
        size = max(len(self.devs), 1)
        levels = range(4) if every_level else tree.check_levels
        full3 = len(self._replica2part2dev) == 3 and \
            all(len(t) == self.parts for t in self._replica2part2dev)
        out = {}
        cap = tree.cap
        need = math.ceil(self.replicas - 1e-9)
        subset = None     # below an all-caps-1 level, only its offenders
        for level in levels:
            found = out[level] = []
            if min(cap[n] for n in tree.level_nodes[level]) >= need:
                continue
            keys = tree.level_keys(level, size)
            uniform = all(cap[n] == 1 for n in tree.level_nodes[level])
            if subset is not None:
                tables = self._replica2part2dev
                rows = ((p, [t[p] for t in tables if p < len(t)])
                        for p in subset)
                for part, row in rows:
                    nodes = [keys[d] for d in row]
                    if len(set(nodes)) != len(nodes) and any(
                            nodes.count(n) > cap[n] for n in nodes):
                        found.append(part)
                subset = found
                continue
            rows = self._rows()
            if uniform and full3:
                for part, (a, b, c) in enumerate(rows):
                    ka = keys[a]
                    kb = keys[b]
                    if ka == kb or ka == keys[c] or kb == keys[c]:
                        found.append(part)
                subset = found
                continue
            for part, row in enumerate(rows):
                nodes = [keys[d] for d in row]
                if len(set(nodes)) == len(nodes):
                    continue
                if uniform or any(nodes.count(n) > cap[n] for n in nodes):
                    found.append(part)
            if uniform:
                subset = found
        return out

    def _worst_replica(self, tree, part):
        """The replica to move off an over-cap partition: one inside the
        highest over-cap node, on the most overweight device."""
        tables = self._replica2part2dev
        devs = [(r, t[part]) for r, t in enumerate(tables) if part < len(t)]
        for level in range(4):
            seen = collections.Counter(tree.chain[d][level] for _r, d in devs)
            over = [n for n, c in seen.items() if c > tree.cap[n]]
            if over:
                choices = [(r, d) for r, d in devs
                           if tree.chain[d][level] in over]
                replica, _dev = min(
                    choices, key=lambda rd: tree.deficit[tree.chain[rd[1]][3]])
                return replica
        return devs[-1][0]

    def _shed_surplus(self, tree, counts, moved_flags, rng, say, budget):
        """Move surplus off overweight devices into short ones, at most one
        replica per partition, in a pseudo-random partition order."""
        shed = _SurplusShedder(self, tree, counts, budget)
        if not shed.worthwhile():
            return 0
        say('moving surplus off %d overweight device(s) onto %d short '
            'one(s)' % (len(shed.surplus), len(shed.short)))
        mph = self.min_part_hours
        last = self._last_part_moves
        move = shed.move_by_bits if shed.fast else shed.move_by_tree
        for part, row in _rows_from(self._replica2part2dev, self.parts,
                                    rng.randrange(self.parts)):
            if moved_flags[part] or last[part] < mph:
                continue
            sources = shed.sources(row)
            if not sources:
                continue
            if move(part, row, sources):
                moved_flags[part] = 1
            if shed.done():
                break
        return shed.moved


def _rows_from(tables, parts, start):
    """(partition, its row of device ids) from ``start`` round to it."""
    order = itertools.chain(range(start, parts), range(start))
    if all(len(t) == parts for t in tables):
        rotated = [t[start:] + t[:start] for t in tables]
        return zip(order, zip(*rotated))
    return ((p, [t[p] for t in tables if p < len(t)]) for p in order)


class _SurplusShedder(object):
    """One pass of moving surplus assignments onto short devices.

    Why two ways to move: when the only binding dispersion level has a cap
    of one everywhere (the common "one replica per zone" case), a target is
    found with bit masks of the tier nodes still free and roomy, which is
    what makes a 2**18-partition rebalance take seconds
    (``move_by_bits``); any other layout asks the tier tree for the best
    allowed device (``move_by_tree``).  Both record a move the same way.

    The pass stops once no device is short by more than 0.5% of its want:
    when dispersion caps make the exact split unreachable, chasing the
    last fraction of a percent would cost many chained moves.
    """

    def __init__(self, builder, tree, counts, budget):
        self.builder = builder
        self.tree = tree
        self.counts = counts
        self.budget = budget
        self.tables = builder._replica2part2dev
        self.moved = 0
        want = tree.want
        self.surplus = {d: counts.get(d, 0) - w for d, w in want.items()
                        if counts.get(d, 0) - w > 0}
        self.tolerance = {d: int(w * 0.005) for d, w in want.items()}
        self.short = {d for d in want if self._deficit(d) > self.tolerance[d]}
        # The deepest level whose caps bind: which of its nodes still have
        # room for another assignment (a cheap pre-check).
        self.level = tree.check_levels[-1] if tree.check_levels else None
        self.fast = False
        if self.level is not None:
            nodes = tree.level_nodes[self.level]
            self.keys = tree.level_keys(self.level, len(builder.devs))
            self.roomy = {n for n in nodes if tree.room[n] > 0}
            self.uniform = all(tree.cap[n] == 1 for n in nodes)
            self.fast = self.uniform and len(tree.check_levels) == 1
        if self.fast:
            self._prepare_bits()

    def _deficit(self, dev_id):
        return self.tree.deficit[self.tree.chain[dev_id][3]]

    def worthwhile(self):
        return bool(self.surplus and self.short and self.budget > 0)

    def done(self):
        if self.fast and not self.roomy_mask:
            return True
        return not self.short or not self.surplus or \
            self.moved >= self.budget

    def sources(self, row):
        """(surplus, replica) of the row's overweight devices, largest
        surplus first."""
        get = self.surplus.get
        found = [(get(dev_id, 0), replica)
                 for replica, dev_id in enumerate(row)
                 if dev_id in self.surplus]
        if len(found) > 1:
            found.sort(reverse=True)
        return found

    def _record(self, part, replica, dev_id, target):
        """Bookkeeping of one move (the tree already knows of it)."""
        self.tables[replica][part] = target
        self.counts[dev_id] -= 1
        self.counts[target] = self.counts.get(target, 0) + 1
        self.moved += 1
        if self.surplus[dev_id] == 1:
            del self.surplus[dev_id]
        else:
            self.surplus[dev_id] -= 1
        if target in self.short and \
                self._deficit(target) <= self.tolerance[target]:
            self.short.discard(target)

    # -- uniform caps of one at a single level: bit masks ------------------
    def _prepare_bits(self):
        tree = self.tree
        self.lnodes = tree.level_nodes[self.level]
        self.bit_of = {node: 1 << i for i, node in enumerate(self.lnodes)}
        self.kbits = [0] * len(self.builder.devs)
        for dev_id, dev_chain in tree.chain.items():
            self.kbits[dev_id] = self.bit_of[dev_chain[self.level]]
        self.roomy_mask = 0
        for node in self.roomy:
            self.roomy_mask |= self.bit_of[node]

    def move_by_bits(self, part, row, sources):
        tree = self.tree
        room_of = tree.room.__getitem__
        kbits = self.kbits
        used_bits = 0
        for dev_id in row:
            used_bits |= kbits[dev_id]
        free = self.roomy_mask & ~used_bits
        for _extra, replica in sources:
            dev_id = row[replica]
            allowed = free | (kbits[dev_id] & self.roomy_mask)
            if not allowed:
                continue
            node = max((n for i, n in enumerate(self.lnodes)
                        if allowed >> i & 1), key=room_of)
            while tree.children[node] is not None:
                node = max(tree.children[node], key=room_of)
            target = tree.leaf_dev[node]
            if target == dev_id or target in row:
                continue
            tree.adjust(dev_id, 1)
            tree.adjust(target, -1)
            self._record(part, replica, dev_id, target)
            lnode = tree.chain[target][self.level]
            if tree.room[lnode] <= 0:
                self.roomy_mask &= ~self.bit_of[lnode]
            return True
        return False

    # -- any other layout: ask the tier tree -------------------------------
    def _may_leave(self, nodes, replica, free):
        """Whether some roomy node could take this replica's place without
        breaking the binding level's caps."""
        if self.level is None:
            return True
        if self.uniform:
            return bool(free) or nodes[replica] in self.roomy
        others = list(nodes)
        del others[replica]
        return any(others.count(node) < self.tree.cap[node]
                   for node in self.roomy)

    def move_by_tree(self, part, row, sources):
        tree = self.tree
        nodes = free = None
        if self.level is not None:
            nodes = [self.keys[d] for d in row]
            if self.uniform:
                free = self.roomy.difference(nodes)
        for _extra, replica in sources:
            dev_id = row[replica]
            if not self._may_leave(nodes, replica, free):
                continue
            used = self.builder._used(tree, part, replica)
            tree.adjust(dev_id, 1)
            target = tree.choose(used, True)
            if target is None or target == dev_id:
                tree.adjust(dev_id, -1)
                continue
            tree.adjust(target, -1)
            self._record(part, replica, dev_id, target)
            if self.level is not None:
                node = tree.chain[target][self.level]
                if tree.room[node] <= 0:
                    self.roomy.discard(node)
            return True
        return False


def _positions(table, dev_id):
    """Indexes of ``dev_id`` in a uint16 table (bytes.find runs in C)."""
    data = table.tobytes()
    pattern = array.array('H', [dev_id]).tobytes()
    out = []
    find = data.find
    at = find(pattern)
    while at >= 0:
        if at % 2:
            at = find(pattern, at + 1)
            continue
        out.append(at // 2)
        at = find(pattern, at + 2)
    return out


def format_replicas(value):
    """A replica count as people write it: 3, or 2.5 for a fraction."""
    return '%d' % value if value == int(value) else '%g' % value
