"""Everything the all-in-one cluster writes to its data directory.

Layout (all under ``--data-dir``)::

    etc/objproxy.conf            hash prefix/suffix (random, made once, kept)
    etc/{account,container,object}.{builder,ring.gz}
    etc/proxy-server.conf        from etc/proxy-server.conf, ports filled in
    etc/node<N>.conf             from etc/storage-server.conf
    srv/node<N>/sdb<N>/          node N's devices root and its one device
    run/clamd/                   private clamd (config, socket, signatures)
    log/                         one log per process

Rings are rebuilt from the same seed on every start, so a restart with other
ports places every partition on the same device and keeps the stored data.
"""
import configparser
import os
import secrets
import sys

from objproxy.ring.builder import RingBuilder

RING_NAMES = ('account', 'container', 'object')
PART_POWER = 10
REPLICAS = 3
RING_SEED = 1
DEFAULT_PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging '
                    'ratelimit tempauth clamav proxy_logging proxy_server')


def find_templates():
    """The shipped etc/ samples: in the source tree, or installed."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.path.join(here, '..', '..', 'etc'),
        os.path.join(sys.prefix, 'share', 'objproxy', 'etc'),
    ]
    for path in candidates:
        if os.path.isfile(os.path.join(path, 'proxy-server.conf')):
            return os.path.abspath(path)
    raise FileNotFoundError('cannot find the objproxy etc/ templates (looked '
                            'in %s)' % ', '.join(candidates))


class AioLayout(object):
    def __init__(self, data_dir, proxy_port, node_ports, workers=1,
                 pipeline=None, memcache_port=None, clamd=None,
                 ip='127.0.0.1'):
        self.data_dir = os.path.abspath(data_dir)
        self.etc_dir = os.path.join(self.data_dir, 'etc')
        self.log_dir = os.path.join(self.data_dir, 'log')
        self.run_dir = os.path.join(self.data_dir, 'run')
        self.ip = ip
        self.proxy_port = proxy_port
        self.node_ports = list(node_ports)
        self.workers = workers
        self.pipeline = pipeline or DEFAULT_PIPELINE
        self.memcache_port = memcache_port
        self.clamd = clamd  # a started ClamdProcess, or None
        self.templates = find_templates()

    # -- paths ------------------------------------------------------------
    def node_devices(self, index):
        return os.path.join(self.data_dir, 'srv', 'node%d' % (index + 1))

    def node_device_name(self, index):
        return 'sdb%d' % (index + 1)

    def node_conf(self, index):
        return os.path.join(self.etc_dir, 'node%d.conf' % (index + 1))

    @property
    def proxy_conf(self):
        return os.path.join(self.etc_dir, 'proxy-server.conf')

    # -- writing ----------------------------------------------------------
    def write_all(self):
        for path in (self.etc_dir, self.log_dir, self.run_dir):
            os.makedirs(path, exist_ok=True)
        for index in range(len(self.node_ports)):
            os.makedirs(os.path.join(self.node_devices(index),
                                     self.node_device_name(index)),
                        exist_ok=True)
        self.write_hash_conf()
        self.write_rings()
        for index in range(len(self.node_ports)):
            self.write_node_conf(index)
        self.write_proxy_conf()

    def write_hash_conf(self):
        path = os.path.join(self.etc_dir, 'objproxy.conf')
        if os.path.exists(path):
            return  # the secret must never change once data is stored
        parser = _new_parser()
        parser.read(os.path.join(self.templates, 'objproxy.conf'))
        parser['objproxy-hash']['hash_path_prefix'] = secrets.token_hex(8)
        parser['objproxy-hash']['hash_path_suffix'] = secrets.token_hex(8)
        _write(parser, path)

    def write_rings(self):
        for name in RING_NAMES:
            builder = RingBuilder(PART_POWER, REPLICAS, 1)
            for index, port in enumerate(self.node_ports):
                builder.add_dev({
                    'region': 1, 'zone': index + 1, 'ip': self.ip,
                    'port': port, 'device': self.node_device_name(index),
                    'weight': 100, 'meta': ''})
            builder.rebalance(seed=RING_SEED)
            builder.save(os.path.join(self.etc_dir, name + '.builder'))
            builder.write_ring(os.path.join(self.etc_dir,
                                            name + '.ring.gz'))

    def write_node_conf(self, index):
        parser = _new_parser()
        parser.read(os.path.join(self.templates, 'storage-server.conf'))
        default = parser['DEFAULT']
        default['bind_ip'] = self.ip
        default['bind_port'] = str(self.node_ports[index])
        default['workers'] = str(self.workers)
        default['devices'] = self.node_devices(index)
        default['mount_check'] = 'false'
        default['objproxy_dir'] = self.etc_dir
        default['log_file'] = os.path.join(self.log_dir,
                                           'node%d.log' % (index + 1))
        _write(parser, self.node_conf(index))

    def write_proxy_conf(self):
        parser = _new_parser()
        parser.read(os.path.join(self.templates, 'proxy-server.conf'))
        default = parser['DEFAULT']
        default['bind_ip'] = self.ip
        default['bind_port'] = str(self.proxy_port)
        default['workers'] = str(self.workers)
        default['objproxy_dir'] = self.etc_dir
        default['log_file'] = os.path.join(self.log_dir, 'proxy.log')
        if self.memcache_port:
            default['memcache_servers'] = '%s:%d' % (self.ip,
                                                     self.memcache_port)
        else:
            default.pop('memcache_servers', None)
        parser['pipeline:main']['pipeline'] = self.pipeline
        if parser.has_section('filter:versioned_writes'):
            # Swift ships both styles off; a development cluster has them on.
            versioning = parser['filter:versioned_writes']
            versioning['allow_versioned_writes'] = 'true'
            versioning['allow_object_versioning'] = 'true'
        if parser.has_section('filter:clamav') and self.clamd:
            # Point the filter at our clamd's own config: it reads the
            # socket from there and checks max_scan_size against clamd's
            # stream limits, so the two can never disagree.
            clamav = parser['filter:clamav']
            clamav.pop('clamd_socket', None)
            clamav['clamd_conf'] = self.clamd.conf_path
            clamav['max_scan_size'] = str(self.clamd.max_size)
        _write(parser, self.proxy_conf)


def _new_parser():
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # keep option names exactly as written
    return parser


def _write(parser, path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as fp:
        parser.write(fp)
    os.replace(tmp, path)
