"""Run any objproxy paste-deploy config as a pre-forking eventlet server.

Every server (proxy, storage node) is the same program with a different
config: bind the listening socket once in the parent, then serve it from
``workers`` forked children (``workers = 0`` serves in-process, which is
what tests and debuggers want).  The parent restarts children that die and
stops them all on SIGTERM/SIGINT, so no worker outlives its server.

Signals, for systemd and rolling upgrades:

- SIGTERM / SIGINT: graceful stop.  Every worker stops accepting, finishes
  the requests in flight (idle keep-alive connections are closed), then
  exits; after ``drain_timeout`` seconds (default 60) what is left is cut.
- SIGHUP: graceful reload.  The parent reads the config again (an invalid
  one is logged and the running workers stay), forks new workers that load
  it, then tells the old ones to drain as above.  The listening socket is
  never closed, so no connection is refused; a changed ``bind_ip`` /
  ``bind_port`` needs a restart.  With ``workers = 0`` SIGHUP is ignored
  (there is no parent to fork new workers).
"""
import ctypes
import errno
import os
import signal
import socket
import sys
import time

import eventlet
import eventlet.hubs
import eventlet.wsgi
from paste.deploy import appconfig

from objproxy.common.config import get_float, get_int
from objproxy.common.constraints import raise_header_limit
from objproxy.common.exceptions import ConfigError
from objproxy.common.http_protocol import HttpProtocol
from objproxy.common.logs import get_logger

DEFAULT_BIND_IP = '0.0.0.0'
PR_SET_PDEATHSIG = 1


class ServerSettings(object):
    """The [DEFAULT] options that decide how the server listens."""

    def __init__(self, conf_path):
        self.conf_path = os.path.abspath(conf_path)
        if not os.path.isfile(self.conf_path):
            raise ConfigError('config file %s does not exist' % conf_path)
        try:
            conf = appconfig('config:' + self.conf_path)
        except (LookupError, ValueError, OSError) as err:
            raise ConfigError('cannot load %s: %s' % (conf_path, err))
        except Exception as err:  # configparser errors and the like
            raise ConfigError('cannot parse %s: %s' % (conf_path, err))
        self.conf = dict(conf)
        self.bind_ip = conf.get('bind_ip', DEFAULT_BIND_IP)
        self.bind_port = get_int(conf, 'bind_port', None, 'DEFAULT',
                                 minimum=0, maximum=65535)
        if self.bind_port is None:
            raise ConfigError('%s: bind_port is required' % conf_path)
        self.workers = get_int(conf, 'workers', 1, 'DEFAULT', minimum=0)
        self.backlog = get_int(conf, 'backlog', 4096, 'DEFAULT', minimum=1)
        self.max_clients = get_int(conf, 'max_clients', 1024, 'DEFAULT',
                                   minimum=1)
        self.client_timeout = get_float(conf, 'client_timeout', 60,
                                        'DEFAULT', minimum=0.01)
        self.keepalive_timeout = get_float(conf, 'keepalive_timeout', 5,
                                           'DEFAULT', minimum=0)
        self.drain_timeout = get_float(conf, 'drain_timeout', 60,
                                       'DEFAULT', minimum=0)


