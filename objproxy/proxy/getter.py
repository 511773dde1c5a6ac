"""Reading from the replicas: pick a good source, stream it, survive loss.

Reads try the primaries in ring order and then handoffs, and use the first
good answer.  Two refinements make that trustworthy:

* a 404 carrying a tombstone timestamp newer than a copy found later means
  that copy is stale, so it is skipped (``X-Newest`` asks every primary and
  takes the newest of all answers);
* if the node streaming an object body dies or stalls, the body continues
  from the next byte on another replica with a ``Range`` request pinned to
  the same ETag and timestamp, so the client never sees a truncated or
  spliced body.
"""
import re

from eventlet import GreenPile, Timeout

from objproxy.common.exceptions import ChunkReadTimeout
from objproxy.common.timestamp import Timestamp
from objproxy.common.backend_http import NODE_ERRORS
from objproxy.proxy.controllers.base import (
    NodeAnswer, best_response, client_headers, quorum_size)
from objproxy.common.response import Response, is_success

CONTENT_RANGE = re.compile(r'^bytes (\d+)-(\d+)/(\d+|\*)$')
GOOD_STATUSES = (304, 412, 416)
# Conditional headers must not be re-applied to a resumed body.
DROP_ON_RESUME = ('if-none-match', 'if-modified-since',
                  'if-unmodified-since', 'range', 'if-match')
TIMESTAMP_HEADERS = {
    'object': ('x-backend-timestamp', 'x-timestamp'),
    'container': ('x-backend-put-timestamp', 'x-put-timestamp',
                  'x-backend-timestamp', 'x-timestamp'),
    'account': ('x-backend-put-timestamp', 'x-put-timestamp',
                'x-backend-timestamp', 'x-timestamp'),
}


def header_timestamp(headers, names):
    for name in names:
        value = headers.get(name)
        if value:
            try:
                return Timestamp(value)
            except (ValueError, TypeError):
                continue
    return Timestamp(0)


class Source(object):
    """An open backend response we may stream to the client."""

    def __init__(self, node, conn, resp, headers, timestamp):
        self.node = node
        self.conn = conn
        self.resp = resp
        self.headers = headers
        self.status = resp.status
        self.timestamp = timestamp

    def close(self):
        self.conn.close()


