"""Streaming an upload to every replica at once.

The client's body is read one chunk at a time and handed to every object
node's sender through a queue a few chunks deep, so memory stays O(chunk)
whatever the object size while a node that pauses briefly does not stall
the others.  Each node is first asked with ``Expect:
100-continue``; a node that refuses, is down or stalls is replaced by the
next handoff before any data is sent, and one that fails mid-body is
dropped (the upload carries on while a quorum remains).

When a filter's wrapped ``wsgi.input`` raises ``InputRejected`` (clamav),
every backend socket is closed without the rest of the body or the chunked
terminator, so no node commits anything, and the exception propagates.
"""
import socket

import eventlet
from eventlet import GreenPile, Timeout
from eventlet.queue import LightQueue

from objproxy.common.backend_http import NODE_ERRORS
from objproxy.proxy.controllers.base import (
    NodeAnswer, best_response, quorum_size)
from objproxy.common.response import error_response, is_server_error, is_success


class ClientReadTimeout(Exception):
    """The client did not send the next chunk within client_timeout."""


def too_large(limit):
    """The body of the proxy's 413: the limit, and how to store more."""
    return ('The body is larger than the %d '
            'bytes this cluster takes in one object (max_file_size); '
            'upload it in segments (for example swift upload '
            '--segment-size)' % limit)


class ClientBodyError(Exception):
    """The client's body ended early or was malformed; carries a status."""

    def __init__(self, status, message=None):
        super().__init__(status)
        self.status = status
        self.message = message


class Putter(object):
    """One node accepting the body, fed through a small bounded queue.

    Each node gets its own sender green thread, so a node that pauses
    briefly (a flush, an fsync) does not hold back the others; the queue
    depth bounds memory at ``depth`` chunks per node.
    """

    def __init__(self, node, conn, chunked, slot, depth=4):
        self.node = node
        self.conn = conn
        self.chunked = chunked
        self.slot = slot
        self.failed = None  # the error that stopped this node, if any
        self.queue = None
        self.sender = None
        self.depth = depth

    def send(self, data):
        if self.chunked:
            self.conn.send_chunk(data)
        else:
            self.conn.sock.sendall(data)

    def start(self, on_error):
        self.queue = LightQueue(self.depth)
        self.sender = eventlet.spawn(self._send_loop, on_error)

    def _send_loop(self, on_error):
        while True:
            data = self.queue.get()
            if data is None:
                return
            if self.failed is not None:
                continue  # keep draining so the producer never blocks
            try:
                self.send(data)
            except NODE_ERRORS as err:
                self.failed = err or type(err).__name__
                self.abort()
                on_error(self)

    def put(self, data):
        self.queue.put(data)

    def finish_sending(self):
        """Wait until everything queued was sent (or the node failed)."""
        if self.sender is not None:
            self.queue.put(None)
            self.sender.wait()
            self.sender = None

    def abort(self):
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()

    def kill(self):
        """Stop at once: no further byte (nor terminator) is sent."""
        if self.sender is not None:
            self.sender.kill()
            self.sender = None
        self.abort()


