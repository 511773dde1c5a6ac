"""The builder's device list: validation, ids, edits and searches.

Why it is its own module: what a device may look like and how the
operator names devices (swift-ring-builder's search values) has nothing to
do with where partitions go; ``DeviceMixin`` gives ``RingBuilder`` its
device methods, working on the builder's ``devs``, ``_remove_pending``,
``devs_changed`` and ``version``.
"""
import re

from objproxy.common.exceptions import RingError
from objproxy.ring.ring import DEV_KEYS, NONE_DEV

MAX_DEVICES = NONE_DEV          # dev ids are stored as uint16; 0xFFFF = none
# What set_info may change (weight, region and zone have their commands).
SETTABLE_INFO = ('ip', 'port', 'device', 'meta')


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


class DeviceMixin(object):
    """Device methods of ``RingBuilder`` (add, reweigh, edit, remove,
    search); every change bumps the builder's version."""

    def add_dev(self, dev):
        clean = validate_dev(dev)
        self._check_unique(clean)
        if 'id' in dev and dev['id'] is not None:
            dev_id = dev['id']
            if not isinstance(dev_id, int) or isinstance(dev_id, bool) or \
                    not 0 <= dev_id < MAX_DEVICES:
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

    def _check_unique(self, clean, dev_id=None):
        """No other device may have the same ip, port and device name."""
        where = (clean['ip'], clean['port'], clean['device'])
        for other in self.devs:
            if other is not None and other['id'] != dev_id and (
                    other['ip'], other['port'], other['device']) == where:
                raise RingError('device %s:%d/%s already exists (id %d)'
                                % (where + (other['id'],)))

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
        """ip, port, device and meta of a device (swift-ring-builder's
        set_info); weight, region and zone have commands of their own."""
        other = sorted(set(changes) - set(SETTABLE_INFO))
        if other:
            raise RingError('set_info changes %s only, not %s' % (
                ', '.join(SETTABLE_INFO), ', '.join(other)))
        dev = self._dev(dev_id)
        clean = validate_dev(dict(dev, **changes))
        self._check_unique(clean, dev_id)
        for key in SETTABLE_INFO:
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


_SEARCH_RE = re.compile(
    r'(?:d(?P<id>\d+))?'
    r'(?:r(?P<region>\d+))?'
    r'(?:z(?P<zone>\d+))?'
    r'(?:-(?P<ip>\[[0-9a-fA-F:.]+\]|[^:/_\s\[\]]+))?'
    r'(?::(?P<port>\d+))?'
    r'(?:/(?P<device>[^_\s]+))?'
    r'(?:_(?P<meta>.*))?')
