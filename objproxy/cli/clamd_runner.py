"""Run a private clamd as a foreground child process.

The all-in-one command and the test fixtures need a clamd that belongs to
them: its own config, sockets, signature directory and log under one run
directory, started and stopped with the parent, never touching the
system's clamd.  clamd is started with ``Foreground yes`` so the child we
spawn *is* the daemon (no double fork, no pid file to chase) and
``stop()`` can always reap it.

Signatures: unless told otherwise the runner copies the project's tiny
database (``objproxy/data/clamav``: an MD5 signature and a body signature
of the EICAR test file) into ``<run_dir>/db``.  clamd starts with just
those two files in well under a second.  Point ``database_dir`` at the
official database (e.g. ``/var/lib/clamav``) to scan for real.

Size limits: ``StreamMaxLength``, ``MaxFileSize`` and ``MaxScanSize`` are
all set to ``max_size``.  They must agree: clamd answers ``OK`` *without
scanning* a stream larger than MaxFileSize that still fits under
StreamMaxLength, which would turn a size limit into a silent bypass.

Privileges: clamd runs fine as root without a ``User`` line (it only
drops privileges when told to), and as an ordinary user a ``User`` line
would make it fail, so none is written.

Usage::

    proc = ClamdProcess(run_dir, tcp_port=0)
    proc.start()            # returns once clamd answers PING
    ... proc.socket_path / proc.tcp_host, proc.tcp_port ...
    proc.add_signatures('extra.ndb', text)  # RELOADs clamd, waits for it
    proc.stop()

``python -m objproxy.cli.clamd_runner RUN_DIR [--tcp-port N]`` runs one
in the foreground until interrupted (handy for benchmarks).
"""
import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from objproxy.common.clamd import ClamdAddress, ClamdError

DEFAULT_MAX_SIZE = 512 * 1024 * 1024
SIGNATURE_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'data', 'clamav')
_CLAMD_CANDIDATES = ('/usr/sbin/clamd', '/usr/local/sbin/clamd',
                     '/usr/bin/clamd')
_PR_SET_PDEATHSIG = 1


class ClamdNotFound(RuntimeError):
    """There is no clamd binary to run."""


def find_clamd(clamd_bin=None):
    """Path of the clamd binary, or ClamdNotFound."""
    if clamd_bin:
        if os.access(clamd_bin, os.X_OK):
            return clamd_bin
        raise ClamdNotFound('clamd not found at %s: apt-get install '
                            'clamav-daemon' % clamd_bin)
    found = shutil.which('clamd')
    if found:
        return found
    for candidate in _CLAMD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise ClamdNotFound('clamd not found: apt-get install clamav-daemon')


def write_clamd_config(path, socket_path, database_dir, temporary_directory,
                       log_file, tcp_port=None, tcp_host='127.0.0.1',
                       max_size=DEFAULT_MAX_SIZE, max_threads=20):
    """Write a private foreground clamd.conf to ``path``; returns its text.

    ``tcp_port=None`` listens on the unix socket only.  The three size
    limits are set to the same ``max_size`` (see the module docstring).
    """
    lines = [
        '# Written by objproxy.cli.clamd_runner; regenerated on each start.',
        'Foreground yes',
        'LocalSocket %s' % socket_path,
        'LocalSocketMode 600',
        'DatabaseDirectory %s' % database_dir,
        'TemporaryDirectory %s' % temporary_directory,
        'LogFile %s' % log_file,
        'LogTime yes',
        'StreamMaxLength %d' % max_size,
        'MaxFileSize %d' % max_size,
        'MaxScanSize %d' % max_size,
        'MaxThreads %d' % max_threads,
        'SelfCheck 3600',
    ]
    if tcp_port is not None:
        lines += ['TCPSocket %d' % tcp_port, 'TCPAddr %s' % tcp_host]
    text = '\n'.join(lines) + '\n'
    with open(path, 'w') as conf:
        conf.write(text)
    return text


