"""Everything the all-in-one cluster writes to its data directory.

Layout (all under ``--data-dir``)::

    etc/objproxy.conf            hash prefix/suffix (random, made once, kept)
    etc/{account,container,object}.{builder,ring.gz}
    etc/backups/                 every state of those files (ring.backups)
    etc/proxy-server.conf        from etc/proxy-server.conf
    etc/node<N>.conf             from etc/storage-server.conf
    srv/node<N>/sdb<N>/          node N's devices root and its one device
    run/clamd/                   private clamd (config, socket, signatures)
    run/proxy-server.conf        only when a start overrides the pipeline
    log/                         one log per process

The configs and rings belong to the user.  Each is written once, when it
is missing (or on ``--reset``), with a header saying so; afterwards aio only
edits the few values its command line sets, in place, line by line, so
every other edit and comment survives a restart: ``bind_port``,
``workers`` and ``memcache_servers``.  The configs are then the truth: the
ports aio listens on are read back from them, and the rings' device ports
are brought in line with the nodes' ``bind_port`` through the builder API
(partitions stay where they are, so stored data stays reachable).  Every
builder or ring aio writes keeps the state before and after in
``etc/backups/``, as objproxy-ring-builder's writes do.

``--pipeline`` (for tests and tools) and running without memcached change
one start only: aio then runs a copy of the proxy config in ``run/`` and
leaves the user's file alone.

The hash prefix/suffix are never regenerated once a node holds data, not
even by ``--reset``: they decide where every stored object lives.  If
``etc/objproxy.conf`` is missing while the nodes hold data, aio refuses to
start (ConfigError, exit 2) and says how to restore it.
"""
import configparser
import os
import re
import secrets
import sys

from objproxy.common.exceptions import ConfigError
from objproxy.ring import backups
from objproxy.ring.builder import RingBuilder

DAEMON_SECTIONS = ('object-replicator', 'container-replicator',
                   'account-replicator', 'object-auditor', 'object-updater',
                   'object-expirer', 'object-rescanner')
RING_NAMES = ('account', 'container', 'object')
PART_POWER = 10
REPLICAS = 3
RING_SEED = 1
DEFAULT_PROXY_PORT = 8080
DEFAULT_MEMCACHE_PORT = 11311

HEADER = """\
# objproxy-aio wrote this file once, from {template}.
# It is yours to edit: objproxy-aio keeps your changes across restarts and
# only rewrites, in place, the values its command line sets (bind_port,
# workers, memcache_servers). `objproxy-aio --reset` writes it afresh.
"""


MISSING_HASH_CONF = (
    '{path} is missing, but {srv} holds stored data.\n'
    '  Its hash_path_prefix and hash_path_suffix decide where every object '
    'lives;\n  new random ones would make all of it unreachable, so none '
    'are made.\n'
    '  Restore the file from a backup (or write it with the values the '
    'data was\n  stored with: [objproxy-hash] hash_path_prefix = ... and '
    'hash_path_suffix = ...)\n  and start again; or, to throw the stored '
    'data away, remove {srv}.')


def default_node_ports(count):
    return [6010 + 10 * i for i in range(count)]


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


# -- editing ini text in place --------------------------------------------
_SECTION_RE = re.compile(r'^\[(?P<name>[^\]]+)\]\s*$')


def set_option(text, section, key, value):
    """``text`` with ``key = value`` in ``[section]``.

    An active ``key`` line (and its continuation lines) is replaced where it
    stands; otherwise the option goes right under the section header (the
    section is appended if missing).  Everything else is kept verbatim.
    """
    lines = text.splitlines(True)
    option_re = re.compile(r'^%s\s*[=:]' % re.escape(key))
    current = None
    header_at = None
    for index, line in enumerate(lines):
        match = _SECTION_RE.match(line)
        if match:
            current = match.group('name').strip()
            if current == section and header_at is None:
                header_at = index
            continue
        if current == section and option_re.match(line):
            end = index + 1
            while end < len(lines) and lines[end][:1] in (' ', '\t') and \
                    lines[end].strip():
                end += 1
            lines[index:end] = ['%s = %s\n' % (key, value)]
            return ''.join(lines)
    if header_at is not None:
        lines.insert(header_at + 1, '%s = %s\n' % (key, value))
        return ''.join(lines)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'
    lines.append('\n[%s]\n%s = %s\n' % (section, key, value))
    return ''.join(lines)


