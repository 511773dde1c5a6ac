"""Read-only view of a ring file: name -> partition -> devices.

Every proxy request and every daemon pass does lookups, so this module is
built for speed: the partition table is a list of ``array('H')`` (one per
replica), lookups are one MD5 plus array indexing, and the per-device dicts
handed out are prebuilt per replica index and copied (callers may mutate
what they get).  The ring notices a new file (different mtime) at most every
``reload_time`` seconds, on lookup, and swaps it in whole.
"""
import hashlib
import math
import os
import struct
import time

from objproxy.common.exceptions import RingError
from objproxy.common.hashing import hash_path
from objproxy.ring import ringfile

NONE_DEV = 0xFFFF
_unpack_uint32 = struct.Struct('>I').unpack_from
DEV_KEYS = ('id', 'region', 'zone', 'ip', 'port', 'device', 'weight', 'meta')


def ring_path(path, ring_name=None):
    """``Ring``'s path rule: a directory plus ring name, or a file."""
    if ring_name:
        return os.path.join(path, ring_name + '.ring.gz')
    if os.path.isdir(path):
        raise RingError('%s is a directory; give ring_name too' % path)
    return path


def validate_ring_data(header, tables, path):
    """Check a loaded ring's internal consistency; raise RingError."""
    try:
        part_power = int(header['part_power'])
        devs = header['devs']
        replicas = float(header['replicas'])
    except (KeyError, TypeError, ValueError):
        raise RingError('ring file %s has a corrupt header' % path)
    if not 0 <= part_power <= 32 or not isinstance(devs, list):
        raise RingError('ring file %s has a corrupt header' % path)
    parts = 2 ** part_power
    if len(tables) != math.ceil(replicas - 1e-9) or not tables:
        raise RingError('ring file %s: table count does not match %s '
                        'replicas' % (path, replicas))
    for table in tables:
        if table.typecode != 'H' or len(table) > parts:
            raise RingError('ring file %s has a corrupt table' % path)
        if len(table) and max(table) >= len(devs):
            raise RingError('ring file %s refers to unknown devices' % path)
    for dev in devs:
        if dev is not None and (not isinstance(dev, dict) or
                                any(k not in dev for k in DEV_KEYS)):
            raise RingError('ring file %s has a corrupt device list' % path)
    return part_power, replicas, devs


class Ring(object):
    """Partition lookups for one ring (account, container or object)."""

    def __init__(self, path, ring_name=None, reload_time=15):
        self.path = ring_path(path, ring_name)
        self.reload_time = reload_time
        self._load()

    # -- loading ------------------------------------------------------
    def _load(self):
        try:
            mtime = os.path.getmtime(self.path)
        except OSError:
            mtime = None
        header, tables = ringfile.load(self.path, ringfile.RING_MAGIC)
        part_power, replicas, devs = validate_ring_data(header, tables,
                                                        self.path)
        self._mtime = mtime
        self._part_shift = 32 - part_power
        self._replicas = replicas
        self._table = tables
        self.part_power = part_power
        self.partition_count = 2 ** part_power
        self.version = header.get('version')
        self.devs = devs
        # One prebuilt dict per (replica index, device): get_nodes copies.
        self._indexed = [[None if d is None else dict(d, index=r)
                          for d in devs] for r in range(len(tables))]
        self._pairs = list(zip(tables, self._indexed))
        self._all_full = all(len(t) == self.partition_count for t in tables)
        self._three = self._all_full and len(tables) == 3
        self._next_check = time.time() + self.reload_time

    def _maybe_reload(self):
        self._next_check = time.time() + self.reload_time
        try:
            mtime = os.path.getmtime(self.path)
        except OSError:
            return  # keep serving the ring we have
        if mtime != self._mtime:
            try:
                self._load()
            except RingError:
                pass  # a half-pushed file: keep the good ring, retry later

    def has_changed(self):
        try:
            return os.path.getmtime(self.path) != self._mtime
        except OSError:
            return True

    # -- properties ---------------------------------------------------
    @property
    def replica_count(self):
        if self._replicas == int(self._replicas):
            return int(self._replicas)
        return self._replicas

    @property
    def replicas(self):
        return self._replicas

    # -- lookups ------------------------------------------------------
    def get_part(self, account, container=None, obj=None):
        digest = hash_path(account, container, obj, raw_digest=True)
        return _unpack_uint32(digest)[0] >> self._part_shift

    def get_part_nodes(self, part):
        if time.time() > self._next_check:
            self._maybe_reload()
        if self._all_full:
            return [devs[table[part]].copy() for table, devs in self._pairs]
        return [devs[table[part]].copy()
                for table, devs in self._pairs if part < len(table)]

    def get_nodes(self, account, container=None, obj=None):
        part = _unpack_uint32(hash_path(account, container, obj,
                                        raw_digest=True))[0] \
            >> self._part_shift
        if time.time() > self._next_check:
            self._maybe_reload()
        if self._three:
            # The common 3-replica ring, unrolled: lookups are hot.
            (t0, d0), (t1, d1), (t2, d2) = self._pairs
            return part, [d0[t0[part]].copy(), d1[t1[part]].copy(),
                          d2[t2[part]].copy()]
        if self._all_full:
            return part, [devs[table[part]].copy()
                          for table, devs in self._pairs]
        return part, [devs[table[part]].copy()
                      for table, devs in self._pairs if part < len(table)]

    def get_more_nodes(self, part):
        """Yield handoff devices for ``part`` in a stable order.

        The order is a weighted pseudo-random permutation of the devices
        (seeded by the partition, so every node computes the same one); it
        is walked in passes that take, in turn, devices in regions not yet
        used by the primaries or earlier handoffs, then unused zones, then
        unused servers, then any device left.  Weight-0 devices are never
        handoffs.
        """
        if time.time() > self._next_check:
            self._maybe_reload()
        primaries = [table[part] for table in self._table
                     if part < len(table)]
        devs = self.devs
        used_ids = set(primaries)
        regions = set()
        zones = set()
        servers = set()
        for dev_id in used_ids:
            dev = devs[dev_id]
            if dev is not None:
                regions.add(dev['region'])
                zones.add((dev['region'], dev['zone']))
                servers.add((dev['region'], dev['zone'], dev['ip']))
        ranked = []
        seed = b'%d-' % part
        for dev in devs:
            if dev is None or dev['id'] in used_ids or not dev['weight'] > 0:
                continue
            draw = int.from_bytes(
                hashlib.md5(seed + b'%d' % dev['id']).digest()[:8], 'big')
            u = (draw + 1) / 18446744073709551617.0
            ranked.append((math.log(u) / float(dev['weight']), dev['id']))
        ranked.sort(reverse=True)
        order = [dev_id for _key, dev_id in ranked]
        handoff_index = 0
        tiers = (
            lambda d: d['region'] not in regions,
            lambda d: (d['region'], d['zone']) not in zones,
            lambda d: (d['region'], d['zone'], d['ip']) not in servers,
            lambda d: True,
        )
        for wanted in tiers:
            for dev_id in order:
                if dev_id in used_ids:
                    continue
                dev = devs[dev_id]
                if not wanted(dev):
                    continue
                used_ids.add(dev_id)
                regions.add(dev['region'])
                zones.add((dev['region'], dev['zone']))
                servers.add((dev['region'], dev['zone'], dev['ip']))
                node = dict(dev, handoff_index=handoff_index)
                handoff_index += 1
                yield node
