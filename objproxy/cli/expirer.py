"""``objproxy-expirer CONF [--once]``: delete this node's expired replicas.

Reads ``[object-expirer]`` over ``[DEFAULT]`` of the storage node's config
(``objects_per_second``, ``interval``, ``conn_timeout``, ``node_timeout``)
and talks to the node's own object server at ``bind_ip:bind_port``.
``--once`` makes one pass and prints its totals; ``--json`` prints them as
JSON.  Exit status: 0, or 1 when the pass counted failures or errors, 2 on
a bad config.
"""
import argparse
import json
import sys

import eventlet

from objproxy.common.exceptions import ConfigError

SECTION = 'object-expirer'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='objproxy-expirer',
        description="Delete this node's replicas of objects past their "
                    "X-Delete-At.")
    parser.add_argument('conf', help="the storage node's config file")
    parser.add_argument('--once', action='store_true',
                        help='run one pass and exit (default: loop every '
                             '`interval` seconds)')
    parser.add_argument('--json', action='store_true',
                        help='with --once, print the totals as JSON')
    parser.add_argument('--devices', default='',
                        help='comma-separated device names to limit to')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='log to stdout at INFO')
    return parser.parse_args(argv)


def summary(stats):
    return ('expired %(expired)d, already gone %(already_gone)d, '
            'superseded %(superseded)d, failures %(failures)d, '
            'errors %(errors)d in %(elapsed)ss' % stats)


def main(argv=None):
    eventlet.monkey_patch()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from objproxy.daemons.daemon import load_section
    from objproxy.daemons.expirer import ObjectExpirer
    devices = [d for d in args.devices.split(',') if d.strip()] or None
    try:
        conf = load_section(args.conf, SECTION)
        if args.verbose:
            conf['log_to_stdout'] = 'true'
            conf.pop('log_file', None)
            conf.setdefault('log_level', 'INFO')
        expirer = ObjectExpirer(conf)
        if not args.once:
            expirer.run_forever(devices=devices)
            return 0
        expirer.apply_priority()
        stats = expirer.run_once(devices=devices)
        expirer.report(stats)
    except (ConfigError, OSError) as err:
        print('objproxy-expirer: %s' % err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(stats, sort_keys=True) if args.json else summary(stats))
    return 1 if stats['failures'] or stats['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
