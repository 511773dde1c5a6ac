"""Run any objproxy paste-deploy config as a pre-forking eventlet server.

Every server (proxy, storage node) is the same program with a different
config: bind the listening socket once in the parent, then serve it from
``workers`` forked children (``workers = 0`` serves in-process, which is
what tests and debuggers want).  The parent restarts children that die and
stops them all on SIGTERM/SIGINT, so no worker outlives its server.
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


def die_with_parent():
    """Ask the kernel to SIGTERM us when our parent dies (no orphans)."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
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
    except ConfigError:
        raise
    except LookupError as err:
        raise ConfigError('%s: %s' % (conf_path, err))


def serve(sock, app, settings, logger):
    """Serve until the socket is closed (one worker's lifetime)."""
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


class Server(object):
    """The parent process: binds, forks workers, restarts, stops."""

    def __init__(self, conf_path):
        self.settings = ServerSettings(conf_path)
        self.logger = get_logger(self.settings.conf, 'objproxy-server')
        self.children = {}
        self.running = True

    def run(self):
        settings = self.settings
        # Load once in the parent so config errors are reported before we
        # bind or fork; each worker loads its own copy after the fork so
        # that green threads an app starts at load time run in that worker.
        app = load_app(settings.conf_path)
        sock = bind_socket(settings.bind_ip, settings.bind_port,
                           settings.backlog)
        self.logger.info('%s listening on %s:%s with %d worker(s)',
                         os.path.basename(settings.conf_path),
                         settings.bind_ip, sock.getsockname()[1],
                         settings.workers)
        if settings.workers == 0:
            self._install_stop_signals(sock)
            serve(sock, app, settings, self.logger)
            return 0
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while self.running:
            while len(self.children) < settings.workers and self.running:
                self._fork_worker(sock)
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                continue
            except InterruptedError:
                continue
            if pid in self.children:
                del self.children[pid]
                if self.running:
                    self.logger.error('worker %d died; starting another',
                                      pid)
                    time.sleep(0.1)
        self._reap()
        return 0

    def _fork_worker(self, sock):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            die_with_parent()
            eventlet.hubs.use_hub()  # a fresh hub after fork
            status = 0
            try:
                serve(sock, load_app(self.settings.conf_path),
                      self.settings, self.logger)
            except BaseException:
                self.logger.exception('worker failed')
                status = 1
            finally:
                os._exit(status)
        self.children[pid] = time.time()

    def _install_stop_signals(self, sock):
        def stop(signum, frame):
            raise SystemExit(0)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def _stop(self, signum, frame):
        self.running = False
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _reap(self):
        deadline = time.time() + 10
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
