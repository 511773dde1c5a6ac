"""``objproxy-replicator|auditor|updater CONF [--once] ...``: run a node's
background daemons from the storage node's paste config.

Each daemon reads its own section (``[object-replicator]``,
``[container-replicator]``, ``[account-replicator]``, ``[object-auditor]``,
``[object-updater]``) over ``[DEFAULT]``, so one file configures a node.
``objproxy-replicator`` runs the object, container and account replicators
one after the other (``--type`` picks one).  ``--once`` makes one pass,
prints one short line of totals per daemon (``--json``: the totals as
JSON, for scripts) and exits 0, or 1 if the pass counted failures;
otherwise the daemons loop every ``interval`` seconds.  A ``--once`` pass
watched on a terminal shows its progress on stderr.
"""
import argparse
import json
import sys

import eventlet

from objproxy.common.exceptions import ConfigError


def _parse(prog, argv, extra=None, by_partition=True):
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument('conf', help="the storage node's paste config")
    parser.add_argument('--once', action='store_true',
                        help='run one pass, print its totals and exit '
                             '(exit status 1 if it counted failures)')
    parser.add_argument('--json', action='store_true',
                        help='with --once: print the totals as JSON')
    parser.add_argument('--devices', default='',
                        help='comma-separated device names to limit to')
    if by_partition:
        parser.add_argument('--partitions', default='',
                            help='comma-separated partitions to limit to')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='log to stdout instead of the log file, at '
                             'INFO (-vv: at DEBUG)')
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    devices = [d for d in args.devices.split(',') if d.strip()] or None
    try:
        partitions = set(int(p) for p in getattr(
            args, 'partitions', '').split(',') if p.strip()) or None
    except ValueError:
        parser.error('--partitions must be comma-separated integers')
    return args, devices, partitions


def _conf(args, section):
    from objproxy.daemons.daemon import load_section
    conf = load_section(args.conf, section)
    if args.verbose:
        conf['log_to_stdout'] = 'true'
        conf.pop('log_file', None)
        if args.verbose > 1:
            conf['log_level'] = 'DEBUG'
        else:
            conf.setdefault('log_level', 'INFO')
    return conf


def _run(daemons, args, devices, partitions):
    from objproxy.daemons.daemon import Progress, summarize
    if args.once:
        failed = False
        totals = {}
        for daemon in daemons:
            daemon.progress = Progress.for_terminal(daemon.name)
            daemon.apply_priority()
            try:
                stats = daemon.run_once(devices=devices,
                                        partitions=partitions)
            finally:
                if daemon.progress is not None:
                    daemon.progress.finish()
            daemon.report(stats)
            totals[daemon.name] = stats
            failed |= bool(stats.get('failures') or stats.get('errors'))
            if not args.json:
                print(summarize(daemon.name, stats), flush=True)
        if args.json:
            print(json.dumps(totals, sort_keys=True))
        return 1 if failed else 0
    threads = [eventlet.spawn(d.run_forever, devices, partitions)
               for d in daemons]
    for thread in threads:
        thread.wait()
    return 0


def _main(prog, argv, build, extra=None, by_partition=True):
    # arguments first: --help and usage errors leave the process as it
    # was (a test that only inspects the parser is not monkey-patched)
    args, devices, partitions = _parse(prog, argv, extra, by_partition)
    eventlet.monkey_patch()
    try:
        daemons = build(args)
        return _run(daemons, args, devices, partitions)
    except ConfigError as err:
        print('%s: %s' % (prog, err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def replicator_main(argv=None):
    kinds = ('object', 'container', 'account')

    def extra(parser):
        parser.add_argument('--type', default='all',
                            choices=('all',) + kinds,
                            help='which replicator to run (default all)')

    def build(args):
        # imported only to run: --help and usage errors stay instant
        from objproxy.daemons.db_replicator import (
            AccountReplicator, ContainerReplicator)
        from objproxy.daemons.object_replicator import ObjectReplicator
        classes = {'object': ObjectReplicator,
                   'container': ContainerReplicator,
                   'account': AccountReplicator}
        wanted = kinds if args.type == 'all' else (args.type,)
        return [classes[k](_conf(args, '%s-replicator' % k))
                for k in wanted]
    return _main('objproxy-replicator', argv, build, extra)


def auditor_main(argv=None):
    def extra(parser):
        parser.add_argument('--zero-byte-fps', type=float, default=None,
                            help='zero-byte fast pass at this many files/s')

    def build(args):
        from objproxy.daemons.auditor import ObjectAuditor
        return [ObjectAuditor(_conf(args, 'object-auditor'),
                              zero_byte_fps=args.zero_byte_fps)]
    return _main('objproxy-auditor', argv, build, extra)


def updater_main(argv=None):
    def build(args):
        from objproxy.daemons.updater import ObjectUpdater
        return [ObjectUpdater(_conf(args, 'object-updater'))]
    # async pendings are not kept by partition: no --partitions
    return _main('objproxy-updater', argv, build, by_partition=False)


if __name__ == '__main__':
    sys.exit(replicator_main())
