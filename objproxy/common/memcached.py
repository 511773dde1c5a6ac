"""A small memcached client (text protocol) shared by the proxy filters.

Why our own: tempauth tokens and ratelimit counters must be shared between
proxy workers and between proxies, and the filters need exactly a handful of
commands (get/set/add/incr/decr/delete with a TTL).  The client

* spreads keys over several servers by consistent hashing (adding a server
  moves only about 1/N of the keys);
* keeps up to 16 idle connections per server (enough for a busy
  worker: fewer made each request under load open and close one);
* uses eventlet's green sockets, so a slow memcached never blocks the hub,
  with short connect and I/O timeouts;
* when a server fails, raises :class:`MemcacheConnectionError` (callers
  catch it, log it and carry on) and then refuses to contact that server
  again until a short back-off has passed, so a dead memcached costs one
  timeout per back-off window, not one per request.

Values are stored as JSON (flag 2); counters written by ``incr``/``decr``
are plain decimal text, which JSON reads back as numbers.

Processes share one client per ``memcache_servers`` value through
:func:`get_client`; ``env['swift.cache']`` carries it between filters.
"""
import bisect
import collections
import hashlib
import json
import time

from eventlet.green import socket

from objproxy.common.exceptions import ConfigError

JSON_FLAG = 2
# memcached treats expiry times above 30 days as absolute unix times.
RELATIVE_TTL_LIMIT = 30 * 24 * 3600
POINTS_PER_SERVER = 160
DEFAULT_PORT = 11211


class MemcacheConnectionError(Exception):
    """A memcached server could not be reached or did not answer in time."""


class MemcacheProtocolError(MemcacheConnectionError):
    """The server sent something we did not understand (connection dropped)."""


def parse_servers(servers):
    """``'host:port, host2'`` (or a list) -> list of ``(host, port)``."""
    if isinstance(servers, str):
        servers = [s for s in servers.replace(' ', ',').split(',') if s]
    result = []
    for server in servers:
        server = server.strip()
        if server.startswith('['):           # [ipv6]:port
            host, _, rest = server[1:].partition(']')
            port = rest.lstrip(':') or DEFAULT_PORT
        elif server.count(':') == 1:
            host, port = server.split(':')
        else:
            host, port = server, DEFAULT_PORT
        try:
            port = int(port)
        except ValueError:
            raise ValueError('bad memcache server %r' % server)
        result.append((host, port))
    if not result:
        raise ValueError('no memcache servers given')
    return result


class _Server(object):
    """One memcached server: its idle connections and its back-off state."""

    def __init__(self, host, port, max_idle, connect_timeout, io_timeout,
                 retry_interval):
        self.host = host
        self.port = port
        self.name = '%s:%d' % (host, port)
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.retry_interval = retry_interval
        self.idle = collections.deque()
        self.down_until = 0.0

    def checkout(self):
        now = time.time()
        if now < self.down_until:
            raise MemcacheConnectionError(
                'memcached %s is marked down for another %.1fs'
                % (self.name, self.down_until - now))
        if self.idle:
            return self.idle.pop()
        try:
            sock = socket.create_connection((self.host, self.port),
                                            timeout=self.connect_timeout)
            sock.settimeout(self.io_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, socket.timeout) as err:
            self.mark_down()
            raise MemcacheConnectionError(
                'cannot connect to memcached %s: %s' % (self.name, err))
        return (sock, sock.makefile('rb'))

    def checkin(self, conn):
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            _close(conn)

    def mark_down(self):
        self.down_until = time.time() + self.retry_interval
        while self.idle:
            _close(self.idle.pop())


def _close(conn):
    for part in (conn[1], conn[0]):
        try:
            part.close()
        except OSError:
            pass


