"""``objproxy-aio``: a whole cluster on 127.0.0.1 in one command.

Starts memcached, a private clamd, four storage nodes (three replicas) and
one proxy, waits until ``/healthcheck`` answers, starts each node's
background daemons (NODE_DAEMONS: replicator, auditor, updater, expirer,
and the rescanner when the pipeline scans; only now, so their first pass
finds every peer answering) and prints how to use it.

It is a real, editable cluster: the configs and rings in
``<data-dir>/etc`` are written once and then belong to the user (see
aio_layout.py); the proxy runs the pipeline line of its config, so adding
a filter is two lines there and a restart.  ``--reset`` writes them
afresh.  Ctrl-C or SIGTERM stops every child; children also die with this
process (PR_SET_PDEATHSIG), so nothing is left behind even after a
``kill -9``.  The test suite drives the same class (AllInOne).

Supervision: while it runs, the main loop restarts clamd whenever it dies
(same run directory, so the same socket the proxy config points at),
retrying with a growing delay if it will not start; meanwhile the proxy's
``/healthcheck`` answers 503 ``clamd unreachable``.  Any other child
exiting stops the whole cluster, as before.

Shutdown order: the proxy first (so no request is being served by a
proxy whose token cache or scanner is already gone), then the storage
nodes and their daemons, then memcached, then clamd.
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from objproxy.cli.aio_layout import AioLayout
from objproxy.common.exceptions import ConfigError, RingError
from objproxy.common.wsgi import die_with_parent

NODE_COUNT = 4
#: The daemons aio runs beside every storage node, each as
#: ``<console script> <node conf>``: (name, console script, module that
#: must be importable).  A daemon whose module does not exist yet is
#: skipped, so ``objproxy-expirer`` starts here as soon as it is written.
NODE_DAEMONS = (
    ('replicator', 'objproxy-replicator', 'objproxy.cli.daemons'),
    ('auditor', 'objproxy-auditor', 'objproxy.cli.daemons'),
    ('updater', 'objproxy-updater', 'objproxy.cli.daemons'),
    ('expirer', 'objproxy-expirer', 'objproxy.cli.expirer'),
    ('rescanner', 'objproxy-rescanner', 'objproxy.cli.rescanner'),
)
DAEMONS = tuple(name for name, _script, _module in NODE_DAEMONS)
#: Seconds between checks of the children in ``main``.
SUPERVISE_INTERVAL = 0.5
#: Longest wait between attempts to restart a clamd that will not start.
MAX_RESTART_DELAY = 30.0


class AioError(Exception):
    """A clear, user-facing reason the cluster cannot start."""


def port_is_free(ip, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def wait_for_port(ip, port, timeout, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((ip, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def daemon_commands():
    """(name, program) of each node daemon that exists in this install."""
    from importlib.util import find_spec
    bin_dir = os.path.dirname(sys.executable)
    found = []
    for name, script, module in NODE_DAEMONS:
        try:
            present = find_spec(module) is not None
        except ImportError:
            present = False
        if present:
            found.append((name, os.path.join(bin_dir, script)))
    return found


class AllInOne(object):
    """The cluster.  Ports and workers left as None come from the configs
    of ``data_dir`` (or the defaults when it is new); given, they are
    written into those configs.  ``pipeline`` overrides the proxy config's
    pipeline line for this start only."""

    def __init__(self, data_dir, port=None, node_ports=None, workers=None,
                 pipeline=None, memcache_port=None, use_memcached=True,
                 clamd_db=None, ip='127.0.0.1', clamd_bin=None,
                 daemons=False, reset=False):
        self.ip = ip
        self.data_dir = os.path.abspath(data_dir)
        self.use_memcached = use_memcached
        self.clamd_db = clamd_db
        self.clamd_bin = clamd_bin
        self.daemons = daemons
        self.layout = AioLayout(
            self.data_dir, port, node_ports, workers, pipeline,
            memcache_port, self._clamd_process(), ip, reset=reset,
            node_count=len(node_ports or ()) or NODE_COUNT,
            use_memcached=use_memcached and bool(shutil.which('memcached')))
        self.port = self.layout.proxy_port
        self.node_ports = self.layout.node_ports
        self.memcache_port = self.layout.memcache_port
        self.workers = self.layout.workers
        self.pipeline = None
        self.use_clamd = False
        self.procs = {}
        self.clamd = None
        self.clamd_restarts = 0
        self._clamd_retry_at = 0.0
        self._clamd_retry_delay = 1.0

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout=60):
        self.prepare()
        self._check_ports()
        if self.layout.use_memcached:
            self._start_memcached()
        if self.use_clamd:
            self._start_clamd()
        for index in range(len(self.node_ports)):
            self.start_node(index, timeout, daemons=False)
        for index in range(len(self.node_ports)):
            self._wait_node(index, timeout)
        self._spawn('proxy', self.layout.proxy_conf)
        self._wait_ready(timeout)
        if self.daemons:
            # only now: a replicator's first pass then finds every peer
            for index in range(len(self.node_ports)):
                self._start_daemons(index)

    def prepare(self):
        """Write or update the configs and rings; take their ports."""
        if self.use_memcached and not shutil.which('memcached'):
            sys.stderr.write('objproxy-aio: memcached not found '
                             '(apt-get install memcached); tokens and rate '
                             'limits stay per process\n')
        self.layout.write_all()
        self.port = self.layout.proxy_port
        self.node_ports = self.layout.node_ports
        self.memcache_port = self.layout.memcache_port
        self.workers = self.layout.workers
        self.pipeline = self.layout.pipeline
        self.use_clamd = 'clamav' in self.pipeline.split()

    def stop(self):
        """Stop everything, the proxy first and the services it uses last.

        The proxy goes first so it never serves a request after memcached
        (tokens) or clamd (scans) are gone; the nodes next; memcached and
        clamd last.  Within a step, every process gets its signal before
        any is waited for.
        """
        self._stop_procs(['proxy'])
        self._stop_procs([name for name in self.procs
                          if name not in ('proxy', 'memcached')])
        self._stop_procs(['memcached'])
        if self.clamd is not None:
            self.clamd.stop()
            self.clamd = None

    def supervise(self):
        """Restart clamd if it died.  Call it periodically.

        Returns a line to report (restart, failure) or None.  A clamd that
        fails to start is retried after 1, 2, 4 ... up to
        MAX_RESTART_DELAY seconds.
        """
        clamd = self.clamd
        if clamd is None or clamd.is_running():
            return None
        now = time.monotonic()
        if now < self._clamd_retry_at:
            return None
        process = clamd.process
        status = process.poll() if process is not None else None
        try:
            clamd.start()
        except RuntimeError as err:
            delay = self._clamd_retry_delay
            self._clamd_retry_at = time.monotonic() + delay
            self._clamd_retry_delay = min(delay * 2, MAX_RESTART_DELAY)
            return ('clamd (exit status %s) could not be restarted, '
                    'retrying in %gs: %s' % (status, delay, err))
        self.clamd_restarts += 1
        self._clamd_retry_at = 0.0
        self._clamd_retry_delay = 1.0
        return ('clamd exited (status %s); restarted as pid %d on %s'
                % (status, clamd.pid, clamd.socket_path))

    def start_node(self, index, timeout=30, daemons=True):
        """Start node ``index`` (and, once it answers, its daemons)."""
        name = 'node%d' % (index + 1)
        self._spawn(name, self.layout.node_conf(index))
        if daemons:
            self._wait_node(index, timeout)
            if self.daemons:
                self._start_daemons(index)

    def _wait_node(self, index, timeout):
        name = 'node%d' % (index + 1)
        if not wait_for_port(self.ip, self.node_ports[index], timeout,
                             self.procs.get(name)):
            raise AioError('storage node %d did not start; see %s'
                           % (index + 1, self._log_path(name)))

    def _start_daemons(self, index):
        name = 'node%d' % (index + 1)
        conf = self.layout.node_conf(index)
        for daemon, program in daemon_commands():
            if daemon == 'rescanner' and not self.use_clamd:
                continue        # nothing to rescan with
            self._popen('%s-%s' % (name, daemon), [program, conf])

    def stop_node(self, index):
        self._stop_node_procs(index, signal.SIGTERM)

    def kill_node(self, index):
        self._stop_node_procs(index, signal.SIGKILL)

    def _stop_node_procs(self, index, sig):
        name = 'node%d' % (index + 1)
        for daemon in DAEMONS:
            self._stop_proc('%s-%s' % (name, daemon))
        self._stop_proc(name, sig=sig)

    # -- pieces -----------------------------------------------------------
    def _check_ports(self):
        """Refuse to start, naming every busy port and how to move it."""
        count = len(self.node_ports)
        nodes = ','.join('P%d' % (i + 1) for i in range(count))
        wanted = [('proxy', self.port, '--port N')]
        wanted += [('storage node %d' % (i + 1), p,
                    '--node-ports %s (the %d node ports, in order)'
                    % (nodes, count))
                   for i, p in enumerate(self.node_ports)]
        if self.layout.use_memcached:
            wanted.append(('memcached', self.memcache_port,
                           '--memcache-port N'))
        busy = [(what, port, option) for what, port, option in wanted
                if not port_is_free(self.ip, port)]
        if busy:
            lines = ['port %d (%s) is already in use on %s; move it with %s'
                     % (port, what, self.ip, option)
                     for what, port, option in busy]
            raise AioError('\n  '.join(
                ['%d port(s) already in use; stop whatever uses them or '
                 'move them (the new ports are written into %s):'
                 % (len(busy), self.layout.etc_dir)] + lines))

    def _start_memcached(self):
        binary = shutil.which('memcached')
        cmd = [binary, '-l', self.ip, '-p', str(self.memcache_port),
               '-U', '0', '-m', '64']
        if os.geteuid() == 0:
            cmd += ['-u', 'root']
        proc = self._popen('memcached', cmd)
        if not wait_for_port(self.ip, self.memcache_port, 10, proc):
            raise AioError('memcached did not start; see %s'
                           % self._log_path('memcached'))
        return self.memcache_port

    def _clamd_process(self):
        """The private clamd (not started): its paths go into the proxy
        config when that is first written."""
        from objproxy.cli.clamd_runner import ClamdProcess
        run_dir = os.path.join(self.data_dir, 'run', 'clamd')
        # clamd spools each stream before scanning; on tmpfs that costs no
        # disk bandwidth the replicas need.
        shm = '/dev/shm' if os.access('/dev/shm', os.W_OK) else None
        return ClamdProcess(run_dir, database_dir=self.clamd_db,
                            clamd_bin=self.clamd_bin, temp_dir=shm)

    def _start_clamd(self):
        from objproxy.cli.clamd_runner import ClamdNotFound
        self.clamd = self.layout.clamd
        try:
            self.clamd.start()
        except ClamdNotFound as err:
            self.clamd = None
            raise AioError(str(err))
        except RuntimeError as err:
            self.clamd = None
            raise AioError('clamd did not start: %s' % err)

    def _spawn(self, name, conf):
        cmd = [sys.executable, '-m', 'objproxy.cli.server', conf]
        return self._popen(name, cmd)

    def _popen(self, name, cmd):
        log = open(self._log_path(name), 'ab')
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent)
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def _log_path(self, name):
        return os.path.join(self.data_dir, 'log', name + '.out')

    def _stop_proc(self, name, sig=signal.SIGTERM):
        self._stop_procs([name], sig)

    def _stop_procs(self, names, sig=signal.SIGTERM, timeout=10):
        """Signal all of ``names`` first, then wait for each (SIGKILL
        after ``timeout`` seconds)."""
        signalled = []
        for name in names:
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(sig)
            signalled.append(proc)
        deadline = time.monotonic() + timeout
        for proc in signalled:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _wait_ready(self, timeout):
        proc = self.procs['proxy']
        if not wait_for_port(self.ip, self.port, timeout, proc):
            raise AioError('the proxy did not start; see %s'
                           % self._log_path('proxy'))
        deadline = time.time() + timeout
        path = ('/healthcheck' if 'healthcheck' in self.pipeline.split()
                else '/info')
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection(self.ip, self.port,
                                                  timeout=2)
                conn.request('GET', path)
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AioError('the proxy did not answer %s; see %s'
                       % (path, self._log_path('proxy')))

    @property
    def proxy_url(self):
        return 'http://%s:%d' % (self.ip, self.port)


def banner(aio):
    url = aio.proxy_url
    return '\n'.join([
        'objproxy all-in-one is running (data in %s)' % aio.data_dir,
        '',
        '  auth URL:  %s/auth/v1.0' % url,
        '  user:      test:tester   key: testing',
        '',
        '  curl -i -H "X-Auth-User: test:tester" -H "X-Auth-Key: testing" '
        '%s/auth/v1.0' % url,
        '  swift -A %s/auth/v1.0 -U test:tester -K testing stat' % url,
        '  swift -A %s/auth/v1.0 -U test:tester -K testing upload CONT FILE'
        % url,
        '',
        'Configs and rings in %s (yours to edit; restart to apply).'
        % aio.layout.etc_dir,
        'Logs in %s/log. Press Ctrl-C to stop.' % aio.data_dir,
    ])


def _and(names):
    return '%s and %s' % (', '.join(names[:-1]), names[-1])


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='objproxy-aio',
        description='Run a whole objproxy cluster on 127.0.0.1: a proxy, '
                    'four storage nodes (three replicas) with their '
                    'daemons, memcached and a private clamd.  The configs '
                    'and rings in DATA_DIR/etc are written on the first '
                    'run and are yours to edit afterwards; the port and '
                    'worker options write their value into them.')
    parser.add_argument('--data-dir', default='./objproxy-data',
                        help='where rings, configs, data and logs live '
                             '(default: ./objproxy-data; kept across runs)')
    parser.add_argument('--port', type=int, default=None,
                        help='proxy port (first run: 8080; afterwards '
                             'what etc/proxy-server.conf says)')
    parser.add_argument('--node-ports', default=None,
                        help='comma-separated ports of the 4 storage nodes '
                             '(first run: 6010,6020,6030,6040); the rings '
                             'follow, keeping every partition in place')
    parser.add_argument('--memcache-port', type=int, default=None,
                        help='port of the memcached aio starts (first run: '
                             '11311; written to memcache_servers)')
    parser.add_argument('--no-memcached', action='store_true',
                        help='run without memcached (tokens and rate '
                             'limits then stay per proxy process)')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes per server (first run: 1)')
    parser.add_argument('--pipeline', default=None,
                        help='run the proxy with this pipeline for this '
                             'start only, e.g. "catch_errors tempauth '
                             'proxy_server" (default: the pipeline line of '
                             'DATA_DIR/etc/proxy-server.conf)')
    parser.add_argument('--reset', action='store_true',
                        help='write the configs and rings afresh from the '
                             'etc/ samples, dropping your edits (the hash '
                             'prefix/suffix of stored data are kept)')
    parser.add_argument('--clamd-db', default=None,
                        help='use this signature directory (e.g. '
                             '/var/lib/clamav) instead of the test one')
    parser.add_argument('--no-daemons', action='store_true',
                        help='do not run the %s of each node (the '
                             'rescanner runs only when the pipeline '
                             'scans)' % _and(DAEMONS))
    parser.add_argument('--clamd-bin', default=None,
                        help='the clamd program (default: found on PATH '
                             'or in /usr/sbin)')
    args = parser.parse_args(argv)
    if args.node_ports:
        try:
            args.node_ports = [int(p) for p in args.node_ports.split(',')]
        except ValueError:
            parser.error('--node-ports takes comma-separated numbers')
        if len(args.node_ports) != NODE_COUNT:
            parser.error('--node-ports takes exactly %d ports' % NODE_COUNT)
    for name in ('port', 'memcache_port'):
        value = getattr(args, name)
        if value is not None and not 0 < value < 65536:
            parser.error('--%s must be a port number (1-65535)'
                         % name.replace('_', '-'))
    if args.workers is not None and args.workers < 0:
        parser.error('--workers must be 0 or more')
    if args.pipeline and args.pipeline.split()[-1] != 'proxy_server':
        parser.error('--pipeline must end with proxy_server')
    return args


def main(argv=None):
    args = parse_args(argv)
    aio = AllInOne(args.data_dir, args.port, args.node_ports, args.workers,
                   args.pipeline, args.memcache_port,
                   not args.no_memcached, args.clamd_db,
                   clamd_bin=args.clamd_bin, daemons=not args.no_daemons,
                   reset=args.reset)

    def stop(signum, frame):
        raise KeyboardInterrupt
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and
    # Python then never turns it into KeyboardInterrupt by itself
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        aio.start()
        print(banner(aio), flush=True)
        while True:
            time.sleep(SUPERVISE_INTERVAL)
            news = aio.supervise()
            if news:
                sys.stderr.write('objproxy-aio: %s\n' % news)
                sys.stderr.flush()
            dead = [name for name, proc in aio.procs.items()
                    if proc.poll() is not None]
            if dead:
                sys.stderr.write('objproxy-aio: %s exited; stopping (logs '
                                 'in %s/log)\n' % (', '.join(dead),
                                                   aio.data_dir))
                return 1
    except (AioError, ConfigError, RingError) as err:
        sys.stderr.write('objproxy-aio: %s\n' % err)
        return 2
    except KeyboardInterrupt:
        print('\nstopping...', flush=True)
        return 0
    finally:
        aio.stop()


if __name__ == '__main__':
    sys.exit(main())
