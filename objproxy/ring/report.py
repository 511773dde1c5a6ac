"""What the builder reports about a ring: balance, dispersion, checks.

Why it is its own module: these are read-only questions about a built
table (for the command line, for tests and for the end of a rebalance),
kept apart from the code that changes the table.  ``ReportMixin`` gives
``RingBuilder`` these methods.
"""
import collections
import math

from objproxy.common.exceptions import RingError
from objproxy.ring.tiers import LEVELS, _Tree

MAX_BALANCE = 999.99


class ReportMixin(object):
    """Balance, dispersion, consistency and per-device partition lists."""

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
