"""``GET /recon/<metric>`` on a storage node: its health, as JSON.

Why on the node: the facts live on the node's disks (the daemons' recon
cache files, ``async_pending/`` and ``quarantined/`` of each device, the
ring files), so ``objproxy-recon --cluster`` can ask every node listed in
the rings from one machine instead of being run on each.  This module also
holds the code that reads those facts; ``objproxy-recon`` uses it for
local configs too, so both views agree.

Served only by the storage node app (objproxy.storage.node), on the node's
backend port, never through the proxy.  Read-only: GET and HEAD; other
methods get 405.  Metrics (Swift's recon names where they exist):

- ``replication`` (``replication/<object|container|account>``): per
  replicator, when its last pass ended (``last``, ``age`` in seconds by the
  node's clock), how long it took (``duration``), its failures and its
  ``interval``;
- ``async``: async pendings waiting for the updater, per device;
- ``quarantined``: quarantined objects, containers and accounts per device;
- ``diskusage``: size, used, avail and percent of every device;
- ``ringmd5``: the MD5 of each ring file in ``objproxy_dir``;
- ``report``: all of the above in one answer (what objproxy-recon asks).

The daemons' sections (``recon_cache_path``, ``interval``) are read from
the node's config file, as the daemons read them.  Walking the devices
runs in a native thread, so the hub keeps serving while it does.
"""
import hashlib
import json
import os
import time

from objproxy.common.exceptions import ConfigError
from objproxy.common.offload import run_in_thread
from objproxy.common.response import JSON, Response, plain_error

RECON_TYPES = ('object', 'container', 'account')
RING_NAMES = ('account', 'container', 'object')
METRICS = ('replication', 'async', 'quarantined', 'diskusage', 'ringmd5',
           'report')
ALLOWED = ('GET', 'HEAD')


def is_recon_path(path):
    """``/recon`` or ``/recon/<metric>...``; a device named ``recon`` is
    still storage: its paths go on with a numeric partition."""
    if not path.startswith('/recon'):
        return False        # every storage request: nothing more to do
    parts = path.strip('/').split('/')
    if parts[0] != 'recon':
        return False
    return len(parts) == 1 or not parts[1].isdigit()


# -- reading what the daemons and servers leave on disk ---------------------
def _read_json(path):
    try:
        with open(path) as fp:
            value = json.load(fp)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _count_files(root):
    count = 0
    for _dirpath, _dirs, files in os.walk(root):
        count += len(files)
    return count


def _count_entries(root):
    """Quarantined items: one directory (object) or file (db) each."""
    try:
        return len(os.listdir(root))
    except OSError:
        return 0


def ring_checksums(objproxy_dir):
    """{ring name: MD5 of its ring file, or None when it is missing}."""
    sums = {}
    for name in RING_NAMES:
        path = os.path.join(objproxy_dir, name + '.ring.gz')
        digest = hashlib.md5()
        try:
            with open(path, 'rb') as fp:
                for block in iter(lambda: fp.read(65536), b''):
                    digest.update(block)
            sums[name] = digest.hexdigest()
        except OSError:
            sums[name] = None
    return sums


def disk_usage(path):
    try:
        st = os.statvfs(path)
    except OSError as err:
        return {'error': err.strerror}
    size = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    used = size - st.f_bfree * st.f_frsize
    return {'size': size, 'used': used, 'avail': avail,
            'percent': round(100.0 * used / size, 1) if size else 0.0}


def file_sections(conf_path):
    """The node config's sections as the daemons read them."""
    from objproxy.daemons.daemon import load_section

    def section(name):
        return load_section(conf_path, name)
    return section


