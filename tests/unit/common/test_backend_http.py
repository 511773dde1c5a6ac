"""The pool against a real HTTP/1.1 server on a loopback port."""
# Bound at import: importing eventlet.wsgi later (other test modules do)
# swaps ``http.server`` for eventlet's green copy, whose sockets would
# deadlock in this real OS thread.
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import pytest

from objproxy.common import backend_http
from objproxy.common.backend_http import ConnectionPool, request
from tests.waiting import FakeClock


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path.startswith('/hangup'):
            # like a node whose keepalive_timeout expired: close the
            # connection without having said so in the response
            self.close_connection = True

    def handle_expect_100(self):
        if self.path == '/full':
            # refuse before the body, like a node with no space
            self.send_response(507)
            self.send_header('Content-Length', '0')
            self.send_header('Connection', 'close')
            self.end_headers()
            return False
        return super().handle_expect_100()

    def do_PUT(self):
        if self.headers.get('Transfer-Encoding') == 'chunked':
            data = b''
            while True:
                size = int(self.rfile.readline().strip(), 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if not size:
                    break
                data += chunk
        else:
            data = self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(201)
        self.send_header('Etag', str(len(data)))
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def node():
    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {'ip': '127.0.0.1', 'port': server.server_address[1]}
    server.shutdown()
    server.server_close()


def test_connections_are_reused(node):
    pool = ConnectionPool()
    for i in range(5):
        status, _, body = request(pool, node, 'GET', '/x%d' % i)
        assert (status, body) == (200, b'/x%d' % i)
    assert pool.opened == 1


def test_expect_continue_then_chunked_body(node):
    pool = ConnectionPool()
    conn = pool.get(node['ip'], node['port'])
    conn.begin_request('PUT', '/obj', {'Expect': '100-continue'},
                       chunked=True)
    assert conn.expect_continue().status == 100
    conn.send_chunk(b'abc')
    conn.send_chunk(b'de')
    conn.send_chunk(b'')
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201 and resp.getheader('Etag') == '5'
    conn.release(resp)
    assert request(pool, node, 'GET', '/after')[0] == 200
    assert pool.opened == 1


def test_early_final_answer_instead_of_continue(node):
    pool = ConnectionPool()
    conn = pool.get(node['ip'], node['port'])
    conn.begin_request('PUT', '/full', {'Expect': '100-continue',
                                         'Content-Length': '10'})
    resp = conn.expect_continue()
    assert resp.status == 507
    conn.release(resp)  # not reusable: the body was never sent
    assert request(pool, node, 'GET', '/next')[0] == 200
    assert pool.opened == 2


def test_dead_keepalive_is_retried_on_a_fresh_connection(node):
    pool = ConnectionPool()
    assert request(pool, node, 'GET', '/hangup')[0::2] == (200, b'/hangup')
    # the pooled connection is dead now; the request still succeeds
    assert request(pool, node, 'GET', '/again')[0::2] == (200, b'/again')
    assert pool.opened == 2


def test_idle_connections_expire_before_the_nodes_keepalive(node,
                                                            monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(backend_http, 'time', clock)
    pool = ConnectionPool(idle_timeout=0.05)
    request(pool, node, 'GET', '/a')
    clock.advance(0.04)
    request(pool, node, 'GET', '/b')
    assert pool.opened == 1       # still fresh enough: reused
    clock.advance(0.06)
    request(pool, node, 'GET', '/c')
    assert pool.opened == 2       # idled too long: a new connection


HEADER_BLOCKS = [
    b'Content-Length: 5\r\nX-Object-Meta-A:  b c  \r\nEtag: "x"\r\n\r\n',
    b'A: 1\r\n folded\r\n\r\n',             # obs-fold: email parser
    b'Bad Header: 1\r\nX: 2\r\n\r\n',        # not a header line
    b'X:\r\nY: \xe9\r\n\r\n',                # empty and Latin-1 values
    b'\r\n',
    b'From me\r\nA: b\r\n\r\n',
    b'A: 1\nB: 2\n\n',                       # bare LF line ends
    b'A : 1\r\n\r\n',
    b'A: 1\r\nA: 2\r\n\r\n',                 # repeated header
]


@pytest.mark.parametrize('block', HEADER_BLOCKS)
def test_header_block_parses_exactly_as_the_stdlib(block):
    import io
    from objproxy.common.backend_http import (
        STDLIB_PARSE_HEADERS, parse_header_block)
    ours = parse_header_block(io.BytesIO(block + b'body'))
    theirs = STDLIB_PARSE_HEADERS(io.BytesIO(block + b'body'))
    assert type(ours) is type(theirs)
    assert ours.items() == theirs.items()
    assert ours.get_payload() == theirs.get_payload()


def test_header_block_keeps_the_stdlib_limits():
    import io
    import http.client
    from objproxy.common.backend_http import parse_header_block
    with pytest.raises(http.client.LineTooLong):
        parse_header_block(io.BytesIO(b'A: ' + b'x' * 70000 + b'\r\n\r\n'))
    many = b''.join(b'H%d: v\r\n' % i for i in range(1000)) + b'\r\n'
    with pytest.raises(http.client.HTTPException):
        parse_header_block(io.BytesIO(many))
