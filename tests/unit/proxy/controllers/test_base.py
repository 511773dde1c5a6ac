from objproxy.proxy.controllers.base import (
    NodeAnswer, best_response, client_headers, quorum_size)


def answer(status, **headers):
    return NodeAnswer({}, status, headers, b'')


def test_quorum_size():
    assert [quorum_size(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_best_status_of_the_quorum_class():
    resp = best_response([answer(201), answer(202), answer(503)], 2)
    assert resp.status == 202
    resp = best_response([answer(201), None, None], 2)
    assert resp.status == 503
    resp = best_response([answer(404), answer(404), answer(201)], 2)
    assert resp.status == 404
    resp = best_response([answer(409), answer(404), answer(201)], 2)
    assert resp.status == 409


def test_missing_answers_count_as_failures():
    assert best_response([answer(204), None, answer(204)], 2).status == 204
    assert best_response([None, None, None], 2).status == 503
    assert best_response([], 2).status == 503


def test_error_pages_get_a_body_and_no_backend_headers():
    resp = best_response([NodeAnswer({}, 404, {
        'x-backend-timestamp': '1', 'content-length': '0'}, b'')] * 3, 2)
    assert resp.status == 404
    assert b'Not Found' in resp.body
    assert resp.get_header('x-backend-timestamp') is None


def test_client_headers_drop_backend_and_hop_by_hop():
    out = dict(client_headers({
        'x-backend-timestamp': '1', 'connection': 'keep-alive',
        'transfer-encoding': 'chunked', 'x-object-meta-color': 'red',
        'etag': 'abc'}))
    assert out == {'X-Object-Meta-Color': 'red', 'Etag': 'abc'}


class _CorsApp(object):
    """Just what Controller.OPTIONS asks of the proxy application."""

    def __init__(self, conf=None):
        self.conf = conf or {}
        self.info_asked = []

    def container_info(self, env, account, container):
        self.info_asked.append((account, container))
        return {'status': 404, 'cors': {'allow_origin': None}}


def _options(app, path, **headers):
    from webob import Request
    from objproxy.proxy.controllers.base import Controller
    parts = path.split('/')
    ctrl = Controller(app, *parts)
    ctrl.allowed_methods = ('GET', 'OPTIONS', 'PUT')
    req = Request.blank('/v1/' + path, method='OPTIONS', headers=headers)
    return ctrl.OPTIONS(req)


def test_options_preflight_uses_the_proxys_cors_allow_origin():
    preflight = {'Origin': 'http://m.com',
                 'Access-Control-Request-Method': 'PUT'}
    assert _options(_CorsApp(), 'AUTH_a/c/o', **preflight).status == 401
    app = _CorsApp({'cors_allow_origin': 'http://m.com'})
    resp = _options(app, 'AUTH_a/c/o', **preflight)
    assert resp.status == 200
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert app.info_asked == [('AUTH_a', 'c')]


def test_options_without_origin_or_on_an_account_asks_no_container():
    app = _CorsApp()
    assert _options(app, 'AUTH_a/c').get_header('Allow') == \
        'GET, OPTIONS, PUT'
    resp = _options(app, 'AUTH_a', Origin='http://m.com')
    assert resp.status == 200 and app.info_asked == []
