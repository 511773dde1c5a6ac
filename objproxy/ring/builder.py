"""Placement of partition replicas onto devices (the ring builder).

Why it is shaped like this: the builder must balance by weight, keep each
partition's replicas apart (region, zone, server, device), and move as
little as possible, at 2**18+ partitions in pure Python.  So the work is
arranged around whole-table operations:

* A *tier tree* (root -> region -> zone -> server(ip) -> device) carries,
  per node, a *replicanth* (how many replicas of each partition it should
  hold, by weight, water-filled so no node is asked for more than it can
  hold), a per-partition *cap* (ceil of the replicanth: the most replicas
  of one partition the node may hold while staying "as dispersed as
  possible") and a running *deficit* (wanted minus held assignments).
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

The builder file is our own gzip+JSON+array format (see ringfile.py).
"""
import array
import collections
import itertools
import math
import random
import re
import time

from objproxy.common.exceptions import RingError
from objproxy.ring import ringfile
from objproxy.ring.ring import DEV_KEYS, NONE_DEV

MAX_PART_POWER = 24
MAX_DEVICES = NONE_DEV          # dev ids are stored as uint16; 0xFFFF = none
MAX_BALANCE = 999.99
LEVELS = ('region', 'zone', 'server', 'device')


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_dev(dev):
    """Return a clean copy of a device dict or raise RingError."""
    if not isinstance(dev, dict):
        raise RingError('a device must be a dict')
    out = {}
    for key in ('region', 'zone', 'port'):
        value = dev.get(key, 1 if key == 'region' else None)
        if not isinstance(value, int) or isinstance(value, bool) \
                or value < 0:
            raise RingError('device %s must be a whole number >= 0, not %r'
                            % (key, value))
        out[key] = value
    if not 0 < out['port'] < 65536:
        raise RingError('device port must be 1-65535, not %r' % out['port'])
    for key in ('ip', 'device'):
        value = dev.get(key)
        if not isinstance(value, str) or not value or \
                any(c.isspace() for c in value):
            raise RingError('device %s must be a non-empty string without '
                            'spaces, not %r' % (key, value))
        out[key] = value
    if '/' in out['device']:
        raise RingError('device name %r may not contain "/"' % out['device'])
    weight = dev.get('weight')
    if not _is_number(weight) or weight < 0 or weight != weight or \
            weight == float('inf'):
        raise RingError('device weight must be a number >= 0, not %r'
                        % (weight,))
    out['weight'] = float(weight)
    meta = dev.get('meta', '')
    if not isinstance(meta, str):
        raise RingError('device meta must be a string')
    out['meta'] = meta
    return out


