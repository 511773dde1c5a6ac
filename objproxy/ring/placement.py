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
                            % (_fmt_replicas(self.replicas), len(active)))
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
        replica per partition, in a pseudo-random partition order.

        Stops once no device is short by more than 0.5% of its want: when
        dispersion caps make the exact split unreachable, chasing the last
        fraction of a percent would cost many chained moves."""
        want = tree.want
        surplus = {}
        for dev_id, wanted in want.items():
            extra = counts.get(dev_id, 0) - wanted
            if extra > 0:
                surplus[dev_id] = extra
        tolerance = {d: int(w * 0.005) for d, w in want.items()}
        deficit = tree.deficit
        chain = tree.chain
        short = {d for d in want if deficit[chain[d][3]] > tolerance[d]}
        if not surplus or not short or budget <= 0:
            return 0
        say('moving surplus off %d overweight device(s) onto %d short '
            'one(s)' % (len(surplus), len(short)))
        # Cheap pre-check at the deepest level whose caps bind: which of
        # its nodes still have room for another assignment.
        level = tree.check_levels[-1] if tree.check_levels else None
        if level is not None:
            keys = tree.level_keys(level, len(self.devs))
            cap = tree.cap
            room = tree.room
            roomy = {n for n in tree.level_nodes[level] if room[n] > 0}
            uniform = all(cap[n] == 1 for n in tree.level_nodes[level])
        mph = self.min_part_hours
        last = self._last_part_moves
        tables = self._replica2part2dev
        parts = self.parts
        start = rng.randrange(parts)
        if all(len(t) == parts for t in tables):
            # Visit partitions from a random start, rows straight from zip.
            rotated = [t[start:] + t[:start] for t in tables]
            visit = zip(itertools.chain(range(start, parts),
                                        range(start)), zip(*rotated))
        else:
            order = itertools.chain(range(start, parts), range(start))
            visit = ((p, [t[p] for t in tables if p < len(t)])
                     for p in order)
        fast = level is not None and uniform and \
            len(tree.check_levels) == 1
        if fast:
            lnodes = tree.level_nodes[level]
            bit_of = {node: 1 << i for i, node in enumerate(lnodes)}
            kbits = [0] * len(self.devs)
            for dev_id, dev_chain in chain.items():
                kbits[dev_id] = bit_of[dev_chain[level]]
            roomy_mask = 0
            for node in roomy:
                roomy_mask |= bit_of[node]
            children = tree.children
            leaf_dev = tree.leaf_dev
            room_of = room.__getitem__
        moved = 0
        get = surplus.get
        for part, row in visit:
            if moved_flags[part] or last[part] < mph:
                continue
            sources = [(get(dev_id, 0), replica)
                       for replica, dev_id in enumerate(row)
                       if dev_id in surplus]
            if not sources:
                continue
            if len(sources) > 1:
                sources.sort(reverse=True)
            if fast:
                used_bits = 0
                for dev_id in row:
                    used_bits |= kbits[dev_id]
                free = roomy_mask & ~used_bits
                for _extra, replica in sources:
                    dev_id = row[replica]
                    allowed = free | (kbits[dev_id] & roomy_mask)
                    if not allowed:
                        continue
                    node = max((n for i, n in enumerate(lnodes)
                                if allowed >> i & 1), key=room_of)
                    while children[node] is not None:
                        node = max(children[node], key=room_of)
                    target = leaf_dev[node]
                    if target == dev_id or target in row:
                        continue
                    tables[replica][part] = target
                    tree.adjust(dev_id, 1)
                    tree.adjust(target, -1)
                    moved += 1
                    moved_flags[part] = 1
                    counts[dev_id] -= 1
                    counts[target] = counts.get(target, 0) + 1
                    if surplus[dev_id] == 1:
                        del surplus[dev_id]
                    else:
                        surplus[dev_id] -= 1
                    if target in short and \
                            deficit[chain[target][3]] <= tolerance[target]:
                        short.discard(target)
                    lnode = chain[target][level]
                    if room[lnode] <= 0:
                        roomy_mask &= ~bit_of[lnode]
                    break
                if not short or not surplus or not roomy_mask or \
                        moved >= budget:
                    break
                continue
            if level is not None:
                nodes = [keys[d] for d in row]
                if uniform:
                    free = roomy.difference(nodes)
            for _extra, replica in sources:
                dev_id = row[replica]
                if level is not None:
                    if uniform:
                        if not free and nodes[replica] not in roomy:
                            continue
                    else:
                        others = list(nodes)
                        del others[replica]
                        for node in roomy:
                            if others.count(node) < cap[node]:
                                break
                        else:
                            continue
                table = tables[replica]
                used = self._used(tree, part, replica)
                tree.adjust(dev_id, 1)
                target = tree.choose(used, True)
                if target is None or target == dev_id:
                    tree.adjust(dev_id, -1)
                    continue
                table[part] = target
                tree.adjust(target, -1)
                counts[dev_id] -= 1
                counts[target] = counts.get(target, 0) + 1
                moved_flags[part] = 1
                moved += 1
                if surplus[dev_id] == 1:
                    del surplus[dev_id]
                else:
                    surplus[dev_id] -= 1
                if target in short and \
                        deficit[chain[target][3]] <= tolerance[target]:
                    short.discard(target)
                if level is not None:
                    node = chain[target][level]
                    if room[node] <= 0:
                        roomy.discard(node)
                break
            if not short or not surplus or moved >= budget:
                break
        return moved


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


def _fmt_replicas(value):
    return '%d' % value if value == int(value) else '%g' % value