class MemcacheClient(object):
    """Client for one or more memcached servers (see the module docstring)."""

    def __init__(self, servers, connect_timeout=0.3, io_timeout=1.0,
                 max_idle=16, retry_interval=5.0):
        self.servers = [
            _Server(host, port, max_idle, connect_timeout, io_timeout,
                    retry_interval)
            for host, port in parse_servers(servers)]
        self._ring = []
        for index, server in enumerate(self.servers):
            for point in range(POINTS_PER_SERVER):
                digest = hashlib.md5(
                    ('%s-%d' % (server.name, point)).encode()).digest()
                self._ring.append((int.from_bytes(digest[:8], 'big'), index))
        self._ring.sort()
        self._points = [p for p, _ in self._ring]

    # -- key placement -------------------------------------------------
    @staticmethod
    def _key(key):
        """Any text key -> a memcached-safe key (no spaces, short)."""
        if isinstance(key, str):
            key = key.encode('utf-8')
        return hashlib.md5(key).hexdigest()

    def server_for(self, key):
        point = int.from_bytes(
            hashlib.md5(self._key(key).encode()).digest()[:8], 'big')
        pos = bisect.bisect(self._points, point) % len(self._ring)
        return self.servers[self._ring[pos][1]]

    # -- one request/response exchange ---------------------------------
    def _call(self, key, command, reader):
        server = self.server_for(key)
        for attempt in (1, 2):
            reused = bool(server.idle)
            conn = server.checkout()
            try:
                conn[0].sendall(command)
                result = reader(conn[1])
            except (OSError, socket.timeout, ValueError,
                    MemcacheConnectionError) as err:
                _close(conn)
                if reused and attempt == 1 and isinstance(
                        err, (MemcacheProtocolError, BrokenPipeError,
                              ConnectionResetError)):
                    # an idle pooled connection went stale (memcached
                    # restarted): try once more on a fresh one
                    continue
                server.mark_down()
                if isinstance(err, MemcacheConnectionError):
                    raise
                raise MemcacheConnectionError(
                    'memcached %s failed: %s'
                    % (server.name, err or 'timeout'))
            server.checkin(conn)
            return result

    @staticmethod
    def _line(rfile):
        line = rfile.readline()
        if not line.endswith(b'\r\n'):
            raise MemcacheProtocolError(
                'connection closed by memcached' if not line else
                'truncated reply from memcached')
        if line.startswith((b'ERROR', b'CLIENT_ERROR', b'SERVER_ERROR')):
            raise MemcacheProtocolError(
                'memcached said %s' % line.strip().decode('ascii', 'replace'))
        return line[:-2]

    @staticmethod
    def _ttl(ttl):
        ttl = int(ttl or 0)
        if ttl > RELATIVE_TTL_LIMIT:
            ttl += int(time.time())
        return max(ttl, 0)

    # -- public commands -----------------------------------------------
    def get(self, key):
        """The stored value (JSON decoded), or None when absent."""
        mkey = self._key(key)

        def read(rfile):
            value = None
            while True:
                line = self._line(rfile)
                if line == b'END':
                    return value
                parts = line.split()
                if len(parts) != 4 or parts[0] != b'VALUE':
                    raise MemcacheProtocolError('unexpected reply %r' % line)
                flags, size = int(parts[2]), int(parts[3])
                data = rfile.read(size + 2)
                if len(data) != size + 2:
                    raise MemcacheProtocolError('short value from memcached')
                data = data[:-2]
                if flags & JSON_FLAG:
                    value = json.loads(data.decode('utf-8'))
                else:
                    try:
                        value = int(data)
                    except ValueError:
                        value = data
        return self._call(key, b'get ' + mkey.encode() + b'\r\n', read)

    def _store(self, verb, key, value, ttl):
        data = json.dumps(value).encode('utf-8')
        command = b'%s %s %d %d %d\r\n%s\r\n' % (
            verb, self._key(key).encode(), JSON_FLAG, self._ttl(ttl),
            len(data), data)
        return self._call(key, command, self._line)

    def set(self, key, value, ttl=0):
        """Store ``value`` (any JSON-able object) for ``ttl`` seconds."""
        return self._store(b'set', key, value, ttl) == b'STORED'

    def add(self, key, value, ttl=0):
        """Store only if absent; True when stored."""
        return self._store(b'add', key, value, ttl) == b'STORED'

    def incr(self, key, delta=1, ttl=0):
        """Add ``delta`` (may be negative) and return the new value.

        A missing key starts at ``delta`` (floored at 0), created with
        ``ttl``; memcached itself floors decrements at 0.
        """
        delta = int(delta)
        verb = b'incr' if delta >= 0 else b'decr'
        command = b'%s %s %d\r\n' % (verb, self._key(key).encode(),
                                    abs(delta))
        reply = self._call(key, command, self._line)
        if reply == b'NOT_FOUND':
            start = max(delta, 0)
            if self.add(key, start, ttl):
                return start
            # somebody else created it meanwhile: apply our delta to theirs
            reply = self._call(key, command, self._line)
            if reply == b'NOT_FOUND':
                raise MemcacheProtocolError('counter %r vanished' % key)
        try:
            return int(reply)
        except ValueError:
            raise MemcacheProtocolError('counter %r is not a number' % key)

    def decr(self, key, delta=1, ttl=0):
        return self.incr(key, -int(delta), ttl)

    def delete(self, key):
        """True when something was deleted."""
        command = b'delete ' + self._key(key).encode() + b'\r\n'
        return self._call(key, command, self._line) == b'DELETED'


_clients = {}


def get_client(servers, **kwargs):
    """The process-wide client for this ``memcache_servers`` value."""
    key = (','.join('%s:%d' % hp for hp in parse_servers(servers)),
           tuple(sorted(kwargs.items())))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = MemcacheClient(servers, **kwargs)
    return client


def client_from_conf(conf):
    """The shared client named by ``memcache_servers`` in conf, or None."""
    servers = (conf or {}).get('memcache_servers', '').strip()
    if not servers:
        return None
    try:
        return get_client(servers)
    except ValueError as err:
        raise ConfigError('memcache_servers: %s' % err)
