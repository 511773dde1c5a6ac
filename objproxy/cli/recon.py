"""``objproxy-recon NODE_CONF...``: is my cluster healthy?

Reads what the nodes and their daemons already leave on disk, for each
storage node config given (``objproxy-data/etc/node*.conf`` for aio, by
default):

- replication: when each replicator (object, container, account) last
  finished a pass, how long it took and whether it counted failures
  (``<recon_cache_path>/<type>.recon``, written by the daemons);
- async pendings: container updates still waiting for the updater
  (files under ``<device>/async_pending``);
- quarantined objects and databases (``<device>/quarantined``);
- disk usage of every device (statvfs);
- the MD5 of each ring file in the node's ``objproxy_dir``: every node
  must have the same rings.

It prints a short report and a verdict (``--json`` gives the same data
as JSON) and exits 0 when healthy, 1 when something needs a look, 2 on
bad usage.  It reads local files, so run it where the nodes' disks are
(every node of an aio; on a real cluster, on each storage host).
"""
import argparse
import glob
import hashlib
import json
import os
import sys
import time

from objproxy.common.exceptions import ConfigError

RECON_TYPES = ('object', 'container', 'account')
RING_NAMES = ('account', 'container', 'object')
AIO_CONFS = 'objproxy-data/etc/node*.conf'
#: A replicator that has not finished a pass for this many intervals is
#: stuck (or not running).
STALE_INTERVALS = 3
FULL_DISK_PERCENT = 90.0


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
    sums = {}
    for name in RING_NAMES:
        path = os.path.join(objproxy_dir, name + '.ring.gz')
        try:
            with open(path, 'rb') as fp:
                sums[name] = hashlib.md5(fp.read()).hexdigest()
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


def node_report(conf_path, now=None):
    """Everything recon knows about the node ``conf_path`` configures."""
    from objproxy.daemons.daemon import load_section
    now = now or time.time()
    conf = load_section(conf_path, 'object-replicator')
    devices_root = conf.get('devices', '/srv/node')
    report = {'conf': conf_path,
              'address': '%s:%s' % (conf.get('bind_ip', '0.0.0.0'),
                                    conf.get('bind_port', '?')),
              'replication': {}, 'devices': {},
              'rings': ring_checksums(conf.get('objproxy_dir',
                                               '/etc/objproxy'))}
    for kind in RECON_TYPES:
        section = load_section(conf_path, '%s-replicator' % kind)
        cache = section.get('recon_cache_path', devices_root)
        recon = _read_json(os.path.join(cache, '%s.recon' % kind))
        stats = recon.get('%s_replication' % kind) or {}
        last = recon.get('%s_replication_last' % kind)
        report['replication'][kind] = {
            'age': round(now - last, 1) if last else None,
            'duration': stats.get('elapsed'),
            'failures': stats.get('failures'),
            'interval': float(section.get('interval', 30)),
        }
    try:
        names = sorted(os.listdir(devices_root))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(devices_root, name)
        if not os.path.isdir(path):
            continue
        quarantined = os.path.join(path, 'quarantined')
        report['devices'][name] = {
            'async_pending': _count_files(os.path.join(path,
                                                       'async_pending')),
            'quarantined': {kind: _count_entries(os.path.join(
                quarantined, kind + 's')) for kind in RECON_TYPES},
            'disk': disk_usage(path),
        }
    return report


