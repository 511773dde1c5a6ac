"""The getter on its own, against scripted fake nodes on loopback: which
answer it serves, stale copies behind a newer tombstone, X-Newest, and a
body that continues on another replica when its node dies."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from objproxy.common.exceptions import ChunkReadTimeout
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.getter import Getter, header_timestamp
from tests.unit.proxy.loopback_nodes import FakeController, started_nodes

BODY = b'0123456789' * 10
ETAG = hashlib.md5(BODY).hexdigest()
OLD, NEW, NEWER = (Timestamp(t).internal for t in (1000, 2000, 3000))


class Script(object):
    """What one fake node answers: status, headers, the body, and after how
    many body bytes it drops the connection (None: never)."""

    def __init__(self, status=200, headers=None, body=b'', die_after=None):
        self.status = status
        self.headers = dict(headers or {})
        self.body = body
        self.die_after = die_after
        self.requests = []


def stored(ts=NEW, die_after=None):
    return Script(200, {'X-Backend-Timestamp': ts, 'X-Timestamp': ts,
                        'ETag': ETAG, 'Content-Type': 'text/plain'},
                  BODY, die_after)


def tombstone(ts):
    return Script(404, {'X-Backend-Timestamp': ts})


class Node(object):
    def __init__(self, script):
        self.script = script
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_GET(self):
                node.answer(self)

            def do_HEAD(self):
                node.answer(self, body=False)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        # a node that drops its connection on purpose: nothing to report
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def answer(self, handler, body=True):
        script = self.script
        script.requests.append(dict(handler.headers))
        data = script.body
        status = script.status
        rng = handler.headers.get('Range')
        if rng and status == 200:
            first, last = (int(x) for x in rng.split('=')[1].split('-'))
            data = data[first:last + 1]
            status = 206
            extra = {'Content-Range': 'bytes %d-%d/%d'
                     % (first, last, len(script.body))}
        else:
            extra = {}
        handler.send_response(status)
        for key, value in list(script.headers.items()) + list(extra.items()):
            handler.send_header(key, value)
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        if not body:
            return
        if script.die_after is not None and not rng:
            handler.wfile.write(data[:script.die_after])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.wfile.write(data)

    def ring_node(self):
        return {'ip': '127.0.0.1', 'port': self.port, 'device': 'sda'}


class FakeRing(object):
    replica_count = 3


@pytest.fixture
def nodes():
    yield from started_nodes(Node)


def get(nodes, method='GET', newest=False, resumable=True, headers=None):
    getter = Getter(FakeController(nodes), FakeRing(), 1, '/a/c/o', method,
                    headers or {}, newest=newest, resumable=resumable)
    return getter.response()


def read(resp):
    return b''.join(resp.app_iter)


def test_the_first_good_answer_is_served(nodes):
    first, second, third = nodes(stored(), stored(), stored())
    resp = get([first, second, third])
    assert resp.status == 200 and read(resp) == BODY
    assert len(first.script.requests) == 1
    assert second.script.requests == [] and third.script.requests == []


def test_nodes_without_the_object_are_skipped(nodes):
    missing, broken, good = nodes(Script(404), Script(503), stored())
    resp = get([missing, broken, good])
    assert resp.status == 200 and read(resp) == BODY


def test_a_copy_older_than_a_tombstone_seen_first_is_not_served(nodes):
    deleted, stale, also_stale = nodes(tombstone(NEWER), stored(NEW),
                                       stored(OLD))
    resp = get([deleted, stale, also_stale])
    assert resp.status == 404


def test_x_newest_serves_the_newest_copy_of_every_primary(nodes):
    old, newer, new = nodes(stored(OLD), stored(NEWER), stored(NEW))
    resp = get([old, newer, new], newest=True)
    assert resp.status == 200
    assert dict(resp.headers)['X-Timestamp'] == NEWER
    assert all(len(n.script.requests) == 1 for n in (old, newer, new))


def test_every_node_failing_answers_503(nodes):
    resp = get(nodes(Script(503), Script(500), Script(507)))
    assert resp.status == 503


def test_a_head_reads_no_body(nodes):
    [node] = nodes(stored())
    resp = get([node], method='HEAD')
    assert resp.status == 200 and read(resp) == b''


def test_a_body_cut_off_continues_on_another_replica(nodes):
    dying, spare = nodes(stored(die_after=37), stored())
    resp = get([dying, spare])
    assert read(resp) == BODY
    [resume] = spare.script.requests
    assert resume['Range'] == 'bytes=37-99'
    assert resume['If-Match'] == ETAG


def test_a_resume_from_a_different_version_is_refused(nodes):
    dying, other_version = nodes(stored(NEW, die_after=37), stored(OLD))
    resp = get([dying, other_version])
    with pytest.raises(ChunkReadTimeout):
        read(resp)


def test_without_resume_a_cut_body_fails_instead_of_splicing(nodes):
    dying, spare = nodes(stored(die_after=37), stored())
    resp = get([dying, spare], resumable=False)
    with pytest.raises(ChunkReadTimeout):
        read(resp)
    assert spare.script.requests == []


def test_header_timestamp_takes_the_first_valid_header():
    assert header_timestamp({'x-a': 'bogus', 'x-b': NEW},
                            ('x-a', 'x-b')) == Timestamp(NEW)
    assert header_timestamp({}, ('x-a',)) == Timestamp(0)
