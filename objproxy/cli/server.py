"""``objproxy-server CONF``: start any objproxy server from its paste config.

The arguments are parsed before eventlet patches the process, so ``--help``
and usage errors (and a test that only inspects the parser) leave the
process as it was; nothing that opens sockets or threads is imported
before the patching.
"""
import argparse
import sys

import eventlet


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='objproxy-server',
        description='Run an objproxy proxy or storage node from a paste '
                    'config ([DEFAULT] bind_ip, bind_port, workers).')
    parser.add_argument('conf', help='paste-deploy config file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    eventlet.monkey_patch()
    from objproxy.common.wsgi import run_server
    return run_server(args.conf)


if __name__ == '__main__':
    sys.exit(main())
