"""Talking to clamd: pyclamd for the one-shot commands, plus our own
incremental INSTREAM writer and the clamd.conf / fingerprint helpers.

pyclamd (a product dependency) gives the connection settings (unix socket
or host + port) and the one-shot commands: ``PING``, ``VERSION``,
``RELOAD`` and ``SCAN`` of a file clamd can read itself.  It is loaded
through ``eventlet.import_patched`` so its sockets and its retry sleep
are green in every process, monkey-patched or not: a slow or hung clamd
parks only the green thread that asked.  pyclamd's timeout applies to
each socket call (and its reader retries), so every command also runs
under one ``eventlet.Timeout`` for the whole exchange.

pyclamd cannot feed INSTREAM from a generator: it wants the whole buffer
up front, and sends with ``socket.send`` (a partial send under a timeout
would corrupt the framing).  Uploads pass through the proxy chunk by
chunk, so the streaming writer is ours: every write goes through
``sendall``, chunks are split to a bounded size, and when clamd closes the
stream early (``INSTREAM size limit exceeded. ERROR``) the reply it left
on the socket is read and reported instead of a bare ``EPIPE``.

The INSTREAM protocol (see ``man clamd``)::

    zINSTREAM\\0
    <4-byte big-endian length><bytes>    (repeated)
    \\0\\0\\0\\0                             (end of stream)
    -> "stream: OK\\0" | "stream: <NAME> FOUND\\0" | "... ERROR\\0"

clamd only scans once the terminator arrives, so the verdict is known only
after the whole body has been sent.
"""
import base64
import errno
import hashlib
import os
import re
import struct
import time
from collections import namedtuple

import eventlet
from eventlet.green import socket

from objproxy.common.exceptions import ConfigError, ObjproxyError

#: pyclamd with green sockets and a green ``time.sleep``.
pyclamd = eventlet.import_patched('pyclamd.pyclamd')

#: Largest piece sent in one INSTREAM frame; big reads are split.
MAX_FRAME = 1024 * 1024

# clamd's own defaults when a clamd.conf does not set these.
CLAMD_DEFAULTS = {
    'StreamMaxLength': 25 * 1024 * 1024,
    'MaxFileSize': 100 * 1024 * 1024,
    'MaxScanSize': 400 * 1024 * 1024,
}

#: The standard anti-virus test file (68 bytes).  Kept base64-encoded so
#: that this source file itself never matches a signature; used by the
#: self-tests, the test suite and the benchmark.
EICAR_TEST_FILE = base64.b64decode(
    'WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJV'
    'Uy1URVNULUZJTEUhJEgrSCo=')


class ClamdError(ObjproxyError):
    """clamd could not give a verdict (unreachable, timeout, ERROR reply)."""


class ClamdUnavailable(ClamdError):
    """Connecting to clamd failed; nothing was sent."""


class ClamdLimitExceeded(ClamdError):
    """clamd refused the stream as longer than its StreamMaxLength."""


class ClamdCannotRead(ClamdError):
    """clamd was asked to SCAN a file it cannot open."""


_LOOPBACK = frozenset(('127.0.0.1', '::1', 'localhost'))
#: SCAN errors that mean "clamd cannot see or open this file".
_CANNOT_READ_RE = re.compile(r'Access denied|Permission denied|lstat\(\) '
                             r'failed|No such file|Can\'t open', re.I)


Verdict = namedtuple('Verdict', 'status signature reply')
Verdict.__doc__ = """clamd's answer to one stream.

``status`` is ``'OK'`` or ``'FOUND'``; ``signature`` names the match for
FOUND; ``reply`` is clamd's text as received.  An ``ERROR`` answer is never
a Verdict: it raises ClamdError, because it says nothing about the data.
"""


def parse_reply(raw):
    """Turn clamd's reply to INSTREAM into a Verdict, or raise ClamdError."""
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8', 'replace')
    text = raw.strip('\x00\r\n ')
    if not text:
        raise ClamdError('clamd closed the stream without a verdict')
    if 'size limit exceeded' in text:
        raise ClamdLimitExceeded('clamd: %s' % text)
    _, sep, rest = text.partition(': ')
    if not sep:
        # "INSTREAM size limit exceeded. ERROR" has no "stream:" prefix;
        # anything else without one is not a verdict either.
        raise ClamdError('clamd: unexpected reply %r' % text)
    if rest == 'OK':
        return Verdict('OK', None, text)
    if rest.endswith(' FOUND'):
        return Verdict('FOUND', rest[:-len(' FOUND')].strip(), text)
    raise ClamdError('clamd: %s' % text)