def problems(reports):
    """What is wrong, one sentence each; empty when the cluster is fine."""
    found = []
    for node in reports:
        where = node['address']
        for kind, rep in sorted(node['replication'].items()):
            if rep['age'] is None:
                found.append('%s: the %s replicator has not finished a '
                              'pass' % (where, kind))
            elif rep['age'] > STALE_INTERVALS * max(rep['interval'], 1) + \
                    (rep['duration'] or 0):
                found.append('%s: the last %s replication pass ended %s '
                             'ago' % (where, kind, _age(rep['age'])))
            if rep['failures']:
                found.append('%s: the last %s replication pass counted %d '
                             'failures' % (where, kind, rep['failures']))
        for name, dev in sorted(node['devices'].items()):
            if dev['async_pending']:
                found.append('%s/%s: %d async pendings waiting for the '
                             'updater' % (where, name, dev['async_pending']))
            quarantined = sum(dev['quarantined'].values())
            if quarantined:
                found.append('%s/%s: %d quarantined objects/databases'
                             % (where, name, quarantined))
            percent = dev['disk'].get('percent')
            if percent is not None and percent >= FULL_DISK_PERCENT:
                found.append('%s/%s: disk %.0f%% full' % (where, name,
                                                          percent))
    for ring in RING_NAMES:
        sums = {node['rings'][ring] for node in reports}
        if None in sums:
            found.append('the %s ring is missing on some nodes' % ring)
        elif len(sums) > 1:
            found.append('the %s ring differs between nodes' % ring)
    return found


def _age(seconds):
    if seconds is None:
        return 'never'
    if seconds < 120:
        return '%ds' % seconds
    if seconds < 7200:
        return '%dm' % (seconds // 60)
    return '%.1fh' % (seconds / 3600.0)


def _size(num):
    for unit in ('B', 'K', 'M', 'G', 'T'):
        if num < 1024 or unit == 'T':
            return ('%d%s' if unit == 'B' else '%.1f%s') % (num, unit)
        num /= 1024.0


def render(reports, found):
    lines = []
    for node in reports:
        lines.append('%s (%s)' % (node['address'], node['conf']))
        for kind in RECON_TYPES:
            rep = node['replication'][kind]
            duration = rep['duration']
            lines.append('  %-9s replication: %s, took %s, '
                         '%s failures' % (
                             kind, 'no pass yet' if rep['age'] is None
                             else 'last pass %s ago' % _age(rep['age']),
                             '-' if duration is None else '%.1fs' % duration,
                             '-' if rep['failures'] is None
                             else rep['failures']))
        for name, dev in sorted(node['devices'].items()):
            disk = dev['disk']
            usage = ('%s used of %s (%.0f%%)' % (
                _size(disk['used']), _size(disk['size']), disk['percent'])
                if 'size' in disk else disk.get('error', '?'))
            lines.append('  %-9s %s; %d async pendings; %d quarantined' % (
                name, usage, dev['async_pending'],
                sum(dev['quarantined'].values())))
    lines.append('rings: ' + ', '.join(
        '%s %s' % (ring, 'agree' if len({n['rings'][ring]
                                          for n in reports}) == 1 and
                   reports[0]['rings'][ring] else 'DIFFER or missing')
        for ring in RING_NAMES))
    if found:
        lines.append('NOT HEALTHY:')
        lines.extend('  - ' + line for line in found)
    else:
        lines.append('HEALTHY: replication is current, nothing waits or is '
                     'quarantined, rings agree.')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='objproxy-recon',
        description='Report replication age, async pendings, quarantined '
                    'items, disk usage and ring agreement of storage nodes, '
                    'read from their disks, with a verdict.')
    parser.add_argument('confs', nargs='*', metavar='NODE_CONF',
                        help='storage node configs (default: %s)'
                             % AIO_CONFS)
    parser.add_argument('--json', action='store_true',
                        help='print the report as JSON')
    args = parser.parse_args(argv)
    confs = args.confs or sorted(glob.glob(AIO_CONFS))
    if not confs:
        parser.error('no node configs given and none found at %s'
                     % AIO_CONFS)
    try:
        reports = [node_report(conf) for conf in confs]
    except ConfigError as err:
        sys.stderr.write('objproxy-recon: %s\n' % err)
        return 2
    found = problems(reports)
    if args.json:
        print(json.dumps({'nodes': reports, 'problems': found,
                          'healthy': not found}, indent=1, sort_keys=True))
    else:
        print(render(reports, found))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
