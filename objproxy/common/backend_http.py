"""Pooled keep-alive HTTP connections from the proxy and daemons to nodes.

Why not plain ``http.client``: a backend PUT must send ``Expect:
100-continue`` and learn whether the node will take the body before any of
it is sent (``http.client`` silently skips 1xx answers), and opening a new
TCP connection per request is what leaves Swift's replicator with
thousands of sockets in TIME_WAIT.  So connections here are pooled per
``ip:port`` and reused when the previous response was read to the end.

A node closes an idle keep-alive after its own ``keepalive_timeout`` (5 s
by default), so idle connections are dropped a little before that, and a
request whose reused connection turns out dead before any answer is sent
again once on a fresh connection (``ConnectionPool.call``): the node never
saw it, so the retry is safe.

All sockets are eventlet-green when the process is monkey-patched (the
server runner does that), so a slow node only blocks its own green thread.

Header blocks: the stdlib parses every header block (each request the
eventlet server reads, each answer ``http.client`` reads) with the
``email`` package, and that was ~10 % of the proxy's CPU on 4 KiB PUTs:
one request in, and a ``100 Continue`` plus a final answer from each of
three nodes.  ``parse_header_block`` builds the same ``HTTPMessage``
directly when every line is a plain ``Name: value`` line and hands anything
else (folded lines, lines that are not headers) to the ``email`` parser,
so the result never differs; ``install_header_parser`` (run on import,
like ``raise_header_limit``) makes the stdlib use it.
"""
import email.parser
import http.client
import re
import socket
import threading
import time
from urllib.parse import quote

from eventlet import Timeout

from objproxy.common.constraints import raise_header_limit
from objproxy.common.exceptions import ConnectionTimeout

raise_header_limit()  # node answers may carry 90 metadata headers

# Errors that mean "this node did not answer properly": try another one.
NODE_ERRORS = (OSError, http.client.HTTPException, ConnectionTimeout,
               socket.timeout, Timeout, ValueError)

# what the email parser takes as one complete header line: a name of
# printable characters but ':' (the same set it accepts), a colon, the rest
SIMPLE_HEADER = re.compile(r'([\x21-\x39\x3b-\x7e]+):(.*)\r?\n\Z',
                           re.DOTALL)
STDLIB_PARSE_HEADERS = http.client.parse_headers


def parse_header_block(fp, _class=http.client.HTTPMessage):
    """``http.client.parse_headers`` without the ``email`` parser for the
    usual case; same limits (line length, header count), same message."""
    lines = http.client._read_headers(fp)
    msg = None
    text = [line.decode('iso-8859-1') for line in lines]
    pairs = []
    for line in text:
        if line in ('\r\n', '\n', ''):
            break
        match = SIMPLE_HEADER.match(line)
        if match is None or line.startswith('From '):
            pairs = None  # folded or odd: the email parser decides
            break
        # as the email parser's compat32 policy: leading blanks and the
        # line end go, anything else of the value stays
        pairs.append((match.group(1),
                      match.group(2).lstrip(' \t').rstrip('\r\n')))
    if pairs is None:
        return email.parser.Parser(_class=_class).parsestr(''.join(text))
    msg = _class()
    for name, value in pairs:
        msg[name] = value
    msg.set_payload('')
    return msg


def install_header_parser():
    """Make http.client (and the http.server/eventlet request parsing that
    calls it) use ``parse_header_block``."""
    http.client.parse_headers = parse_header_block


install_header_parser()

DEFAULT_POOL_SIZE = 16
# What may stand unencoded in a query string (RFC 3986 query characters).
QUERY_SAFE = "!$&'()*+,;=:@/?%~"
# Below the servers' default keepalive_timeout (5 s, objproxy.common.wsgi).
DEFAULT_IDLE_TIMEOUT = 4.0
# What a keep-alive connection the node already closed looks like.
STALE_ERRORS = (ConnectionResetError, BrokenPipeError,
                http.client.BadStatusLine)


class BackendResponse(http.client.HTTPResponse):
    """A response that can read an interim ``100 Continue`` by itself."""

    def expect_response(self):
        """Read the next status line: 100 (and stay open) or the final one."""
        version, status, reason = self._read_status()
        if status == 100:
            http.client._read_headers(self.fp)  # skip the 100's header block
            self.status = 100
            self.reason = reason.strip()
            return self
        # A final answer came instead (e.g. 507, 409): let begin() finish
        # parsing it from the status line we already consumed.
        already = (version, status, reason)
        self._read_status = lambda: already
        self.begin()
        return self


