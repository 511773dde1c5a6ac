"""``objproxy-rescanner CONF [--once] [--json]``: rescan stored objects whose
verdict predates the current virus signatures.

Reads ``[object-rescanner]`` over ``[DEFAULT]`` of the storage node's
config (see objproxy.daemons.rescanner for the options).  ``--once`` makes
one pass and prints its totals (``--json``: as JSON); otherwise it loops
every ``interval`` seconds.  Exit status: 0, 1 when a ``--once`` pass
counted errors or failed verdict updates (failures), 2 on a bad
config.
"""
import sys

from objproxy.cli.daemons import _conf, _main


def main(argv=None):
    def build(args):
        from objproxy.daemons.rescanner import ObjectRescanner
        return [ObjectRescanner(_conf(args, 'object-rescanner'))]
    return _main('objproxy-rescanner', argv, build)


if __name__ == '__main__':
    sys.exit(main())
