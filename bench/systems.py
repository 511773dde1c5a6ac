"""The systems a benchmark runs against: objproxy-aio and OpenStack Swift.

Why its own module: starting each system on loopback, finding its
processes and reading their memory is the same whatever load a benchmark
then applies.

``ObjproxySystem``/``SwiftSystem`` are soak.py's (default pipeline, daemons
on).  ``Objproxy``/``Swift`` are bench_proxy.py's: Swift's SAIO pipeline
and no daemons unless asked, daemon options written into aio's configs,
the object files each keeps (for cold reads), CPU seconds from /proc.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import http.client
from urllib.parse import urlparse

SWIFT_URL = 'http://127.0.0.1:18080'
PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
            'tempauth proxy_logging proxy_server')
DAEMON_SECTIONS = ('object-replicator', 'container-replicator',
                   'account-replicator', 'object-auditor', 'object-updater',
                   'object-expirer', 'object-rescanner')
DAEMON_PROGRAMS = ('objproxy-replicator', 'objproxy-auditor',
                   'objproxy-updater', 'objproxy-expirer',
                   'objproxy-rescanner')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from tests.ports import free_ports


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as fp:
            return fp.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except OSError:
        return ''


def _ppid(pid):
    try:
        with open('/proc/%d/stat' % pid) as fp:
            return int(fp.read().rsplit(')', 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def find_pids(*needles):
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit() and int(name) != os.getpid():
            cmd = _cmdline(int(name))
            if cmd and all(n in cmd for n in needles):
                found.append(int(name))
    return sorted(found)


def rss_mb(pid):
    try:
        with open('/proc/%d/status' % pid) as fp:
            for line in fp:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def wait_http(url, path, timeout):
    parsed = urlparse(url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                              timeout=2)
            conn.request('GET', path)
            if conn.getresponse().status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    return False


class ObjproxySystem(object):
    name = 'objproxy'

    def __init__(self, url=None, keep_data=False):
        self.url = url
        self.keep_data = keep_data
        self.proc = None
        self.data_dir = None

    def start(self):
        if self.url:
            return
        self.data_dir = tempfile.mkdtemp(prefix='soak-objproxy-')
        ports = free_ports(6)
        aio = os.path.join(os.path.dirname(sys.executable), 'objproxy-aio')
        # default pipeline (clamav included) and the daemons on
        cmd = [aio, '--workers', '1', '--data-dir', self.data_dir,
               '--port', str(ports[0]),
               '--node-ports', ','.join(str(p) for p in ports[1:5]),
               '--memcache-port', str(ports[5])]
        log = open(os.path.join(self.data_dir, 'aio.out'), 'ab')
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        self.url = 'http://127.0.0.1:%d' % ports[0]
        if not wait_http(self.url, '/healthcheck', 120):
            self.stop()
            raise SystemExit('objproxy-aio did not start; see %s/aio.out'
                             % self.data_dir)

    def node_workers(self):
        """{pid: label} of the storage nodes' worker processes: forked
        children of a node server (or the server itself with workers=0)."""
        needles = ['objproxy.cli.server', '/etc/node']
        if self.data_dir:
            needles.append(self.data_dir)
        servers = find_pids(*needles)
        pids = set(servers)
        workers = {}
        for pid in servers:
            cmd = _cmdline(pid).split()
            conf = os.path.basename(cmd[-1]) if cmd else '?'
            if _ppid(pid) in pids:
                workers[pid] = conf
        if not workers:  # workers = 0: the servers serve themselves
            workers = dict((pid, os.path.basename(_cmdline(pid).split()[-1]))
                           for pid in servers)
        return workers

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.data_dir and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class SwiftSystem(object):
    name = 'swift'
    url = SWIFT_URL

    def __init__(self, script):
        self.script = os.path.abspath(script)
        self.env = dict(os.environ)
        self.started = False

    def start(self):
        for step in ('install', 'up'):
            result = subprocess.run(['bash', self.script, step],
                                    env=self.env)
            if result.returncode:
                raise SystemExit('%s %s failed' % (self.script, step))
        self.started = True

    def node_workers(self):
        workers = {}
        for kind in ('object', 'container', 'account'):
            needle = 'swift-%s-server' % kind
            servers = find_pids(needle)
            pids = set(servers)
            for pid in servers:
                confs = [a for a in _cmdline(pid).split()
                         if a.endswith('.conf') or '/etc/' in a]
                if _ppid(pid) in pids:
                    workers[pid] = '%s %s' % (kind, os.path.basename(
                        confs[-1].rstrip('/')) if confs else '')
        return workers

    def stop(self):
        if self.started:
            subprocess.run(['bash', self.script, 'down'], env=self.env)
            self.started = False


# -- bench_proxy: CPU and memory of processes, the systems it compares -------

def cpu_seconds(pids):
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as fp:
                fields = fp.read().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def mem_kb(pids, key):
    best = 0
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid) as fp:
                for line in fp:
                    if line.startswith(key + ':'):
                        best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best


class Objproxy(object):
    """One objproxy-aio on free ports.  ``pipeline=None``: objproxy's
    default pipeline (clamav and a private clamd included)."""

    def __init__(self, url=None, pipeline=PIPELINE, daemons=False,
                 daemon_options=()):
        self.url = url
        self.proc = None
        self.data_dir = None
        self.pipeline = pipeline
        self.daemons = daemons
        self.daemon_options = list(daemon_options)

    def _write_daemon_options(self):
        """Put the daemon options into every daemon section of the node
        configs aio wrote (it keeps existing configs on the next start)."""
        from objproxy.cli.aio_layout import set_option
        for path in glob.glob(os.path.join(self.data_dir, 'etc',
                                           'node*.conf')):
            with open(path) as fp:
                text = fp.read()
            for section in DAEMON_SECTIONS:
                for key, value in self.daemon_options:
                    text = set_option(text, section, key, value)
            with open(path, 'w') as fp:
                fp.write(text)

    def start(self):
        if self.url:
            return
        self.data_dir = tempfile.mkdtemp(prefix='bench-objproxy-')
        self.ports = free_ports(6)
        self._launch()
        if self.daemon_options:
            # aio writes complete configs on its first start; the options
            # go into those, and the second start runs with them
            self.stop()
            self._write_daemon_options()
            self._launch()

    def _launch(self):
        ports = self.ports
        aio = os.path.join(os.path.dirname(sys.executable), 'objproxy-aio')
        pipelines = [self.pipeline]
        if self.pipeline == PIPELINE:
            pipelines.append(PIPELINE.replace(' ratelimit', ''))
        for pipeline in pipelines:
            # no background daemons unless asked: Swift's SAIO runs none
            cmd = [aio, '--workers', '1', '--data-dir', self.data_dir,
                   '--port', str(ports[0]),
                   '--node-ports', ','.join(str(p) for p in ports[1:5]),
                   '--memcache-port', str(ports[5])]
            if not self.daemons:
                cmd.append('--no-daemons')
            if pipeline:
                cmd += ['--pipeline', pipeline]
            log = open(os.path.join(self.data_dir, 'aio.out'), 'ab')
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                         start_new_session=True)
            log.close()
            self.url = 'http://127.0.0.1:%d' % ports[0]
            if wait_http(self.url, '/healthcheck', 120):
                if pipeline != self.pipeline:
                    print('NOTE: objproxy started without ratelimit '
                          '(filter not loadable)')
                return
            self.stop()
        raise SystemExit('objproxy-aio did not start; see %s/aio.out'
                         % self.data_dir)

    def object_files(self):
        if not self.data_dir:
            return []
        return glob.glob(os.path.join(self.data_dir, 'srv', 'node*', 'sdb*',
                                      'objects', '*', '*', '*', '*'))

    def daemon_pids(self):
        if not self.data_dir:
            return []
        return [pid for program in DAEMON_PROGRAMS
                for pid in find_pids(program, self.data_dir)]

    def proxy_pids(self):
        if self.data_dir:
            return find_pids('objproxy', self.data_dir, 'proxy-server.conf')
        return find_pids('objproxy', 'proxy-server.conf')

    def node_pids(self):
        if self.data_dir:
            return find_pids('objproxy', self.data_dir, '/etc/node')
        proxy = set(self.proxy_pids())
        return [p for p in find_pids('objproxy.cli.server')
                if p not in proxy]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


class Swift(object):
    url = SWIFT_URL

    def __init__(self, saio_script):
        self.saio = saio_script
        self.env = dict(os.environ,
                        SAIO_BASE=os.environ.get(
                            'SAIO_BASE', os.path.join(ROOT, '.swift-saio')))

    def start(self):
        for step in ('install', 'up'):
            result = subprocess.run(['bash', self.saio, step], env=self.env)
            if result.returncode:
                raise RuntimeError('swift-saio.sh %s failed' % step)

    def proxy_pids(self):
        return find_pids('swift-proxy-server')

    def node_pids(self):
        return (find_pids('swift-object-server') +
                find_pids('swift-container-server') +
                find_pids('swift-account-server'))

    def object_files(self):
        return glob.glob(os.path.join(self.env['SAIO_BASE'], 'srv', '*',
                                      'node', 'sdb*', 'objects', '*', '*',
                                      '*', '*'))

    def stop(self):
        subprocess.run(['bash', self.saio, 'down'], env=self.env)


def drop_cache(system):
    """Evict ``system``'s object files from the page cache (cold reads)."""
    dropped = 0
    for path in system.object_files():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # deleted meanwhile, or not a file
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            dropped += 1
        finally:
            os.close(fd)
    return dropped


# -- the client --------------------------------------------------------------