class _Tree(object):
    """The tier tree for one rebalance (see the module docstring)."""

    def __init__(self, devs, replicas, total):
        self.replicas = replicas
        self.children = [[]]          # node -> child nodes (None for leaf)
        self.weight = [0.0]
        self.ndevs = [0]
        self.leaf_dev = [None]        # node -> dev id for device nodes
        self.level = [-1]
        self.level_nodes = [[] for _ in LEVELS]
        index = {}
        self.chain = {}
        for dev in devs:
            keys = ((dev['region'],), (dev['region'], dev['zone']),
                    (dev['region'], dev['zone'], dev['ip']),
                    (dev['region'], dev['zone'], dev['ip'], dev['id']))
            parent = 0
            chain = []
            for level, key in enumerate(keys):
                node = index.get(key)
                if node is None:
                    node = index[key] = len(self.children)
                    self.children.append(None if level == 3 else [])
                    self.weight.append(0.0)
                    self.ndevs.append(0)
                    self.leaf_dev.append(dev['id'] if level == 3 else None)
                    self.level.append(level)
                    self.children[parent].append(node)
                    self.level_nodes[level].append(node)
                self.weight[node] += dev['weight']
                self.ndevs[node] += 1
                chain.append(node)
                parent = node
            self.weight[0] += dev['weight']
            self.ndevs[0] += 1
            self.chain[dev['id']] = tuple(chain)
        count = len(self.children)
        self.replicanth = [0.0] * count
        self._fill(0, float(replicas))
        self.cap = [max(1, math.ceil(r - 1e-6)) for r in self.replicanth]
        # Integer wants per device, largest remainder; sum == total.
        raw = [(self.replicanth[self.chain[d['id']][3]] / replicas * total,
                d['id']) for d in devs]
        wants = {dev_id: int(value) for value, dev_id in raw}
        short = total - sum(wants.values())
        rank = {dev_id: pos for pos, dev_id in enumerate(self._spread(0))}
        raw.sort(key=lambda item: (round(int(item[0]) - item[0], 9),
                                   rank[item[1]]))
        for value, dev_id in raw[:short]:
            wants[dev_id] += 1
        self.want = wants
        self.deficit = [0] * count
        for dev_id, want in wants.items():
            for node in self.chain[dev_id]:
                self.deficit[node] += want
        self.deficit[0] = total
        # room: the sum of positive device deficits below a node, i.e. how
        # many more assignments it can take without overfilling a device.
        self.room = list(self.deficit)
        # Levels whose caps can bind, top down, stopping at the first one
        # where every cap is 1 (distinctness there implies it below).
        ceil_replicas = math.ceil(replicas - 1e-9)
        self.check_levels = []
        for level, nodes in enumerate(self.level_nodes):
            caps = [self.cap[n] for n in nodes]
            if min(caps) >= ceil_replicas:
                continue
            self.check_levels.append(level)
            if max(caps) == 1:
                break

    def _spread(self, node):
        """Each device once, interleaved across the tree (used to hand out
        rounding remainders evenly, so sibling counts differ by <= 1)."""
        kids = self.children[node]
        if kids is None:
            return [self.leaf_dev[node]]
        subs = [self._spread(kid) for kid in kids]
        order = _interleave([len(sub) for sub in subs])
        nexts = [iter(sub).__next__ for sub in subs]
        return [nexts[k]() for k in order]

    def _fill(self, node, amount):
        """Share ``amount`` replicanths among children by weight, never
        more than a child can hold (one replica per device)."""
        self.replicanth[node] = amount
        kids = self.children[node]
        if kids is None:
            return
        shares = {}
        open_kids = list(kids)
        left = amount
        while open_kids:
            weight = sum(self.weight[k] for k in open_kids)
            clamped = []
            for kid in open_kids:
                share = left * self.weight[kid] / weight if weight else 0.0
                if share > self.ndevs[kid]:
                    clamped.append(kid)
                shares[kid] = share
            if not clamped:
                break
            for kid in clamped:
                shares[kid] = float(self.ndevs[kid])
                left -= self.ndevs[kid]
                open_kids.remove(kid)
        for kid in kids:
            self._fill(kid, shares[kid])

    def level_keys(self, level, size):
        keys = [-1] * size
        for dev_id, chain in self.chain.items():
            keys[dev_id] = chain[level]
        return keys

    def adjust(self, dev_id, delta):
        """A device gained (delta=-1) or lost (delta=+1) assignments."""
        chain = self.chain[dev_id]
        deficit = self.deficit
        old = deficit[chain[3]]
        new = old + delta
        droom = (new if new > 0 else 0) - (old if old > 0 else 0)
        for node in chain:
            deficit[node] += delta
        deficit[0] += delta
        if droom:
            room = self.room
            for node in chain:
                room[node] += droom
            room[0] += droom

    def choose(self, used, positive_only):
        """Pick a device for one more replica of a partition whose other
        replicas account for ``used`` (node -> replicas).  Walks towards
        the largest deficit among nodes below their cap; backtracks.
        Returns a dev id or None."""
        return self._choose(0, used, positive_only)

    def _choose(self, node, used, positive_only):
        kids = self.children[node]
        if kids is None:
            return self.leaf_dev[node]
        deficit = self.room if positive_only else self.deficit
        cap = self.cap
        floor = 0 if positive_only else -(1 << 62)
        best = None
        best_deficit = floor
        for kid in kids:
            value = deficit[kid]
            if value > best_deficit and used.get(kid, 0) < cap[kid]:
                best, best_deficit = kid, value
        if best is None:
            return None
        found = self._choose(best, used, positive_only)
        if found is not None:
            return found
        others = sorted((k for k in kids if k != best and
                         deficit[k] > floor and used.get(k, 0) < cap[k]),
                        key=deficit.__getitem__, reverse=True)
        for kid in others:
            found = self._choose(kid, used, positive_only)
            if found is not None:
                return found
        return None

    def choose_relaxed(self, used):
        """Dispersion cannot be kept: least-used branch, largest deficit,
        never a device the partition already uses."""
        node = 0
        while self.children[node] is not None:
            kids = [k for k in self.children[node]
                    if self.children[k] is not None or not used.get(k)]
            kids = [k for k in kids if self._has_free_dev(k, used)]
            node = min(kids, key=lambda k: (used.get(k, 0),
                                            -self.deficit[k]))
        return self.leaf_dev[node]

    def _has_free_dev(self, node, used):
        if self.children[node] is None:
            return not used.get(node)
        return any(self._has_free_dev(k, used) for k in self.children[node])

    def sequence(self, rng):
        """All wanted assignments as one device sequence, interleaved so
        that any ``replicas`` consecutive slots are spread over the tree.
        Devices of one server are shuffled per round so that partitions do
        not all share a few fixed device combinations."""
        return self._sequence(0, rng)

    def _sequence(self, node, rng):
        kids = self.children[node]
        if kids is None:
            dev_id = self.leaf_dev[node]
            return [dev_id] * self.want[dev_id]
        subs = [self._sequence(kid, rng) for kid in kids]
        subs = [sub for sub in subs if sub]
        if len(subs) == 1:
            return subs[0]
        # Below the deepest level whose distinctness matters, a random
        # order per round costs no dispersion and decorrelates partitions.
        free = self.level[node] >= (self.check_levels or [3])[-1]
        order = _interleave([len(sub) for sub in subs],
                            rng if free else None)
        nexts = [iter(sub).__next__ for sub in subs]
        return [nexts[k]() for k in order]


