"""Streaming PUT: client body failures and the InputRejected contract,
through the proxy Application (in process) to the session's real storage
nodes (what reaches their disks is checked)."""
import os
import time

import eventlet
import pytest
from webob import Request

from objproxy.common.exceptions import InputRejected
from objproxy.storage.layout import TMPDIR
from tests.functional.proxy_app import proxy_app  # noqa: F401


class Body(object):
    """A client body that misbehaves after ``good`` bytes."""

    def __init__(self, good, then):
        self.left = good
        self.then = then

    def read(self, size=-1):
        if self.left > 0:
            n = min(size if size > 0 else self.left, self.left)
            self.left -= n
            return b'x' * n
        if self.then == 'reject':
            raise InputRejected(403, b'infected')
        if self.then == 'eof':
            return b''
        if self.then == 'bad-chunk':
            raise ValueError('invalid literal for int() with base 16')
        if self.then == 'stall':
            eventlet.sleep(5)
            return b''
        if self.then == 'end':
            return b''


def put(app, path, body, length=None, chunked=False):
    env = {'REQUEST_METHOD': 'PUT', 'wsgi.input': body}
    headers = {}
    if chunked:
        headers['Transfer-Encoding'] = 'chunked'
    else:
        env['CONTENT_LENGTH'] = str(length)
    req = Request.blank(path, environ=env, headers=headers)
    req.environ['wsgi.input'] = body
    return req.get_response(app)


@pytest.fixture
def nodes_cluster(cluster):
    return cluster


@pytest.fixture
def container(proxy_app):
    name = 'putter-%d' % int(time.time() * 1e6)
    resp = Request.blank('/v1/AUTH_test/' + name,
                         environ={'REQUEST_METHOD': 'PUT'}).get_response(
                             proxy_app)
    assert resp.status_int == 201
    return name


def temp_files(cluster):
    found = []
    for node in cluster.nodes:
        tmp = os.path.join(node['devices'], node['device'], TMPDIR)
        if os.path.isdir(tmp):
            found.extend(os.listdir(tmp))
    return found


def stored(cluster, container, obj):
    # the nodes notice the dropped connections and remove their temp files
    deadline = time.time() + 10
    while temp_files(cluster) and time.time() < deadline:
        time.sleep(0.02)
    assert temp_files(cluster) == []
    files = cluster.object_files('AUTH_test', container, obj)
    return [n for names in files.values() for n in names
            if n.endswith('.data')]


@pytest.mark.parametrize('chunked', [False, True])
def test_input_rejected_aborts_every_node_and_propagates(
        proxy_app, nodes_cluster, container, chunked):
    path = '/v1/AUTH_test/%s/virus' % container
    with pytest.raises(InputRejected):
        put(proxy_app, path, Body(3 * 65536, 'reject'), 10 * 65536,
            chunked=chunked)
    assert stored(nodes_cluster, container, 'virus') == []
    head = Request.blank(path, environ={'REQUEST_METHOD': 'HEAD'})
    assert head.get_response(proxy_app).status_int == 404


def test_short_body_is_499_and_stores_nothing(proxy_app, nodes_cluster,
                                              container):
    resp = put(proxy_app, '/v1/AUTH_test/%s/short' % container,
               Body(1000, 'eof'), 100000)
    assert resp.status_int == 499
    assert stored(nodes_cluster, container, 'short') == []


def test_bad_chunked_body_is_400(proxy_app, container):
    resp = put(proxy_app, '/v1/AUTH_test/%s/badchunk' % container,
               Body(1000, 'bad-chunk'), chunked=True)
    assert resp.status_int == 400


def test_client_timeout_is_408(proxy_app, container):
    proxy_app.client_timeout = 0.2
    resp = put(proxy_app, '/v1/AUTH_test/%s/slow' % container,
               Body(10, 'stall'), 100)
    assert resp.status_int == 408


def test_chunked_upload_over_max_file_size_is_413(proxy_app, container):
    proxy_app.max_file_size = 100000
    resp = put(proxy_app, '/v1/AUTH_test/%s/huge' % container,
               Body(200000, 'end'), chunked=True)
    assert resp.status_int == 413
    resp = put(proxy_app, '/v1/AUTH_test/%s/huge' % container,
               Body(200000, 'end'), 200000)
    assert resp.status_int == 413


def test_put_into_missing_container_is_404(proxy_app):
    resp = put(proxy_app, '/v1/AUTH_test/no-such-container/o',
               Body(10, 'end'), 10)
    assert resp.status_int == 404


def test_good_chunked_put_round_trip(proxy_app, container):
    path = '/v1/AUTH_test/%s/fine' % container
    resp = put(proxy_app, path, Body(300000, 'end'), chunked=True)
    assert resp.status_int == 201
    got = Request.blank(path).get_response(proxy_app)
    assert got.status_int == 200 and got.body == b'x' * 300000
