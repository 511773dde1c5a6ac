"""The tier tree a rebalance walks: region -> zone -> server -> device.

Why it is its own module: the tree is the placement arithmetic (how many
replicas of each partition every node should hold, and which device still
wants more) and nothing else; the builder's rebalance and its dispersion
report both build one from the active devices and only ask it questions.

Per node it carries a *replicanth* (how many replicas of each partition it
should hold, by weight, water-filled so no node is asked for more than it
can hold), a per-partition *cap* (ceil of the replicanth: the most replicas
of one partition the node may hold while staying "as dispersed as
possible") and a running *deficit* (wanted minus held assignments).
"""
import math

LEVELS = ('region', 'zone', 'server', 'device')


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