class ClamdAddress(object):
    """Where clamd listens: a unix socket path, or TCP host and port."""

    def __init__(self, socket_path=None, host=None, port=None, timeout=10.0):
        if not socket_path and not (host and port):
            raise ConfigError('clamd needs a unix socket path or host + port')
        self.socket_path = socket_path or None
        self.host = None if self.socket_path else host
        self.port = None if self.socket_path else int(port)
        self.timeout = timeout

    def __str__(self):
        if self.socket_path:
            return 'unix:%s' % self.socket_path
        return 'tcp:%s:%d' % (self.host, self.port)

    def connect(self, timeout=None):
        """A connected green socket, or ClamdUnavailable."""
        timeout = self.timeout if timeout is None else timeout
        if self.socket_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = self.socket_path
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (self.host, self.port)
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except (OSError, socket.timeout) as err:
            sock.close()
            raise ClamdUnavailable('cannot reach clamd at %s: %s'
                                   % (self, err))
        return sock

    def client(self, timeout=None):
        """A pyclamd client for this address.  Made without pyclamd's
        constructor, which opens and closes a connection just to check
        the address: every command connects anyway, and a health check
        should cost clamd one connection, not two."""
        if self.socket_path:
            client = object.__new__(pyclamd.ClamdUnixSocket)
            client.unix_socket = self.socket_path
        else:
            client = object.__new__(pyclamd.ClamdNetworkSocket)
            client.host, client.port = self.host, self.port
        client.timeout = self.timeout if timeout is None else timeout
        client.clamd_socket = None
        return client

    @property
    def is_local(self):
        """Whether clamd runs on this host (so it may read our files)."""
        return bool(self.socket_path) or self.host in _LOOPBACK

    def _ask(self, what, call, timeout=None):
        """``call(client)`` with a pyclamd client for this address, all
        of it (connecting included) within ``timeout`` seconds.

        ClamdUnavailable when clamd cannot be reached or does not answer.
        """
        timeout = self.timeout if timeout is None else timeout
        client = None
        deadline = eventlet.Timeout(timeout)
        try:
            client = self.client(timeout)
            return call(client)
        except eventlet.Timeout as err:
            if err is not deadline:
                raise
            raise ClamdUnavailable('clamd at %s did not answer %s within '
                                   '%ss' % (self, what, timeout))
        except (pyclamd.ConnectionError, OSError) as err:
            raise ClamdUnavailable('clamd at %s does not answer %s: %s'
                                   % (self, what, err))
        finally:
            deadline.cancel()
            if client is not None and client.clamd_socket is not None:
                client.clamd_socket.close()  # pyclamd leaves it on ERROR

    def ping(self, timeout=None):
        """True when clamd answers PONG; ClamdUnavailable otherwise."""
        return self._ask('PING', lambda client: client.ping(), timeout)

    def version(self, timeout=None):
        """clamd's VERSION text, e.g. ``ClamAV 1.4.6/27500/<db date>``."""
        text = self._ask('VERSION', lambda client: client.version(),
                         timeout)
        if not text:
            raise ClamdUnavailable('clamd at %s closed the connection '
                                   'without answering VERSION' % self)
        if not text.startswith('ClamAV'):
            raise ClamdError('clamd at %s: unexpected VERSION reply %r'
                             % (self, text))
        return text

    def reload(self, timeout=None):
        """Ask clamd to load its signature database again.  clamd only
        starts the reload (it answers ``RELOADING``) and keeps scanning
        with the old signatures until the new ones are in."""
        text = self._ask('RELOAD', lambda client: client.reload(), timeout)
        if text != 'RELOADING':
            raise ClamdError('clamd at %s: unexpected RELOAD reply %r'
                             % (self, text))

    def scan_file(self, path, timeout=None):
        """clamd's Verdict on the file at ``path``, read by clamd itself.

        ClamdCannotRead when clamd answers it cannot open the file (other
        user, other host, other mount namespace): the caller streams it.
        """
        result = self._ask('SCAN', lambda client: client.scan_file(path),
                           timeout)
        if not result:
            return Verdict('OK', None, '%s: OK' % path)
        status, reason = result.get(path) or next(iter(result.values()))
        if status == 'FOUND':
            return Verdict('FOUND', reason, '%s: %s FOUND' % (path, reason))
        if _CANNOT_READ_RE.search(reason):
            raise ClamdCannotRead('clamd at %s cannot read %s: %s'
                                  % (self, path, reason))
        raise ClamdError('clamd at %s: %s: %s ERROR' % (self, path, reason))

    def instream(self, scan_timeout=None):
        """Open an INSTREAM session (connects and sends the command)."""
        return InstreamWriter(self.connect(), scan_timeout=scan_timeout,
                              address=str(self))