class Getter(object):
    def __init__(self, controller, ring, part, path, method, headers,
                 query_string=None, newest=False, resumable=False):
        self.controller = controller
        self.app = controller.app
        self.ring = ring
        self.part = part
        self.path = path
        self.method = method
        self.headers = headers
        self.query_string = query_string
        self.newest = newest
        self.resumable = resumable and method == 'GET'
        self.server_type = controller.server_type.lower()
        self.ts_names = TIMESTAMP_HEADERS.get(self.server_type,
                                              TIMESTAMP_HEADERS['object'])
        self.nodes = controller.iter_nodes(ring, part)
        self.answers = []  # NodeAnswer per node that did not serve
        self.tombstone = None  # newest tombstone timestamp seen in a 404

    # ----- one node ----------------------------------------------------

    def _open(self, node, headers):
        """Ask one node; a Source for a good answer, else None."""
        app = self.app
        full = '/%s/%s%s' % (node['device'], self.part, self.path)
        method, query_string = self.method, self.query_string

        def exchange(conn):
            try:
                conn.begin_request(method, full, headers, query_string)
                resp = conn.getresponse()
                rheaders = dict((k.lower(), v) for k, v in resp.getheaders())
                status = resp.status
                if is_success(status) or status in GOOD_STATUSES:
                    return conn, resp, rheaders, status, None
                body = resp.read()
                conn.release(resp)
            except BaseException:
                conn.close()
                raise
            return None, resp, rheaders, status, body

        try:
            with Timeout(app.node_timeout):
                conn, resp, rheaders, status, body = app.pool.call(
                    node, app.conn_timeout, app.node_timeout, exchange)
        except NODE_ERRORS as err:
            app.error_limiter.error_occurred(
                node, '%s %s: %s' % (self.method, full,
                                     err or type(err).__name__))
            self.answers.append(None)
            return None
        if conn is not None:
            return Source(node, conn, resp, rheaders,
                          header_timestamp(rheaders, self.ts_names))
        app.error_limiter.answered(node, status, rheaders)
        if status == 404:
            ts = rheaders.get('x-backend-timestamp')
            if ts:
                try:
                    ts = Timestamp(ts)
                    if ts.raw and (self.tombstone is None or
                                   ts > self.tombstone):
                        self.tombstone = ts
                except ValueError:
                    pass
        self.answers.append(NodeAnswer(node, status, rheaders, body))
        return None

    def _stale(self, source):
        """True when a tombstone we saw is newer than this copy."""
        if self.tombstone is None or self.server_type != 'object':
            return False
        data_ts = header_timestamp(
            source.headers, ('x-backend-data-timestamp',) + self.ts_names)
        return data_ts < self.tombstone

    def _discard(self, source):
        source.close()
        self.answers.append(NodeAnswer(source.node, 404, {}, b''))

    # ----- finding a source ----------------------------------------------

    def find_source(self):
        if self.newest:
            return self._find_newest()
        for node in self.nodes:
            source = self._open(node, self.headers)
            if source is None:
                continue
            if self._stale(source):
                self._discard(source)
                continue
            return source
        return None

    def _find_newest(self):
        primaries = []
        replicas = self.ring.replica_count
        for node in self.nodes:
            primaries.append(node)
            if len(primaries) >= replicas:
                break
        pile = GreenPile(max(1, len(primaries)))
        for node in primaries:
            pile.spawn(self._open, node, self.headers)
        sources = [s for s in pile if s is not None]
        if not sources:
            # every primary failed or lacked it: fall back to handoffs
            for node in self.nodes:
                source = self._open(node, self.headers)
                if source is not None:
                    sources.append(source)
                    break
        if not sources:
            return None
        sources.sort(key=lambda s: s.timestamp, reverse=True)
        best = sources[0]
        for other in sources[1:]:
            other.close()
        if self._stale(best):
            self._discard(best)
            return None
        return best

    # ----- the client's response ------------------------------------------

    def response(self):
        source = self.find_source()
        if source is None:
            replicas = self.ring.replica_count
            answers = self.answers or [None]
            return best_response(answers, quorum_size(replicas),
                                 self.method)
        headers = client_headers(source.headers)
        if self.method == 'HEAD':
            source.resp.read()
            source.conn.release(source.resp)
            return Response(source.status, headers=headers, app_iter=[])
        return Response(source.status, headers=headers,
                        app_iter=self._body(source))

    def _byte_span(self, source):
        """(first, last) absolute offsets this body covers, or None."""
        if source.status == 200:
            try:
                length = int(source.headers.get('content-length'))
            except (TypeError, ValueError):
                return None
            return 0, length - 1
        if source.status == 206:
            match = CONTENT_RANGE.match(
                source.headers.get('content-range', ''))
            if match:
                return int(match.group(1)), int(match.group(2))
        return None

    def _body(self, source):
        chunk_size = self.app.object_chunk_size
        # the span also tells a short body from a whole one when the body
        # cannot be resumed: that must fail, never look complete
        span = self._byte_span(source)
        resumable = self.resumable and span is not None
        pos = span[0] if span else 0
        # a stalled node we can replace need not be waited for as long
        read_timeout = (self.app.recoverable_node_timeout if resumable
                        else self.app.node_timeout)
        released = False
        # the socket's own timeout bounds each read: no per-chunk timer
        self._set_timeout(source, read_timeout)
        try:
            while True:
                try:
                    chunk = source.resp.read(chunk_size)
                except NODE_ERRORS as err:
                    chunk = None
                    failure = err
                if chunk:
                    pos += len(chunk)
                    yield chunk
                    continue
                if chunk == b'' and (span is None or pos > span[1]):
                    source.conn.release(source.resp)
                    released = True
                    return
                # the node died, stalled or sent a short body
                if chunk == b'':
                    failure = 'short body'
                self.app.error_limiter.error_occurred(
                    source.node, 'GET body: %s' % (failure,))
                source.close()
                if not resumable:
                    raise ChunkReadTimeout('backend body failed; no resume')
                new = self._resume(source, pos, span[1])
                if new is None:
                    raise ChunkReadTimeout('backend body failed; no other '
                                           'replica could resume it')
                source = new
                self._set_timeout(source, read_timeout)
        finally:
            if not released:
                source.close()

    @staticmethod
    def _set_timeout(source, timeout):
        if source.conn.sock is not None:
            source.conn.sock.settimeout(timeout)

    def _resume(self, old, pos, last):
        headers = dict((k, v) for k, v in self.headers.items()
                       if k.lower() not in DROP_ON_RESUME)
        headers['Range'] = 'bytes=%d-%d' % (pos, last)
        etag = old.headers.get('etag')
        if etag:
            headers['If-Match'] = etag
        for node in self.nodes:
            source = self._open(node, headers)
            if source is None:
                continue
            same = (source.status == 206 and
                    source.timestamp == old.timestamp and
                    source.headers.get('etag') == etag)
            match = CONTENT_RANGE.match(
                source.headers.get('content-range', ''))
            if same and match and int(match.group(1)) == pos:
                return source
            source.close()
        return None
