"""Placement of partition replicas onto devices (the ring builder).

``RingBuilder`` is the one object operators and tests use: it holds the
builder's state (devices, the replica-to-partition-to-device tables, the
last-move clock), saves and loads it, and writes ring files.  Its work is
split by job: devices.py (the device list), placement.py (the first
build and rebalances, on the tier tree of tiers.py) and report.py
(balance, dispersion, validation).

The builder file is our own gzip+JSON+array format (see ringfile.py).
"""
import array
import itertools
import time

from objproxy.common.exceptions import RingError
from objproxy.ring import ringfile
from objproxy.ring.devices import DeviceMixin, _is_number, validate_dev
from objproxy.ring.placement import PlacementMixin
from objproxy.ring.report import ReportMixin
from objproxy.ring.ring import DEV_KEYS, NONE_DEV

MAX_PART_POWER = 24


class RingBuilder(DeviceMixin, PlacementMixin, ReportMixin):
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