def free_port(host='127.0.0.1'):
    """A TCP port the OS just reported free on ``host``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _die_with_parent():
    """In the child: get SIGTERM if the parent dies, so no clamd leaks.

    Also clears any signal mask inherited from the parent (``main`` blocks
    SIGTERM for sigwait), so ``stop()`` can always terminate clamd.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class ClamdProcess(object):
    """One private clamd, configured and supervised from ``run_dir``."""

    def __init__(self, run_dir, tcp_port=None, max_size=DEFAULT_MAX_SIZE,
                 database_dir=None, clamd_bin=None, temp_dir=None):
        """``temp_dir``: where clamd spools each INSTREAM before scanning
        it (default ``<run_dir>/tmp``).  clamd writes every scanned byte
        there, so on the storage disk it competes with the replicas'
        writes; a tmpfs such as /dev/shm avoids that, at the cost of RAM
        for the streams being scanned."""
        self.run_dir = os.path.abspath(run_dir)
        self.temp_dir = temp_dir
        self.requested_tcp_port = tcp_port
        self.max_size = int(max_size)
        self.database_dir = database_dir
        self.clamd_bin = clamd_bin
        self.socket_path = os.path.join(self.run_dir, 'clamd.sock')
        self.conf_path = os.path.join(self.run_dir, 'clamd.conf')
        self.log_path = os.path.join(self.run_dir, 'clamd.log')
        self.stderr_path = os.path.join(self.run_dir, 'clamd.stderr')
        self.tcp_host = '127.0.0.1' if tcp_port is not None else None
        self.tcp_port = None
        self.process = None
        self.startup_seconds = None
        self._private_tmp = None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def db_dir(self):
        """The signature directory clamd loads (DatabaseDirectory)."""
        if self.database_dir:
            return os.path.abspath(self.database_dir)
        return os.path.join(self.run_dir, 'db')

    def add_signatures(self, name, text):
        """Write a signature file (``name`` ending .ndb, .hdb ...) into
        the database directory and, when clamd is running, have it load
        the changed database (``reload``).  Returns its path."""
        os.makedirs(self.db_dir, exist_ok=True)
        path = os.path.join(self.db_dir, os.path.basename(name))
        with open(path, 'w') as fh:
            fh.write(text)
        if self.is_running():
            self.reload()
        return path

    def reload(self, timeout=30):
        """Ask clamd to RELOAD its signature database and return once its
        log says the new one is active: clamd keeps scanning with the
        old signatures until then, so a scan right after RELOAD would
        still miss what was just added.  No restart: clients keep their
        connections and the private temp dir stays."""
        try:
            offset = os.path.getsize(self.log_path)
        except FileNotFoundError:
            offset = 0
        self.address(timeout=5).reload()
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, 'rb') as log:
                log.seek(offset)
                text = log.read()
            if b'Activating the newly loaded database' in text:
                return
            if not self.is_running():
                raise RuntimeError('clamd died while reloading its '
                                   'signatures: %s' % self._tail())
            if time.monotonic() > deadline:
                raise RuntimeError('clamd did not reload its signatures '
                                   'within %ss: %s' % (timeout, self._tail()))
            time.sleep(0.02)

    def restart(self, timeout=30):
        """Stop and start again (same socket and TCP port)."""
        self.stop()
        return self.start(timeout=timeout)

    def address(self, timeout=10.0):
        """A ClamdAddress for the unix socket."""
        return ClamdAddress(socket_path=self.socket_path, timeout=timeout)

    def _prepare(self):
        os.makedirs(self.run_dir, exist_ok=True)
        if len(self.socket_path.encode()) > 107:
            raise RuntimeError('clamd socket path too long for a unix '
                               'socket: %s' % self.socket_path)
        db_dir = self.db_dir
        if not self.database_dir:
            os.makedirs(db_dir, exist_ok=True)
            for name in sorted(os.listdir(SIGNATURE_DIR)):
                if name.endswith(('.hdb', '.ndb')):
                    shutil.copyfile(os.path.join(SIGNATURE_DIR, name),
                                    os.path.join(db_dir, name))
        if self.temp_dir:
            os.makedirs(self.temp_dir, exist_ok=True)
            tmp_dir = tempfile.mkdtemp(prefix='objproxy-clamd-',
                                       dir=self.temp_dir)
            self._private_tmp = tmp_dir
        else:
            tmp_dir = os.path.join(self.run_dir, 'tmp')
            os.makedirs(tmp_dir, exist_ok=True)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # stale from a killed run
        if self.requested_tcp_port == 0:
            # Chosen once: a restarted clamd keeps the address clients
            # were given.
            if self.tcp_port is None:
                self.tcp_port = free_port(self.tcp_host)
        else:
            self.tcp_port = self.requested_tcp_port
        write_clamd_config(self.conf_path, self.socket_path, db_dir,
                           tmp_dir, self.log_path, tcp_port=self.tcp_port,
                           tcp_host=self.tcp_host or '127.0.0.1',
                           max_size=self.max_size)

    def start(self, timeout=30):
        """Start clamd and return once it answers PING (or raise).

        Also restarts a clamd that died: the dead process is reaped and
        its private temp dir removed, then a new one listens on the same
        socket path and TCP port (a port picked with ``tcp_port=0`` is
        kept), so clients configured with the old address reach it.
        """
        if self.process is not None:
            if self.process.poll() is None:
                return self
            self.stop()
        binary = find_clamd(self.clamd_bin)
        self._prepare()
        started = time.monotonic()
        with open(self.stderr_path, 'wb') as stderr:
            self.process = subprocess.Popen(
                [binary, '-c', self.conf_path], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, close_fds=True,
                preexec_fn=_die_with_parent)
        address = self.address(timeout=1.0)
        deadline = started + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise RuntimeError('clamd exited with status %s during '
                                   'startup: %s' % (code, self._tail()))
            if os.path.exists(self.socket_path):
                try:
                    address.ping()
                    break
                except ClamdError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('clamd did not answer PING within %ss: %s'
                                   % (timeout, self._tail()))
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL if needed.  Safe to call repeatedly."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        else:
            proc.wait()
        if self._private_tmp:
            shutil.rmtree(self._private_tmp, ignore_errors=True)
            self._private_tmp = None

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def _tail(self, lines=15):
        """The end of clamd's stderr and log, for error messages."""
        parts = []
        for path in (self.stderr_path, self.log_path):
            try:
                with open(path, 'rb') as fh:
                    fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, fh.tell() - 4096))
                    text = fh.read().decode('utf-8', 'replace')
            except OSError:
                continue
            text = '\n'.join(text.strip().splitlines()[-lines:])
            if text:
                parts.append('%s:\n%s' % (os.path.basename(path), text))
        return '\n'.join(parts) or '(no output)'

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a private clamd in the foreground.')
    parser.add_argument('run_dir')
    parser.add_argument('--tcp-port', type=int, default=None,
                        help='also listen on 127.0.0.1:PORT (0: any free)')
    parser.add_argument('--max-size', type=int, default=DEFAULT_MAX_SIZE)
    parser.add_argument('--database-dir', default=None)
    args = parser.parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM])
    proc = ClamdProcess(args.run_dir, tcp_port=args.tcp_port,
                        max_size=args.max_size,
                        database_dir=args.database_dir)
    try:
        proc.start()
    except (ClamdNotFound, RuntimeError) as err:
        print(err, file=sys.stderr)
        return 1
    print('clamd pid %d socket %s%s (ready in %.2fs)' % (
        proc.pid, proc.socket_path,
        ' tcp %s:%d' % (proc.tcp_host, proc.tcp_port)
        if proc.tcp_port else '', proc.startup_seconds), flush=True)
    try:
        signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        proc.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
