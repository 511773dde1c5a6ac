"""The streaming PUT on its own, against scripted fake nodes on loopback:
quorum of nodes that take the body, the body every node receives
(Content-Length or chunked), client body failures (reject, short, bad
chunk, timeout, too large) and nodes that disagree."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import eventlet
import pytest

from objproxy.common.exceptions import InputRejected
from objproxy.proxy.putter import ObjectPut
from tests.unit.proxy.loopback_nodes import (
    FakeApp, FakeController, started_nodes)


class Script(object):
    """What one fake node does with a PUT: refuse it before the body
    (``refuse``: a status), or take it and answer ``status``."""

    def __init__(self, status=201, refuse=None, etag=None):
        self.status = status
        self.refuse = refuse
        self.etag = etag
        self.bodies = []
        self.done = threading.Event()


class Node(object):
    def __init__(self, script):
        node = self
        self.script = script

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def handle_expect_100(self):
                if script.refuse:
                    self.send_response(script.refuse)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return False
                return super().handle_expect_100()

            def do_PUT(self):
                node.take(self)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def take(self, handler):
        script = self.script
        try:
            body = read_body(handler)
        except (OSError, ValueError):
            script.done.set()
            return
        if body is None:      # the proxy gave up on this upload
            script.done.set()
            return
        script.bodies.append(body)
        handler.send_response(script.status)
        handler.send_header('Etag', script.etag or hashlib.md5(
            body).hexdigest())
        handler.send_header('Content-Length', '0')
        handler.end_headers()
        script.done.set()

    def ring_node(self):
        return {'ip': '127.0.0.1', 'port': self.port, 'device': 'sda'}


def read_body(handler):
    """The whole body, or None when the connection ends before it."""
    length = handler.headers.get('Content-Length')
    if length is not None:
        data = handler.rfile.read(int(length))
        return data if len(data) == int(length) else None
    parts = []
    while True:
        line = handler.rfile.readline()
        if not line:
            return None
        size = int(line.split(b';')[0], 16)
        if size == 0:
            handler.rfile.readline()
            return b''.join(parts)
        parts.append(handler.rfile.read(size))
        handler.rfile.readline()


class Body(object):
    """A client body: ``good`` bytes, then ``then`` happens."""

    def __init__(self, good, then='end'):
        self.left = good
        self.then = then

    def read(self, size):
        if self.left > 0:
            n = min(size, self.left)
            self.left -= n
            return b'x' * n
        if self.then == 'reject':
            raise InputRejected(403, b'infected')
        if self.then == 'bad-chunk':
            raise ValueError('invalid literal for int() with base 16')
        if self.then == 'stall':
            eventlet.sleep(5)
        return b''


@pytest.fixture
def nodes():
    yield from started_nodes(Node)


def put(nodes, body, length=None, chunked=False, app=None):
    controller = FakeController(nodes, app)
    headers = [{'X-Timestamp': '1000.00000'} for _ in nodes]
    return ObjectPut(controller, None, 1, '/a/c/o', headers, body.read,
                     length, chunked).run()


def scripts(*args):
    return [Script(**a) for a in args]


def wait_done(made):
    for node in made:
        assert node.script.done.wait(5)


@pytest.mark.parametrize('chunked', [False, True])
def test_every_node_gets_the_whole_body(nodes, chunked):
    made = nodes(*scripts({}, {}, {}))
    resp, etag = put(made, Body(2500), None if chunked else 2500, chunked)
    assert resp.status == 201
    assert etag == hashlib.md5(b'x' * 2500).hexdigest()
    assert [n.script.bodies for n in made] == [[b'x' * 2500]] * 3


def test_a_quorum_is_enough(nodes):
    made = nodes(*scripts({}, {}, {'refuse': 507}))
    resp, _etag = put(made, Body(10), 10)
    assert resp.status == 201
    assert made[2].script.bodies == []


def test_without_a_quorum_nothing_is_sent(nodes):
    made = nodes(*scripts({}, {'refuse': 507}, {'refuse': 507}))
    resp, etag = put(made, Body(10), 10)
    assert resp.status == 503 and etag is None


def test_a_client_error_from_the_nodes_is_passed_on(nodes):
    made = nodes(*scripts({'refuse': 409}, {'refuse': 409},
                          {'refuse': 409}))
    resp, _etag = put(made, Body(10), 10)
    assert resp.status == 409


def test_input_rejected_aborts_every_node_and_propagates(nodes):
    made = nodes(*scripts({}, {}, {}))
    with pytest.raises(InputRejected):
        put(made, Body(2500, 'reject'), 10000)
    wait_done(made)
    assert [n.script.bodies for n in made] == [[], [], []]


def test_short_body_is_499_and_no_node_stores_it(nodes):
    made = nodes(*scripts({}, {}, {}))
    resp, _etag = put(made, Body(1000, 'eof'), 5000)
    assert resp.status == 499
    wait_done(made)
    assert [n.script.bodies for n in made] == [[], [], []]


def test_bad_chunked_body_is_400(nodes):
    resp, _etag = put(nodes(*scripts({}, {}, {})), Body(10, 'bad-chunk'),
                      chunked=True)
    assert resp.status == 400


def test_client_timeout_is_408(nodes):
    app = FakeApp()
    app.client_timeout = 0.1
    resp, _etag = put(nodes(*scripts({}, {}, {})), Body(10, 'stall'), 100,
                      app=app)
    assert resp.status == 408


@pytest.mark.parametrize('chunked', [False, True])
def test_body_over_max_file_size_is_413(nodes, chunked):
    app = FakeApp()
    app.max_file_size = 5000
    resp, _etag = put(nodes(*scripts({}, {}, {})), Body(6000),
                      None if chunked else 6000, chunked, app=app)
    assert resp.status == 413


def test_nodes_that_disagree_on_the_etag_are_a_500(nodes):
    made = nodes(*scripts({'etag': 'a' * 32}, {'etag': 'b' * 32}, {}))
    resp, etag = put(made, Body(10), 10)
    assert resp.status == 500 and etag is None
