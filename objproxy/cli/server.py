"""``objproxy-server CONF``: start any objproxy server from its paste config."""
import argparse
import sys

import eventlet

eventlet.monkey_patch()

from objproxy.common.wsgi import run_server  # noqa: E402  (after patching)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='objproxy-server',
        description='Run an objproxy proxy or storage node from a paste '
                    'config ([DEFAULT] bind_ip, bind_port, workers).')
    parser.add_argument('conf', help='paste-deploy config file')
    args = parser.parse_args(argv)
    return run_server(args.conf)


if __name__ == '__main__':
    sys.exit(main())
