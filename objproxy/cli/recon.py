"""``objproxy-recon``: is my cluster healthy?

Two ways to look, the same report and verdict:

- ``objproxy-recon NODE_CONF...`` reads this machine's disks for each
  storage node config given (``objproxy-data/etc/node*.conf``, aio's, by
  default);
- ``objproxy-recon --cluster CONF_OR_DIR`` reads the rings in that
  directory (or the config's ``objproxy_dir``) and asks every node they
  list for ``GET /recon/report`` (objproxy.storage.recon_server), in
  parallel; with no arguments, no aio configs here and rings in
  ``/etc/objproxy``, that is the default.

Per node: when each replicator (object, container, account) last finished
a pass, how long it took and its failures (the daemons' ``*.recon``
files); async pendings waiting for the updater; quarantined objects and
databases; disk usage of every device; and the MD5 of each ring file.
Then whether the rings agree: across the nodes, and with this machine's
copy in ``--cluster`` mode.

It prints a short report and a verdict (``--json`` gives the same data
as JSON) and exits 0 when healthy, 1 when something needs a look
(including a node that does not answer), 2 on bad usage.
"""
import argparse
import glob
import http.client
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from objproxy.common.exceptions import ConfigError, RingError
from objproxy.storage.recon_server import (
    RECON_TYPES, RING_NAMES, NodeFacts, file_sections, ring_checksums)

__all__ = ['RECON_TYPES', 'RING_NAMES', 'ring_checksums', 'node_report',
           'cluster_reports', 'ring_agreement', 'problems', 'main']

AIO_CONFS = 'objproxy-data/etc/node*.conf'
DEFAULT_OBJPROXY_DIR = '/etc/objproxy'
#: A replicator that has not finished a pass for this many intervals is
#: stuck (or not running).
STALE_INTERVALS = 3
FULL_DISK_PERCENT = 90.0


def node_report(conf_path, now=None):
    """Everything recon knows about the node ``conf_path`` configures,
    read from this machine's disks."""
    report = NodeFacts(file_sections(conf_path), now).report()
    report['conf'] = conf_path
    return report


# -- asking the nodes ---------------------------------------------------------
def objproxy_dir_of(path):
    """The ring directory ``path`` names: itself, or a config's
    ``objproxy_dir`` ([DEFAULT]); ConfigError when it is neither."""
    if os.path.isdir(path):
        return path
    if not os.path.isfile(path):
        raise ConfigError('%s: no such directory or config file' % path)
    from objproxy.common.config import read_conf_file
    return read_conf_file(path).defaults().get('objproxy_dir',
                                               DEFAULT_OBJPROXY_DIR)


def ring_addresses(objproxy_dir):
    """Every (ip, port) a device of the rings in ``objproxy_dir`` has."""
    from objproxy.ring.ring import Ring
    found = set()
    rings = 0
    for name in RING_NAMES:
        path = os.path.join(objproxy_dir, name + '.ring.gz')
        if not os.path.exists(path):
            continue
        try:
            ring = Ring(path)
        except (RingError, OSError, ValueError) as err:
            raise ConfigError('cannot read %s: %s' % (path, err))
        rings += 1
        found.update((d['ip'], int(d['port'])) for d in ring.devs
                     if d is not None)
    if not rings:
        raise ConfigError('no ring files in %s' % objproxy_dir)
    return sorted(found)


def _host(ip, port):
    return '[%s]:%d' % (ip, port) if ':' in ip else '%s:%d' % (ip, port)