def remove_option(text, section, key):
    """``text`` without the active ``key`` line of ``[section]``."""
    out, current, skipping = [], None, False
    option_re = re.compile(r'^%s\s*[=:]' % re.escape(key))
    for line in text.splitlines(True):
        match = _SECTION_RE.match(line)
        if match:
            current = match.group('name').strip()
        elif skipping and line[:1] in (' ', '\t') and line.strip():
            continue
        skipping = False
        if current == section and option_re.match(line):
            skipping = True
            continue
        out.append(line)
    return ''.join(out)


def read_text(text):
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def _read(path):
    with open(path) as fp:
        return fp.read()


def _write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as fp:
        fp.write(text)
    os.replace(tmp, path)


def _port_of(value):
    """The port of ``ip:port`` (first server of a list), or None."""
    first = value.split(',')[0].strip()
    try:
        return int(first.rsplit(':', 1)[1])
    except (IndexError, ValueError):
        return None


class AioLayout(object):
    """Writes (once) and updates (in place) the all-in-one's files.

    ``proxy_port``, ``node_ports``, ``workers`` and ``memcache_port`` are
    what the command line asked for; None keeps what the configs say.
    After ``write_all`` they hold the values the configs now carry.
    """

    def __init__(self, data_dir, proxy_port=None, node_ports=None,
                 workers=None, pipeline=None, memcache_port=None, clamd=None,
                 ip='127.0.0.1', reset=False, node_count=4,
                 use_memcached=True):
        self.data_dir = os.path.abspath(data_dir)
        self.etc_dir = os.path.join(self.data_dir, 'etc')
        self.log_dir = os.path.join(self.data_dir, 'log')
        self.run_dir = os.path.join(self.data_dir, 'run')
        self.ip = ip
        self.asked = {'proxy_port': proxy_port, 'workers': workers,
                      'memcache_port': memcache_port,
                      'node_ports': list(node_ports) if node_ports else None}
        self.proxy_port = proxy_port or DEFAULT_PROXY_PORT
        self.node_ports = list(node_ports or default_node_ports(node_count))
        self.workers = 1 if workers is None else workers
        self.pipeline_override = pipeline
        self.memcache_port = memcache_port or DEFAULT_MEMCACHE_PORT
        self.use_memcached = use_memcached
        self.clamd = clamd  # a ClamdProcess (its paths), or None
        self.reset = reset
        self.templates = find_templates()
        self.proxy_conf = self.user_proxy_conf

    # -- paths ------------------------------------------------------------
    def node_devices(self, index):
        return os.path.join(self.data_dir, 'srv', 'node%d' % (index + 1))

    def node_device_name(self, index):
        return 'sdb%d' % (index + 1)

    def node_conf(self, index):
        return os.path.join(self.etc_dir, 'node%d.conf' % (index + 1))

    @property
    def user_proxy_conf(self):
        return os.path.join(self.etc_dir, 'proxy-server.conf')

    @property
    def hash_conf(self):
        return os.path.join(self.etc_dir, 'objproxy.conf')

    def holds_data(self):
        """True once any node device has stored anything."""
        for index in range(len(self.node_ports)):
            device = os.path.join(self.node_devices(index),
                                  self.node_device_name(index))
            for _root, _dirs, files in os.walk(device):
                if any(not name.endswith('.recon') for name in files):
                    return True
        return False

    # -- writing ----------------------------------------------------------
    def write_all(self):
        """Write what is missing, apply the command line, read back the
        effective ports, align the rings, pick the proxy config to run."""
        for path in (self.etc_dir, self.log_dir, self.run_dir):
            os.makedirs(path, exist_ok=True)
        for index in range(len(self.node_ports)):
            os.makedirs(os.path.join(self.node_devices(index),
                                     self.node_device_name(index)),
                        exist_ok=True)
        self.write_hash_conf()
        for index in range(len(self.node_ports)):
            self.write_node_conf(index)
        self.write_proxy_conf()
        self.read_ports()
        self.write_rings()
        self.proxy_conf = self.runtime_proxy_conf()

    def _fresh(self, path):
        return self.reset or not os.path.exists(path)

    def _template(self, name):
        text = _read(os.path.join(self.templates, name))
        return HEADER.format(template='etc/' + name) + text

    def write_hash_conf(self):
        path = self.hash_conf
        keep = None
        if os.path.exists(path):
            if not self.reset:
                return
            if self.holds_data():
                # the secret decides where stored data lives: keep it
                keep = read_text(_read(path))['objproxy-hash']
        elif self.holds_data():
            # a new secret would hash every name elsewhere: all stored
            # objects would silently become unreachable
            raise ConfigError(MISSING_HASH_CONF.format(
                path=path, srv=os.path.join(self.data_dir, 'srv')))
        text = self._template('objproxy.conf')
        for key in ('hash_path_prefix', 'hash_path_suffix'):
            value = keep.get(key, '') if keep is not None \
                else secrets.token_hex(8)
            text = set_option(text, 'objproxy-hash', key, value)
        _write(path, text)

    def write_node_conf(self, index):
        path = self.node_conf(index)
        if self._fresh(path):
            text = self._template('storage-server.conf')
            values = [
                ('bind_ip', self.ip),
                ('bind_port', str(self.node_ports[index])),
                ('workers', str(self.workers)),
                ('devices', self.node_devices(index)),
                ('mount_check', 'false'),
                ('objproxy_dir', self.etc_dir),
                ('log_file', os.path.join(self.log_dir,
                                          'node%d.log' % (index + 1))),
            ]
            if self.clamd is not None:
                # the rescanner asks aio's own clamd
                text = set_option(text, 'object-rescanner', 'clamd_conf',
                                  self.clamd.conf_path)
            for section in DAEMON_SECTIONS:
                # one machine serves the requests too: daemons go last
                text = set_option(text, section, 'nice_priority', '19')
                text = set_option(text, section, 'ionice_class',
                                  'IOPRIO_CLASS_IDLE')
        else:
            text = _read(path)
            values = []
            if self.asked['node_ports']:
                values.append(('bind_port', str(self.node_ports[index])))
            if self.asked['workers'] is not None:
                values.append(('workers', str(self.workers)))
        for key, value in values:
            text = set_option(text, 'DEFAULT', key, value)
        if values:
            _write(path, text)

    def write_proxy_conf(self):
        path = self.user_proxy_conf
        memcache = '%s:%d' % (self.ip, self.memcache_port)
        if not self._fresh(path):
            text = _read(path)
            values = []
            if self.asked['proxy_port']:
                values.append(('bind_port', str(self.proxy_port)))
            if self.asked['workers'] is not None:
                values.append(('workers', str(self.workers)))
            if self.asked['memcache_port']:
                values.append(('memcache_servers', memcache))
            for key, value in values:
                text = set_option(text, 'DEFAULT', key, value)
            if values:
                _write(path, text)
            return
        text = self._template('proxy-server.conf')
        for key, value in (
                ('bind_ip', self.ip),
                ('bind_port', str(self.proxy_port)),
                ('workers', str(self.workers)),
                ('objproxy_dir', self.etc_dir),
                ('log_file', os.path.join(self.log_dir, 'proxy.log')),
                ('memcache_servers', memcache)):
            text = set_option(text, 'DEFAULT', key, value)
        sections = read_text(text)
        if sections.has_section('filter:versioned_writes'):
            # Swift ships both styles off; a development cluster has them on.
            for key in ('allow_versioned_writes', 'allow_object_versioning'):
                text = set_option(text, 'filter:versioned_writes', key,
                                  'true')
        if sections.has_section('filter:clamav') and self.clamd:
            # Point the filter at our clamd's own config: it reads the
            # socket from there and checks max_scan_size against clamd's
            # stream limits, so the two can never disagree.
            text = remove_option(text, 'filter:clamav', 'clamd_socket')
            text = set_option(text, 'filter:clamav', 'clamd_conf',
                              self.clamd.conf_path)
            text = set_option(text, 'filter:clamav', 'max_scan_size',
                              str(self.clamd.max_size))
        _write(path, text)

    def read_ports(self):
        """Take the ports (and workers) the configs now say."""
        proxy = read_text(_read(self.user_proxy_conf))
        defaults = proxy.defaults()
        self.proxy_port = int(defaults.get('bind_port', self.proxy_port))
        self.workers = int(defaults.get('workers', self.workers))
        memcache = _port_of(defaults.get('memcache_servers', ''))
        if memcache:
            self.memcache_port = memcache
        for index in range(len(self.node_ports)):
            node = read_text(_read(self.node_conf(index))).defaults()
            self.node_ports[index] = int(node.get('bind_port',
                                                  self.node_ports[index]))

    @property
    def pipeline(self):
        """The proxy pipeline this start runs."""
        parser = read_text(_read(self.proxy_conf))
        return ' '.join(parser.get('pipeline:main', 'pipeline').split())

    def runtime_proxy_conf(self):
        """The user's proxy config, or a copy in run/ with this start's
        overrides (``--pipeline``, no memcached)."""
        text = _read(self.user_proxy_conf)
        overridden = False
        if self.pipeline_override:
            text = set_option(text, 'pipeline:main', 'pipeline',
                              self.pipeline_override)
            overridden = True
        if not self.use_memcached and \
                read_text(text).defaults().get('memcache_servers'):
            text = remove_option(text, 'DEFAULT', 'memcache_servers')
            overridden = True
        if not overridden:
            return self.user_proxy_conf
        path = os.path.join(self.run_dir, 'proxy-server.conf')
        _write(path, '# objproxy-aio: this start only, from %s\n%s'
               % (self.user_proxy_conf, text))
        return path

    # -- rings ------------------------------------------------------------
    def write_rings(self):
        for name in RING_NAMES:
            builder_path = os.path.join(self.etc_dir, name + '.builder')
            ring_path = os.path.join(self.etc_dir, name + '.ring.gz')
            if self._fresh(builder_path):
                builder = self.new_builder()
                backups.replace(builder_path, builder.save)
                backups.replace(ring_path, builder.write_ring)
                continue
            builder = RingBuilder.load(builder_path)
            if self.align_ports(builder):
                backups.replace(builder_path, builder.save)
                backups.replace(ring_path, builder.write_ring)
            elif not os.path.exists(ring_path):
                backups.replace(ring_path, builder.write_ring)

    def new_builder(self):
        builder = RingBuilder(PART_POWER, REPLICAS, 1)
        for index, port in enumerate(self.node_ports):
            builder.add_dev({
                'region': 1, 'zone': index + 1, 'ip': self.ip,
                'port': port, 'device': self.node_device_name(index),
                'weight': 100, 'meta': ''})
        builder.rebalance(seed=RING_SEED)
        return builder

    def align_ports(self, builder):
        """Give each of aio's devices its node's port; True if any moved.

        Only the address changes: no rebalance, so every partition stays
        on the device that holds its data.
        """
        ports = {(self.ip, self.node_device_name(i)): port
                 for i, port in enumerate(self.node_ports)}
        changed = False
        for dev in builder.devs:
            if dev is None:
                continue
            port = ports.get((dev['ip'], dev['device']))
            if port is not None and dev['port'] != port:
                builder.set_dev_info(dev['id'], port=port)
                changed = True
        return changed