class ObjectPut(object):
    """One streaming PUT of a body to ``len(headers_list)`` replicas."""

    def __init__(self, controller, ring, part, path, headers_list,
                 reader, content_length, chunked):
        self.controller = controller
        self.app = controller.app
        self.ring = ring
        self.part = part
        self.path = path
        self.headers_list = headers_list
        self.reader = reader  # read(n) -> bytes, the client's body
        self.content_length = content_length
        self.chunked = chunked
        self.nodes = controller.iter_nodes(ring, part)
        self.answers = []
        self.putters = []
        self.received = 0

    # ----- phase 1: find nodes that will take the body --------------------

    def _connect(self, slot, headers):
        app = self.app
        expect = self.chunked or self.content_length > 0
        headers = dict(headers)
        if expect:
            headers['Expect'] = '100-continue'
        if not self.chunked:
            headers['Content-Length'] = str(self.content_length)
        chunked = self.chunked
        for node in self.nodes:
            full = '/%s/%s%s' % (node['device'], self.part, self.path)

            def exchange(conn):
                try:
                    conn.begin_request('PUT', full, headers, chunked=chunked)
                    if not expect:
                        return conn, None, None, None
                    resp = conn.expect_continue()
                    if resp.status == 100:
                        return conn, resp, None, None
                    body = resp.read()
                    rheaders = dict((k.lower(), v)
                                    for k, v in resp.getheaders())
                except BaseException:
                    conn.close()
                    raise
                conn.close()
                return None, resp, rheaders, body

            try:
                with Timeout(app.node_timeout):
                    conn, resp, rheaders, body = app.pool.call(
                        node, app.conn_timeout, app.node_timeout, exchange)
            except NODE_ERRORS as err:
                app.error_limiter.error_occurred(
                    node, 'PUT %s: %s' % (full, err or type(err).__name__))
                continue
            if conn is not None:
                return Putter(node, conn, chunked, slot)
            status = resp.status
            app.error_limiter.answered(node, status, rheaders)
            if is_server_error(status):
                continue
            return NodeAnswer(node, status, rheaders, body)
        return None

    def connect(self):
        pile = GreenPile(len(self.headers_list))
        for slot, headers in enumerate(self.headers_list):
            pile.spawn(self._connect, slot, headers)
        for result in pile:
            if isinstance(result, Putter):
                self.putters.append(result)
            else:
                self.answers.append(result)
        return len(self.putters)

    # ----- phase 2: stream ----------------------------------------------------

    def abort(self):
        for putter in self.putters:
            putter.kill()
        self.putters = []

    def _read_client(self, size):
        try:
            with Timeout(self.app.client_timeout, ClientReadTimeout()):
                return self.reader(size)
        # InputRejected (a filter refusing the body) and ClientBodyError
        # are none of the types below, so they propagate unchanged
        except ClientReadTimeout:
            raise ClientBodyError(408)
        except ValueError as err:  # eventlet's ChunkReadError and kin
            raise ClientBodyError(400, 'Invalid chunked body: %s' % err)
        except (OSError, EOFError):
            raise ClientBodyError(499)

    def _node_failed(self, putter):
        self.app.error_limiter.error_occurred(
            putter.node, 'PUT body: %s' % (putter.failed,))

    def _send_all(self, data):
        live = []
        for putter in self.putters:
            if putter.failed is None:
                putter.put(data)
                live.append(putter)
        if len(live) != len(self.putters):
            self.putters = live
        if len(live) < quorum_size(len(self.headers_list)):
            raise ClientBodyError(503, 'Not enough storage nodes accepted '
                                  'the upload')

    def stream(self):
        """Copy the body to the nodes; ClientBodyError on client trouble."""
        chunk_size = self.app.client_chunk_size
        max_size = self.app.max_file_size
        for putter in self.putters:
            putter.start(self._node_failed)
        try:
            while True:
                if not self.chunked:
                    left = self.content_length - self.received
                    if left <= 0:
                        break
                    chunk = self._read_client(min(chunk_size, left))
                    if not chunk:
                        raise ClientBodyError(499)
                else:
                    chunk = self._read_client(chunk_size)
                    if not chunk:
                        break
                self.received += len(chunk)
                if self.received > max_size:
                    raise ClientBodyError(413, too_large(max_size))
                self._send_all(chunk)
            if self.chunked:
                self._send_all(b'')
            for putter in self.putters:
                putter.finish_sending()
            self.putters = [p for p in self.putters if p.failed is None]
            if len(self.putters) < quorum_size(len(self.headers_list)):
                raise ClientBodyError(503, 'Not enough storage nodes '
                                      'accepted the upload')
        except BaseException:
            self.abort()
            raise

    # ----- phase 3: collect ---------------------------------------------------

    def _finish(self, putter):
        app = self.app
        try:
            with Timeout(app.node_timeout):
                resp = putter.conn.getresponse()
                body = resp.read()
                rheaders = dict((k.lower(), v) for k, v in resp.getheaders())
            putter.conn.release(resp)
        except NODE_ERRORS as err:
            putter.conn.close()
            app.error_limiter.error_occurred(
                putter.node, 'PUT response: %s' % (err or type(err).__name__))
            return None
        app.error_limiter.answered(putter.node, resp.status, rheaders)
        return NodeAnswer(putter.node, resp.status, rheaders, body)

    def finish(self):
        pile = GreenPile(max(1, len(self.putters)))
        for putter in self.putters:
            pile.spawn(self._finish, putter)
        self.answers.extend(pile)
        return self.answers

    def result(self):
        """The client's answer from every answer collected so far."""
        answers = list(self.answers)
        while len(answers) < len(self.headers_list):
            answers.append(None)
        return best_response(answers, quorum_size(len(self.headers_list)),
                             'PUT')

    def run(self):
        """connect + stream + finish; returns (response, etag or None)."""
        quorum = quorum_size(len(self.headers_list))
        if self.connect() < quorum:
            self.abort()
            resp = self.result()
            if is_success(resp.status):
                resp = error_response(503)
            return resp, None
        try:
            self.stream()
        except ClientBodyError as err:
            return error_response(err.status, err.message), None
        self.finish()
        resp = self.result()
        etags = set(a.headers.get('etag', '').strip('"')
                    for a in self.answers
                    if a is not None and is_success(a.status))
        etags.discard('')
        if is_success(resp.status) and len(etags) > 1:
            return error_response(500, 'Nodes disagree on the ETag'), None
        return resp, (etags.pop() if etags else None)