def fetch(ip, port, timeout):
    """The node's ``GET /recon/report``; OSError or ValueError if none."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request('GET', '/recon/report')
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise ValueError('%d %s' % (resp.status, resp.reason))
    report = json.loads(body.decode('utf-8'))
    if not isinstance(report, dict) or 'rings' not in report:
        raise ValueError('not a recon report')
    return report


def cluster_reports(addresses, timeout=5.0, fetch=fetch):
    """One report per address, asked in parallel; a node that does not
    answer gets ``{'address': ..., 'error': why}``."""
    def ask(address):
        where = _host(*address)
        try:
            report = fetch(address[0], address[1], timeout)
        except (OSError, ValueError, http.client.HTTPException) as err:
            return {'address': where, 'error': str(err) or
                    type(err).__name__}
        report['node_address'] = report.get('address')
        report['address'] = where
        return report
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(addresses))) as pool:
        return list(pool.map(ask, addresses))


# -- judging ------------------------------------------------------------------
def ring_agreement(reports, reference=None):
    """Per ring: whether every node (and ``reference``, a (label, sums)
    pair such as this machine's ring directory) has the same file.

    ``{ring: {'agree': bool, 'checksums': {md5 or 'missing': [where]}}}``
    over the nodes that answered.
    """
    holders = [(n['address'], n['rings']) for n in reports
               if 'error' not in n]
    if reference is not None:
        holders.append(reference)
    result = {}
    for ring in RING_NAMES:
        groups = {}
        for where, sums in holders:
            groups.setdefault(sums.get(ring) or 'missing', []).append(where)
        result[ring] = {'agree': len(groups) == 1 and 'missing' not in
                        groups, 'checksums': groups}
    return result


def problems(reports, agreement=None):
    """What is wrong, one sentence each; empty when the cluster is fine."""
    found = []
    for node in reports:
        where = node['address']
        if 'error' in node:
            found.append('%s: no recon answer (%s)' % (where, node['error']))
            continue
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
    if agreement is None:
        agreement = ring_agreement(reports)
    for ring in RING_NAMES:
        groups = agreement[ring]['checksums']
        if 'missing' in groups:
            found.append('the %s ring is missing on some nodes: %s'
                         % (ring, ', '.join(groups['missing'])))
        elif len(groups) > 1:
            found.append('the %s ring differs between nodes: %s' % (
                ring, '; '.join('%s on %s' % (md5[:8], ', '.join(where))
                                for md5, where in sorted(groups.items()))))
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


def render(reports, found, agreement=None):
    lines = []
    for node in reports:
        if 'error' in node:
            lines.append('%s: NO ANSWER (%s)' % (node['address'],
                                                 node['error']))
            continue
        lines.append('%s (%s)' % (node['address'], node.get(
            'conf', 'GET /recon/report')))
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
    if agreement is None:
        agreement = ring_agreement(reports)
    lines.append('rings: ' + ', '.join(
        '%s %s' % (ring, 'agree' if agreement[ring]['agree']
                   else 'DIFFER or missing')
        for ring in RING_NAMES))
    if found:
        lines.append('NOT HEALTHY:')
        lines.extend('  - ' + line for line in found)
    else:
        lines.append('HEALTHY: replication is current, nothing waits or is '
                     'quarantined, rings agree.')
    return '\n'.join(lines)


def _local(confs):
    return [node_report(conf) for conf in confs], None


def _cluster(path, timeout):
    """Reports of every node in the rings ``path`` leads to, and this
    machine's ring checksums to compare theirs with."""
    objproxy_dir = objproxy_dir_of(path)
    addresses = ring_addresses(objproxy_dir)
    reference = ('%s (here)' % objproxy_dir, ring_checksums(objproxy_dir))
    return cluster_reports(addresses, timeout), reference


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='objproxy-recon',
        description='Report replication age, async pendings, quarantined '
                    'items, disk usage and ring agreement of storage nodes '
                    '(read from this machine\'s disks, or asked of every '
                    'node in the rings with --cluster), with a verdict.')
    parser.add_argument('confs', nargs='*', metavar='NODE_CONF',
                        help='storage node configs to read locally '
                             '(default: %s)' % AIO_CONFS)
    parser.add_argument('--cluster', metavar='CONF_OR_DIR', default=None,
                        help='ask every node listed in the rings of this '
                             'directory, or of this config\'s objproxy_dir, '
                             'for GET /recon/report (the default with no '
                             'NODE_CONF, no aio configs here and rings in '
                             '%s)' % DEFAULT_OBJPROXY_DIR)
    parser.add_argument('--timeout', type=float, default=5.0,
                        help='seconds to wait for each node with --cluster '
                             '(default 5)')
    parser.add_argument('--json', action='store_true',
                        help='print the report as JSON')
    args = parser.parse_args(argv)
    if args.cluster and args.confs:
        parser.error('give NODE_CONF files or --cluster, not both')
    if args.timeout <= 0:
        parser.error('--timeout must be more than 0')
    cluster = args.cluster
    confs = args.confs
    if not cluster and not confs:
        confs = sorted(glob.glob(AIO_CONFS))
        if not confs and os.path.exists(os.path.join(
                DEFAULT_OBJPROXY_DIR, 'object.ring.gz')):
            cluster = DEFAULT_OBJPROXY_DIR
        elif not confs:
            parser.error('no node configs given, none found at %s and no '
                         'rings in %s; give NODE_CONF... or --cluster '
                         'CONF_OR_DIR' % (AIO_CONFS, DEFAULT_OBJPROXY_DIR))
    try:
        if cluster:
            reports, reference = _cluster(cluster, args.timeout)
        else:
            reports, reference = _local(confs)
    except ConfigError as err:
        sys.stderr.write('objproxy-recon: %s\n' % err)
        return 2
    agreement = ring_agreement(reports, reference)
    found = problems(reports, agreement)
    if args.json:
        print(json.dumps({'nodes': reports, 'problems': found,
                          'rings': agreement, 'healthy': not found},
                         indent=1, sort_keys=True))
    else:
        print(render(reports, found, agreement))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