def _interleave(counts, rng=None):
    """Child indices, each ``counts[i]`` times, evenly spread; with ``rng``
    each round-robin round is a random permutation."""
    low, high = min(counts), max(counts)
    kids = range(len(counts))
    if high - low <= 1:
        if rng is None or low == 0:
            order = list(kids) * low
        else:
            perms = []
            for _ in range(64):
                perm = list(kids)
                rng.shuffle(perm)
                perms.append(perm)
            order = []
            extend = order.extend
            pick = rng.getrandbits
            for _ in range(low):
                extend(perms[pick(6)])
        extra = [k for k in kids if counts[k] > low]
        if rng is not None:
            rng.shuffle(extra)
        order.extend(extra)
        return order
    keyed = []
    for kid in kids:
        count = counts[kid]
        keyed.extend(((2 * j + 1) << 20) // (2 * count) << 12 | kid
                     for j in range(count))
    keyed.sort()
    return [key & 0xFFF for key in keyed]


class RingBuilder(object):
    """Builds and rebalances a ring; saves itself and writes ring files."""

    def __init__(self, part_power, replicas, min_part_hours):
        if not isinstance(part_power, int) or isinstance(part_power, bool) \
                or not 1 <= part_power <= MAX_PART_POWER:
            raise RingError('part_power must be a whole number from 1 to %d,'
                            ' not %r' % (MAX_PART_POWER, part_power))
        if not _is_number(replicas) or not 1 <= replicas <= 64:
            raise RingError('replicas must be a number from 1 to 64, not %r'
                            % (replicas,))
        if not isinstance(min_part_hours, int) or \
                isinstance(min_part_hours, bool) or \
                not 0 <= min_part_hours <= 255:
            raise RingError('min_part_hours must be a whole number from 0 to'
                            ' 255, not %r' % (min_part_hours,))
        self.part_power = part_power
        self.parts = 2 ** part_power
        self.replicas = float(replicas)
        self.min_part_hours = min_part_hours
        self.devs = []
        self.version = 0
        self.devs_changed = False
        self._remove_pending = set()
        self._replica2part2dev = None
        self._last_part_moves = array.array('B', bytes(self.parts))
        self._last_part_moves_epoch = int(time.time())

    # -- devices --------------------------------------------------------
    def add_dev(self, dev):
        clean = validate_dev(dev)
        for other in self.devs:
            if other is not None and (other['ip'], other['port'],
                                      other['device']) == (
                    clean['ip'], clean['port'], clean['device']):
                raise RingError('device %s:%d/%s already exists (id %d)'
                                % (clean['ip'], clean['port'],
                                   clean['device'], other['id']))
        if 'id' in dev and dev['id'] is not None:
            dev_id = dev['id']
            if not isinstance(dev_id, int) or not 0 <= dev_id < MAX_DEVICES:
                raise RingError('bad device id %r' % (dev_id,))
            if dev_id < len(self.devs) and self.devs[dev_id] is not None:
                raise RingError('device id %d already in use' % dev_id)
        else:
            dev_id = next((i for i, d in enumerate(self.devs)
                           if d is None and i not in self._remove_pending),
                          len(self.devs))
        if dev_id >= MAX_DEVICES:
            raise RingError('too many devices (at most %d)' % MAX_DEVICES)
        while len(self.devs) <= dev_id:
            self.devs.append(None)
        clean['id'] = dev_id
        self.devs[dev_id] = {k: clean[k] for k in DEV_KEYS}
        self.devs_changed = True
        self.version += 1
        return dev_id

    def _dev(self, dev_id):
        if not 0 <= dev_id < len(self.devs) or self.devs[dev_id] is None:
            raise RingError('no device with id %r' % (dev_id,))
        return self.devs[dev_id]

    def set_dev_weight(self, dev_id, weight):
        dev = self._dev(dev_id)
        if dev_id in self._remove_pending:
            raise RingError('device %d is being removed' % dev_id)
        dev['weight'] = validate_dev(dict(dev, weight=weight))['weight']
        self.devs_changed = True
        self.version += 1

    def set_dev_info(self, dev_id, **changes):
        dev = self._dev(dev_id)
        clean = validate_dev(dict(dev, **changes))
        for other in self.devs:
            if other is not None and other['id'] != dev_id and (
                    other['ip'], other['port'], other['device']) == (
                    clean['ip'], clean['port'], clean['device']):
                raise RingError('device %s:%d/%s already exists (id %d)'
                                % (clean['ip'], clean['port'],
                                   clean['device'], other['id']))
        for key in ('ip', 'port', 'device', 'meta'):
            dev[key] = clean[key]
        self.devs_changed = True
        self.version += 1

    def remove_dev(self, dev_id):
        dev = self._dev(dev_id)
        dev['weight'] = 0.0
        self._remove_pending.add(dev_id)
        self.devs_changed = True
        self.version += 1

    def search_devs(self, search):
        """Devices matching a swift-ring-builder search value, e.g.
        ``d3``, ``r1z2``, ``z1-10.0.0.1:6200/sdb1``, ``_ssd``."""
        match = _SEARCH_RE.match(search or '')
        if not search or not match or match.end() != len(search):
            raise RingError('invalid search value %r; use '
                            'd<id>r<region>z<zone>-<ip>:<port>/<device>_<meta>'
                            % (search,))
        want = match.groupdict()
        out = []
        for dev in self.devs:
            if dev is None:
                continue
            if want['id'] is not None and dev['id'] != int(want['id']):
                continue
            if want['region'] is not None and \
                    dev['region'] != int(want['region']):
                continue
            if want['zone'] is not None and dev['zone'] != int(want['zone']):
                continue
            if want['ip'] is not None and \
                    dev['ip'] != want['ip'].strip('[]'):
                continue
            if want['port'] is not None and dev['port'] != int(want['port']):
                continue
            if want['device'] is not None and dev['device'] != want['device']:
                continue
            if want['meta'] is not None and want['meta'] not in dev['meta']:
                continue
            out.append(dev)
        return out

    # -- time -----------------------------------------------------------
    def _update_last_part_moves(self):
        now = int(time.time())
        hours = (now - self._last_part_moves_epoch) // 3600
        if hours <= 0:
            return
        table = bytes(min(255, i + hours) for i in range(256))
        self._last_part_moves = array.array(
            'B', self._last_part_moves.tobytes().translate(table))
        self._last_part_moves_epoch += hours * 3600

    def pretend_min_part_hours_passed(self):
        self._last_part_moves = array.array('B', b'\xff' * self.parts)

    def min_part_seconds_left(self):
        if not self.min_part_hours:
            return 0
        elapsed = int(time.time()) - self._last_part_moves_epoch
        youngest = min(self._last_part_moves) if self.parts else 255
        left = (self.min_part_hours - youngest) * 3600 - elapsed
        return max(0, left)

    # -- shape ------------------------------------------------------------
    def _replica_lengths(self):
        whole = int(self.replicas)
        lengths = [self.parts] * whole
        partial = int(round((self.replicas - whole) * self.parts))
        if partial:
            lengths.append(partial)
        return lengths

    def _active_devs(self):
        return [d for d in self.devs if d is not None and d['weight'] > 0
                and d['id'] not in self._remove_pending]

    def _rows(self):
        """Per-partition tuples of assigned dev ids, all partitions."""
        tables = self._replica2part2dev
        short = min(len(t) for t in tables)
        full = [t for t in tables if len(t) == self.parts]
        rows = zip(*tables)
        if short == self.parts:
            return rows
        tail = itertools.islice(zip(*full), short, None)
        return itertools.chain(rows, tail)

    # -- rebalance --------------------------------------------------------
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

    # -- reporting --------------------------------------------------------
    def dev_counts(self):
        counts = collections.Counter()
        if self._replica2part2dev is not None:
            for table in self._replica2part2dev:
                counts.update(table)
        return counts

    def dev_balances(self, counts=None):
        """dev id -> balance % (held vs. weight share)."""
        counts = self.dev_counts() if counts is None else counts
        total = sum(self._replica_lengths())
        weight = sum(d['weight'] for d in self._active_devs())
        out = {}
        for dev in self.devs:
            if dev is None:
                continue
            held = counts.get(dev['id'], 0)
            if self._replica2part2dev is None:
                out[dev['id']] = 0.0
            elif dev['weight'] <= 0 or dev['id'] in self._remove_pending \
                    or not weight:
                out[dev['id']] = MAX_BALANCE if held else 0.0
            else:
                share = total * dev['weight'] / weight
                out[dev['id']] = min(MAX_BALANCE,
                                     100.0 * (held - share) / share)
        return out

    def get_balance(self):
        balances = self.dev_balances()
        return max((abs(b) for b in balances.values()), default=0.0)

    def dispersion_report(self):
        """Per tier level: partitions holding more replicas in one node of
        that level than the node's cap; plus the overall percentage."""
        if self._replica2part2dev is None:
            return {'dispersion': 0.0, 'levels': {}, 'parts': 0}
        active = self._active_devs()
        if len(active) < math.ceil(self.replicas - 1e-9):
            return {'dispersion': 100.0, 'levels': {}, 'parts': self.parts}
        # Devices still holding partitions while being drained count too.
        ids = {d['id'] for d in active}
        if len(ids) < len([d for d in self.devs if d is not None]):
            active += [self.devs[i] for i in self.dev_counts()
                       if i not in ids and i < len(self.devs)
                       and self.devs[i] is not None]
        tree = _Tree(active, self.replicas, sum(self._replica_lengths()))
        found = self._violations(tree, every_level=True)
        bad = set()
        for parts in found.values():
            bad.update(parts)
        return {'dispersion': 100.0 * len(bad) / self.parts,
                'levels': {LEVELS[lv]: len(p) for lv, p in found.items()},
                'parts': len(bad),
                'max_replicas': {name: max(tree.cap[n] for n in nodes)
                                 for name, nodes in zip(
                                     LEVELS, tree.level_nodes)}}

    def validate(self):
        """Raise RingError if the builder's table is inconsistent."""
        if self._replica2part2dev is None:
            raise RingError('the builder has not been rebalanced yet')
        lengths = self._replica_lengths()
        if [len(t) for t in self._replica2part2dev] != lengths:
            raise RingError('partition table has the wrong shape')
        for replica, table in enumerate(self._replica2part2dev):
            for dev_id in set(table):
                if dev_id >= len(self.devs) or self.devs[dev_id] is None:
                    raise RingError('replica %d refers to missing device %d'
                                    % (replica, dev_id))
        for part, row in enumerate(self._rows()):
            if len(set(row)) != len(row):
                raise RingError('partition %d has two replicas on device %d'
                                % (part, collections.Counter(
                                    row).most_common(1)[0][0]))
        counts = self.dev_counts()
        for dev in self._active_devs():
            if not counts.get(dev['id']):
                raise RingError('device %d (%s:%d/%s) has weight but no '
                                'partitions' % (dev['id'], dev['ip'],
                                                dev['port'], dev['device']))

    def list_parts(self, dev_ids):
        """(partition, replicas on the given devices), most first."""
        dev_ids = set(dev_ids)
        hits = collections.Counter()
        if self._replica2part2dev is None:
            return []
        for table in self._replica2part2dev:
            for part, dev_id in enumerate(table):
                if dev_id in dev_ids:
                    hits[part] += 1
        return sorted(hits.items(), key=lambda item: (-item[1], item[0]))

    # -- files --------------------------------------------------------------
    def save(self, path):
        header = {
            'kind': 'objproxy-builder',
            'part_power': self.part_power,
            'replicas': self.replicas,
            'min_part_hours': self.min_part_hours,
            'devs': self.devs,
            'version': self.version,
            'devs_changed': self.devs_changed,
            'remove_pending': sorted(self._remove_pending),
            'last_part_moves_epoch': self._last_part_moves_epoch,
            'has_table': self._replica2part2dev is not None,
        }
        arrays = [self._last_part_moves] + list(self._replica2part2dev or [])
        ringfile.dump(path, ringfile.BUILDER_MAGIC, header, arrays,
                      compresslevel=1)

    @classmethod
    def load(cls, path):
        header, arrays = ringfile.load(path, ringfile.BUILDER_MAGIC)
        try:
            builder = cls(int(header['part_power']),
                          float(header['replicas']),
                          int(header['min_part_hours']))
            devs = header['devs']
            if not isinstance(devs, list):
                raise ValueError('devs')
            for index, dev in enumerate(devs):
                if dev is None:
                    continue
                clean = validate_dev(dev)
                if dev.get('id') != index:
                    raise ValueError('dev id')
                clean['id'] = index
                devs[index] = {k: clean[k] for k in DEV_KEYS}
            builder.devs = devs
            builder.version = int(header['version'])
            builder.devs_changed = bool(header['devs_changed'])
            builder._remove_pending = set(int(i) for i in
                                          header['remove_pending'])
            builder._last_part_moves_epoch = int(
                header['last_part_moves_epoch'])
            moves = arrays[0]
            if moves.typecode != 'B' or len(moves) != builder.parts:
                raise ValueError('last_part_moves')
            builder._last_part_moves = moves
            tables = arrays[1:]
            if header['has_table']:
                lengths = builder._replica_lengths()
                if [len(t) for t in tables] != lengths or \
                        any(t.typecode != 'H' for t in tables):
                    raise ValueError('table shape')
                for table in tables:
                    if max(table) >= len(devs) and \
                            max(table) != NONE_DEV:
                        raise ValueError('table devs')
                builder._replica2part2dev = tables
            elif tables:
                raise ValueError('unexpected table')
        except (KeyError, TypeError, ValueError, IndexError, RingError) as err:
            raise RingError('builder file %s is corrupt (%s)' % (path, err))
        return builder

    def get_ring_data(self):
        if self._replica2part2dev is None:
            raise RingError('the builder has not been rebalanced yet; run '
                            'rebalance first')
        devs = [None if d is None else {k: d[k] for k in DEV_KEYS}
                for d in self.devs]
        header = {'kind': 'objproxy-ring', 'part_power': self.part_power,
                  'replicas': self.replicas, 'devs': devs,
                  'version': self.version}
        return header, list(self._replica2part2dev)

    def write_ring(self, path):
        header, tables = self.get_ring_data()
        ringfile.dump(path, ringfile.RING_MAGIC, header, tables,
                      compresslevel=2)


_SEARCH_RE = re.compile(
    r'(?:d(?P<id>\d+))?'
    r'(?:r(?P<region>\d+))?'
    r'(?:z(?P<zone>\d+))?'
    r'(?:-(?P<ip>\[[0-9a-fA-F:.]+\]|[^:/_\s\[\]]+))?'
    r'(?::(?P<port>\d+))?'
    r'(?:/(?P<device>[^_\s]+))?'
    r'(?:_(?P<meta>.*))?')


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
