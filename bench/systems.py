"""The systems a benchmark runs against: objproxy-aio and OpenStack Swift.

Why its own module: starting each system on loopback, finding its
processes and reading their memory is the same whatever load a benchmark
then applies.
"""
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


# -- the client --------------------------------------------------------------