class NodeFacts(object):
    """What the daemons and servers of one node have recorded.

    ``section(name)`` gives a daemon section over ``[DEFAULT]`` as a dict
    (``file_sections`` for a config file).
    """

    def __init__(self, section, now=None):
        self.section = section
        self.now = now or time.time()
        base = section('object-replicator')
        self.devices_root = base.get('devices', '/srv/node')
        self.objproxy_dir = base.get('objproxy_dir', '/etc/objproxy')
        self.address = '%s:%s' % (base.get('bind_ip', '0.0.0.0'),
                                  base.get('bind_port', '?'))

    def devices(self):
        try:
            names = sorted(os.listdir(self.devices_root))
        except OSError:
            return []
        return [n for n in names
                if os.path.isdir(os.path.join(self.devices_root, n))]

    def _device(self, name, *parts):
        return os.path.join(self.devices_root, name, *parts)

    def replication(self, kinds=RECON_TYPES):
        found = {}
        for kind in kinds:
            conf = self.section('%s-replicator' % kind)
            cache = conf.get('recon_cache_path', self.devices_root)
            recon = _read_json(os.path.join(cache, '%s.recon' % kind))
            stats = recon.get('%s_replication' % kind) or {}
            last = recon.get('%s_replication_last' % kind)
            found[kind] = {
                'last': last,
                'age': round(self.now - last, 1) if last else None,
                'duration': stats.get('elapsed'),
                'failures': stats.get('failures'),
                'interval': float(conf.get('interval', 30)),
            }
        return found

    def async_pendings(self):
        return {name: _count_files(self._device(name, 'async_pending'))
                for name in self.devices()}

    def quarantined(self):
        return {name: {kind + 's': _count_entries(self._device(
                    name, 'quarantined', kind + 's'))
                       for kind in RECON_TYPES}
                for name in self.devices()}

    def disk_usage(self):
        return {name: disk_usage(self._device(name))
                for name in self.devices()}

    def ring_checksums(self):
        return ring_checksums(self.objproxy_dir)

    def report(self):
        pendings = self.async_pendings()
        quarantined = self.quarantined()
        usage = self.disk_usage()
        return {
            'address': self.address,
            'replication': self.replication(),
            'devices': {name: {'async_pending': pendings[name],
                               'quarantined': quarantined[name],
                               'disk': usage[name]}
                        for name in pendings},
            'rings': self.ring_checksums(),
        }

    def metric(self, name, kind=None):
        if name == 'replication':
            return self.replication((kind,) if kind else RECON_TYPES)
        return {'async': self.async_pendings,
                'quarantined': self.quarantined,
                'diskusage': self.disk_usage,
                'ringmd5': self.ring_checksums,
                'report': self.report}[name]()


# -- the endpoint -----------------------------------------------------------
class ReconApp(object):
    """The ``/recon/`` WSGI app of a storage node with config ``conf``."""

    def __init__(self, conf):
        self.conf = conf

    def sections(self):
        path = self.conf.get('__file__')
        if path and os.path.isfile(path):
            return file_sections(path)
        return lambda name: self.conf   # built from a dict (tests, tools)

    def gather(self, metric, kind=None):
        return NodeFacts(self.sections()).metric(metric, kind)

    def __call__(self, env, start_response):
        path = env.get('PATH_INFO', '')
        if env.get('REQUEST_METHOD', 'GET') not in ALLOWED:
            return plain_error(405, 'Method not allowed: recon is '
                               'read-only\n',
                               [('Allow', ', '.join(ALLOWED))])(
                                   env, start_response)
        parts = path.strip('/').split('/')[1:]
        metric = parts[0] if parts else ''
        kind = parts[1] if len(parts) > 1 else None
        if metric not in METRICS or len(parts) > 2 or (
                kind is not None and (metric != 'replication' or
                                      kind not in RECON_TYPES)):
            return plain_error(404, 'Invalid path: %s (recon metrics: %s)\n'
                               % (path, ', '.join(METRICS)))(
                                   env, start_response)
        try:
            value = run_in_thread(self.gather, metric, kind)
        except ConfigError as err:
            return plain_error(500, 'cannot read the node config: %s\n'
                               % err)(env, start_response)
        return Response(200, body=json.dumps(value, sort_keys=True),
                        content_type=JSON + '; charset=UTF-8')(
                            env, start_response)