class InstreamWriter(object):
    """One INSTREAM session: ``write()`` chunks, then ``finish()``.

    Memory stays O(frame): data is framed and handed to ``sendall`` piece
    by piece.  If clamd hangs up early the reply it sent before closing is
    read back, so the caller learns *why* (size limit, error) rather than
    getting a broken pipe.  ``close()`` is always safe to call.
    """

    def __init__(self, sock, scan_timeout=None, max_frame=MAX_FRAME,
                 address='clamd'):
        self.sock = sock
        self.scan_timeout = scan_timeout
        self.max_frame = max_frame
        self.address = address
        self.bytes_sent = 0
        self.finished = False
        try:
            self.sock.sendall(b'zINSTREAM\x00')
        except (OSError, socket.timeout) as err:
            self.close()
            raise ClamdUnavailable('clamd at %s refused INSTREAM: %s'
                                   % (address, err))

    def write(self, data):
        """Send ``data`` as one or more frames; raises ClamdError."""
        if self.sock is None:
            raise ClamdError('INSTREAM session to %s is closed'
                             % self.address)
        view = memoryview(data)
        while len(view):
            piece = view[:self.max_frame]
            view = view[self.max_frame:]
            header = struct.pack('!L', len(piece))
            try:
                if len(piece) <= 65536:
                    self.sock.sendall(header + piece.tobytes())
                else:
                    self.sock.sendall(header)
                    self.sock.sendall(piece)
            except socket.timeout:
                self.close()
                raise ClamdError('clamd at %s stopped accepting data '
                                 '(timeout)' % self.address)
            except OSError as err:
                self._raise_early_close(err)
            self.bytes_sent += len(piece)

    def finish(self):
        """Send the terminator and wait for the verdict; returns Verdict.

        With a ``scan_timeout``, sending the terminator and waiting for
        the answer together take at most that many seconds; a clamd that
        stops answering then raises ClamdError instead of holding the
        upload until some outer timeout blames the client.
        """
        if self.sock is None:
            raise ClamdError('INSTREAM session to %s is closed'
                             % self.address)
        deadline = None
        if self.scan_timeout is not None:
            deadline = time.monotonic() + self.scan_timeout
            current = self.sock.gettimeout()
            self.sock.settimeout(self.scan_timeout if current is None
                                 else min(current, self.scan_timeout))
        try:
            self.sock.sendall(struct.pack('!L', 0))
        except socket.timeout:
            self.close()
            raise ClamdError('clamd at %s stopped accepting data (timeout)'
                             % self.address)
        except OSError as err:
            self._raise_early_close(err)
        try:
            reply = self._read_reply(deadline=deadline)
        except socket.timeout:
            raise ClamdError('clamd at %s gave no verdict in time'
                             % self.address)
        except OSError as err:
            raise ClamdError('clamd at %s dropped the connection: %s'
                             % (self.address, err))
        finally:
            self.close()
        self.finished = True
        return parse_reply(reply)

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _read_reply(self, limit=4096, deadline=None):
        """Read up to clamd's NUL terminator (or EOF), by ``deadline``."""
        data = b''
        while b'\x00' not in data and len(data) < limit:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout('timed out')
                self.sock.settimeout(left)
            try:
                part = self.sock.recv(limit)
            except OSError as err:
                if data and err.errno == errno.ECONNRESET:
                    break
                raise
            if not part:
                break
            data += part
        return data.split(b'\x00', 1)[0]

    def _raise_early_close(self, err):
        """clamd hung up mid-stream: report its reason if it left one."""
        reply = b''
        try:
            self.sock.settimeout(1.0)
            reply = self._read_reply()
        except (OSError, socket.timeout):
            pass
        finally:
            self.close()
        if reply:
            parse_reply(reply)      # clamd's own error, if it sent one
            raise ClamdError('clamd at %s ended the stream early: %s'
                             % (self.address, reply.decode('utf-8',
                                                           'replace')))
        raise ClamdError('clamd at %s closed the stream: %s'
                         % (self.address, err))


