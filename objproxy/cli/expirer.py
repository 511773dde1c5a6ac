"""``objproxy-expirer CONF [--once] [--json]``: delete this node's replicas
of objects past their X-Delete-At.

Reads ``[object-expirer]`` over ``[DEFAULT]`` of the storage node's config
(``objects_per_second``, ``concurrency``, ``interval``, ``conn_timeout``,
``node_timeout``, the priority options), asks the object's other primaries
(from the object ring) whether a newer state dropped the expiry, and asks
the node's own object server, at ``bind_ip:bind_port``, for the deletes.
Options and output are those of the other node daemons
(objproxy.cli.daemons).
"""
import sys

from objproxy.cli.daemons import _conf, _main


def main(argv=None):
    def build(args):
        from objproxy.daemons.expirer import ObjectExpirer
        return [ObjectExpirer(_conf(args, 'object-expirer'))]
    return _main('objproxy-expirer', argv, build)


if __name__ == '__main__':
    sys.exit(main())