class BackendConnection(http.client.HTTPConnection):
    """One keep-alive connection to a storage node."""

    response_class = BackendResponse

    def __init__(self, host, port, timeout=None):
        super().__init__(host, port, timeout=timeout)
        self.pool = None
        self.last_used = time.time()
        self.was_pooled = False  # True once it has idled in the pool

    def begin_request(self, method, path, headers=None, query_string=None,
                      chunked=False):
        """Send the request line and headers; the body is sent separately."""
        url = quote(path, safe='/:')
        if query_string:
            # callers pass percent-encoded queries; anything else is encoded
            # here so no request line can carry raw bytes or CR/LF
            url += '?' + quote(query_string, safe=QUERY_SAFE)
        self.putrequest(method, url, skip_host=True,
                        skip_accept_encoding=True)
        self.putheader('Host', '%s:%s' % (self.host, self.port))
        for name, value in (headers or {}).items():
            self.putheader(name, str(value))
        if chunked:
            self.putheader('Transfer-Encoding', 'chunked')
        self.endheaders()

    def expect_continue(self):
        """Wait for the node's ``100 Continue`` (or its early final answer)."""
        resp = self.response_class(self.sock, method=self._method)
        return resp.expect_response()

    def send_chunk(self, data):
        """Send one chunk of a chunked body (an empty one ends the body)."""
        if data:
            self.sock.sendall(b'%x\r\n%s\r\n' % (len(data), data))
        else:
            self.sock.sendall(b'0\r\n\r\n')

    def release(self, response=None):
        """Return to the pool if the exchange finished cleanly, else close."""
        reusable = (response is not None and response.isclosed() and
                    not response.will_close and self.pool is not None and
                    self.sock is not None)
        if reusable:
            self.last_used = time.time()
            self.was_pooled = True
            self.pool.put(self)
        else:
            self.close()


class ConnectionPool(object):
    """Idle keep-alive connections per ``(ip, port)``."""

    def __init__(self, max_idle=DEFAULT_POOL_SIZE,
                 idle_timeout=DEFAULT_IDLE_TIMEOUT):
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._idle = {}
        self._lock = threading.Lock()
        self.opened = 0  # how many TCP connections were ever created

    def get(self, ip, port, conn_timeout=0.5, node_timeout=10, fresh=False):
        """A connection to ip:port: an idle one, or a new one if ``fresh``
        (which also drops the idle ones, likely as dead as the one that
        just failed)."""
        key = (ip, int(port))
        now = time.time()
        with self._lock:
            if fresh:
                for conn in self._idle.pop(key, []):
                    conn.close()
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if now - conn.last_used < self.idle_timeout and conn.sock:
                    conn.sock.settimeout(node_timeout)
                    conn.timeout = node_timeout
                    return conn
                conn.close()
        conn = BackendConnection(ip, int(port), timeout=conn_timeout)
        conn.pool = self
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise ConnectionTimeout('connect to %s:%s timed out'
                                    % (ip, port))
        conn.sock.settimeout(node_timeout)
        conn.timeout = node_timeout
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return conn

    def call(self, node, conn_timeout, node_timeout, exchange):
        """``exchange(conn)`` on a connection to ``node``; once more on a
        fresh connection if a reused one turns out to be dead.

        ``exchange`` must close the connection when it raises.
        """
        conn = self.get(node['ip'], node['port'], conn_timeout, node_timeout)
        try:
            return exchange(conn)
        except STALE_ERRORS:
            conn.close()
            if not conn.was_pooled:
                raise
        conn = self.get(node['ip'], node['port'], conn_timeout, node_timeout,
                        fresh=True)
        return exchange(conn)

    def put(self, conn):
        key = (conn.host, conn.port)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def close_all(self):
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def request(pool, node, method, path, headers=None, query_string=None,
            body=None, conn_timeout=0.5, node_timeout=10):
    """One simple request with a small (or no) body; returns status,
    headers (lower-cased dict) and the whole body.  For metadata requests
    only: streaming callers use ``pool.call`` and the connection methods.
    """
    headers = dict(headers or {})
    if body is not None:
        headers['Content-Length'] = str(len(body))

    def exchange(conn):
        try:
            conn.begin_request(method, path, headers, query_string)
            if body:
                conn.sock.sendall(body)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            conn.close()
            raise
        conn.release(resp)
        return (resp.status,
                dict((k.lower(), v) for k, v in resp.getheaders()), data)

    return pool.call(node, conn_timeout, node_timeout, exchange)