def die_with_parent(sig=signal.SIGTERM):
    """Ask the kernel to send us ``sig`` when our parent dies (no
    orphans)."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)
    except OSError:
        pass


def bind_socket(ip, port, backlog=4096):
    """Listen on ip:port or raise ConfigError saying why not."""
    family = socket.AF_INET6 if ':' in ip else socket.AF_INET
    try:
        sock = eventlet.listen((ip, port), family=family, backlog=backlog)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ConfigError('cannot listen on %s:%s: the port is already '
                              'in use' % (ip, port))
        raise ConfigError('cannot listen on %s:%s: %s'
                          % (ip, port, err.strerror))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def load_app(conf_path):
    # objproxy.common.pipeline adds slo/dlo to proxy pipelines lacking them
    from objproxy.common.pipeline import load_app as load_with_filters
    try:
        return load_with_filters(os.path.abspath(conf_path))
    except LookupError as err:
        raise ConfigError('%s: %s' % (conf_path, err))


class Drain(object):
    """Graceful stop of one serving process, triggered from a signal.

    A signal handler cannot safely raise into eventlet's hub, so it only
    sets a flag; a green thread polling it throws SystemExit into the
    serving green thread, whose accept loop then ends: eventlet's server
    closes idle connections, lets each busy one finish its request and
    waits for them.  Past ``timeout`` seconds the process exits anyway.
    """

    POLL = 0.1

    def __init__(self, timeout, logger):
        self.timeout = timeout
        self.logger = logger
        self.requested = False
        self.server_thread = None

    def request(self, signum=None, frame=None):
        self.requested = True

    def install(self, *signums):
        for signum in signums:
            signal.signal(signum, self.request)
        self.server_thread = eventlet.getcurrent()
        eventlet.spawn_n(self._watch)

    def _watch(self):
        while not self.requested:
            eventlet.sleep(self.POLL)
        self.logger.info('pid %d: draining requests in flight', os.getpid())
        eventlet.spawn_after(self.timeout, self._give_up)
        self.server_thread.throw(SystemExit(0))

    def _give_up(self):
        self.logger.warning('pid %d: requests still running after %gs; '
                            'exiting', os.getpid(), self.timeout)
        os._exit(0)


def serve(sock, app, settings, logger):
    """Serve until told to drain (one worker's lifetime)."""
    raise_header_limit()
    eventlet.wsgi.HttpProtocol.default_request_version = 'HTTP/1.0'
    eventlet.wsgi.server(
        sock, app, log_output=False, max_size=settings.max_clients,
        socket_timeout=settings.client_timeout,
        keepalive=settings.keepalive_timeout or False,
        minimum_chunk_size=4096, debug=False, log=_NullLog(logger),
        protocol=HttpProtocol)


class _NullLog(object):
    """eventlet's own access log is replaced by proxy_logging."""

    def __init__(self, logger):
        self.logger = logger

    def write(self, message):
        message = message.strip()
        if message and 'Traceback' in message:
            self.logger.error(message)

    def info(self, *args, **kwargs):
        pass

    def debug(self, *args, **kwargs):
        pass

    def error(self, msg, *args, **kwargs):
        self.logger.error(msg, *args)


class _Reload(Exception):
    """Raised by the SIGHUP handler to break out of the parent's wait."""


class Server(object):
    """The parent process: binds, forks workers, restarts, reloads, stops."""

    def __init__(self, conf_path):
        self.conf_path = conf_path
        self.settings = ServerSettings(conf_path)
        self.logger = get_logger(self.settings.conf, 'objproxy-server')
        self.children = {}
        self.draining = {}  # old workers finishing their requests
        self.running = True
        self.reload_pending = False
        self.waiting = False
        self.sock = None

    def run(self):
        settings = self.settings
        # Load once in the parent so config errors are reported before we
        # bind or fork; each worker loads its own copy after the fork so
        # that green threads an app starts at load time run in that worker.
        app = load_app(settings.conf_path)
        sock = self.sock = bind_socket(settings.bind_ip, settings.bind_port,
                                       settings.backlog)
        self.logger.info('%s listening on %s:%s with %d worker(s)',
                         os.path.basename(settings.conf_path),
                         settings.bind_ip, sock.getsockname()[1],
                         settings.workers)
        if settings.workers == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            Drain(settings.drain_timeout, self.logger).install(
                signal.SIGTERM, signal.SIGINT)
            serve(sock, app, settings, self.logger)
            return 0
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)
        while self.running:
            if self.reload_pending:
                self.reload_pending = False
                self._reload()
            while len(self.children) < self.settings.workers and \
                    self.running:
                self._fork_worker(sock)
            self.waiting = True
            try:
                pid, _status = os.wait()
            except (_Reload, ChildProcessError, InterruptedError):
                continue
            finally:
                self.waiting = False
            self.draining.pop(pid, None)
            if pid in self.children:
                del self.children[pid]
                if self.running:
                    self.logger.error('worker %d died; starting another',
                                      pid)
                    time.sleep(0.1)
        self._reap()
        return 0

    def _hup(self, signum, frame):
        if self.running:
            self.reload_pending = True
            if self.waiting:  # only os.wait() may be interrupted
                raise _Reload()

    def _reload(self):
        """New workers with the new config, then the old ones drain."""
        try:
            settings = ServerSettings(self.conf_path)
            load_app(settings.conf_path)
        except Exception as err:  # any reason the new config cannot run
            self.logger.error('reload refused, the running workers stay: '
                              '%s', err)
            return
        self.settings = settings
        self.logger = get_logger(settings.conf, 'objproxy-server')
        old = self.children
        self.children = {}
        self.logger.info('reloading %s: %d new worker(s), %d draining',
                         os.path.basename(settings.conf_path),
                         settings.workers, len(old))
        while len(self.children) < settings.workers:
            self._fork_worker(self.sock)
        for pid in old:
            self.draining[pid] = time.time()
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    def _fork_worker(self, sock):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # a parent that stops gracefully waits for its workers; one
            # that died abruptly (a crash, SIGKILL) takes them with it at
            # once, so a dead server never goes on answering
            die_with_parent(signal.SIGKILL)
            eventlet.hubs.use_hub()  # a fresh hub after fork
            status = 0
            try:
                Drain(self.settings.drain_timeout, self.logger).install(
                    signal.SIGTERM, signal.SIGHUP)
                serve(sock, load_app(self.settings.conf_path),
                      self.settings, self.logger)
            except BaseException:
                self.logger.exception('worker failed')
                status = 1
            finally:
                os._exit(status)
        self.children[pid] = time.time()

    def _stop(self, signum, frame):
        self.running = False
        for pid in list(self.children) + list(self.draining):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _reap(self):
        """Wait for the draining workers (SIGKILL a little after their own
        drain timeout)."""
        self.children.update(self.draining)
        self.draining = {}
        if self.sock is not None:
            self.sock.close()  # the workers hold their own copies
        deadline = time.time() + self.settings.drain_timeout + 5
        while self.children and time.time() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_server(conf_path):
    """Entry for ``objproxy-server CONF``; returns the exit status."""
    try:
        return Server(conf_path).run()
    except ConfigError as err:
        sys.stderr.write('objproxy-server: %s\n' % err)
        return 2