# --- clamd.conf -----------------------------------------------------------

_SIZE_RE = re.compile(r'^\s*(\d+)\s*([kKmMgG]?)[bB]?\s*$')
_UNITS = {'': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3}


def parse_size(value, what='size'):
    """``'512M'`` / ``'25m'`` / ``'1048576'`` -> bytes (clamd's notation)."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ConfigError('%s must be a byte count like 26214400, 25M or '
                          '1G, not %r' % (what, value))
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def read_clamd_conf(path):
    """The settings of a clamd.conf as a dict (last value of a key wins).

    Sizes this module cares about are returned as ints with clamd's
    defaults filled in; everything else is the raw string.
    """
    settings = {}
    try:
        with open(path) as conf:
            for line in conf:
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                key, _, value = line.partition(' ')
                settings[key] = value.strip().strip('"')
    except OSError as err:
        raise ConfigError('cannot read clamd config %s: %s' % (path, err))
    if 'Example' in settings:
        raise ConfigError('clamd config %s still has the "Example" line; '
                          'clamd refuses to start with it' % path)
    for key, default in CLAMD_DEFAULTS.items():
        if key in settings:
            settings[key] = parse_size(settings[key], '%s %s' % (path, key))
        else:
            settings[key] = default
    return settings


# --- signature fingerprint ---------------------------------------------------

#: ``ClamAV 1.4.2/27500/Tue Dec  1 08:00:00 2026``: VERSION with a database
#: version (the official daily database is loaded).
_DB_VERSION_RE = re.compile(r'^ClamAV [^/]+/(\d+)/')
_DB_SUFFIXES = ('.cvd', '.cld', '.cud', '.hdb', '.hsb', '.hdu', '.hsu',
                '.mdb', '.msb', '.mdu', '.msu', '.ndb', '.ndu', '.ldb',
                '.ldu', '.idb', '.cdb', '.crb', '.cbc', '.pdb', '.gdb',
                '.wdb', '.ftm', '.fp', '.sfp', '.ign', '.ign2', '.info',
                '.yar', '.yara', '.pwdb', '.cat')


def database_digest(database_dir, _cache={}):
    """A digest of the signature files in ``database_dir`` (names, sizes
    and contents), e.g. ``db:3f2a...`` (16 hex digits).

    Blocking file reads: call it off the hub (``offload.run_in_thread``).
    The contents are only re-read when a file's name, size or mtime
    changed since the last call for that directory.
    """
    entries = []
    try:
        names = sorted(os.listdir(database_dir))
    except OSError as err:
        raise ClamdError('cannot list signature directory %s: %s'
                         % (database_dir, err))
    for name in names:
        if not name.lower().endswith(_DB_SUFFIXES):
            continue
        path = os.path.join(database_dir, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        entries.append((name, st.st_size, st.st_mtime_ns))
    key = tuple(entries)
    cached = _cache.get(database_dir)
    if cached and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    for name, size, _mtime in entries:
        digest.update(('%s\0%d\0' % (name, size)).encode('utf-8'))
        try:
            with open(os.path.join(database_dir, name), 'rb') as fh:
                for block in iter(lambda: fh.read(1024 * 1024), b''):
                    digest.update(block)
        except OSError as err:
            raise ClamdError('cannot read signature file %s: %s'
                             % (name, err))
    value = 'db:' + digest.hexdigest()[:16]
    _cache[database_dir] = (key, value)
    return value


def signature_fingerprint(version_text, database_dir=None, digest=None):
    """What makes a verdict current: clamd's VERSION answer when it names a
    database version, else a digest of the database files.

    ``digest`` (a callable taking the directory) defaults to
    database_digest; without a ``database_dir`` the VERSION text is all
    there is and is used as is.
    """
    if _DB_VERSION_RE.match(version_text or '') or not database_dir:
        return version_text
    return (digest or database_digest)(database_dir)
