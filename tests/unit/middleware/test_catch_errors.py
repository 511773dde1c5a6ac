"""catch_errors: transaction ids and 500s without tracebacks."""
import logging
import re

import pytest
from webob import Request

from middleware import catch_errors
from objproxy.common.exceptions import ConfigError

TX_RE = re.compile(r'^tx[0-9a-f]{21}-[0-9a-f]{10}(.*)$')


def make(app, **conf):
    return catch_errors.filter_factory({}, **conf)(app)


def ok_app(env, start_response):
    start_response('200 OK', [('Content-Length', '2'),
                              ('X-Trans-Id', 'forged')])
    return [b'ok']


def test_trans_id_generated_and_stamped():
    seen = {}

    def app(env, start_response):
        seen['env'] = dict(env)
        return ok_app(env, start_response)

    req = Request.blank('/v1/a', headers={'X-Trans-Id': 'client-set'})
    resp = req.get_response(make(app))
    assert resp.status_int == 200 and resp.body == b'ok'
    trans_id = seen['env']['swift.trans_id']
    assert TX_RE.match(trans_id).group(1) == ''
    assert 'HTTP_X_TRANS_ID' not in seen['env']
    assert resp.headers['X-Trans-Id'] == trans_id
    assert resp.headers['X-Openstack-Request-Id'] == trans_id
    assert resp.headers.getall('X-Trans-Id') == [trans_id]


def test_suffix_and_extra():
    req = Request.blank('/v1/a', headers={'X-Trans-Id-Extra': 'x' * 40})
    resp = req.get_response(make(ok_app, trans_id_suffix='-proxy1'))
    match = TX_RE.match(resp.headers['X-Trans-Id'])
    assert match.group(1) == '-proxy1-' + 'x' * 32


def test_extra_is_quoted():
    req = Request.blank('/v1/a', headers={'X-Trans-Id-Extra': 'a b/c'})
    resp = req.get_response(make(ok_app))
    assert resp.headers['X-Trans-Id'].endswith('-a%20b%2Fc')


def test_unique_ids():
    app = make(ok_app)
    ids = {Request.blank('/').get_response(app).headers['X-Trans-Id']
           for _ in range(50)}
    assert len(ids) == 50


def test_exception_in_call_becomes_500(caplog):
    def app(env, start_response):
        raise ValueError('secret internals')

    caplog.set_level(logging.ERROR)
    logger = logging.getLogger('objproxy.catch-errors')
    logger.addHandler(caplog.handler)
    try:
        resp = Request.blank('/v1/a').get_response(make(app))
    finally:
        logger.removeHandler(caplog.handler)
    assert resp.status_int == 500
    assert b'secret' not in resp.body and b'Traceback' not in resp.body
    assert resp.body == b'An error occurred'
    assert TX_RE.match(resp.headers['X-Trans-Id'])
    assert resp.headers['X-Trans-Id'] in caplog.text
    assert 'ValueError: secret internals' in caplog.text


def test_exception_before_first_chunk_becomes_500():
    def app(env, start_response):
        start_response('200 OK', [('Content-Length', '10')])
        raise RuntimeError('late')
        yield b'never'

    resp = Request.blank('/v1/a').get_response(make(app))
    assert resp.status_int == 500
    assert 'X-Trans-Id' in resp.headers


def test_exception_after_headers_sent_is_reraised_and_closes():
    closed = []

    class Body(object):
        def __iter__(self):
            yield b'first'
            raise IOError('disk went away')

        def close(self):
            closed.append(True)

    def app(env, start_response):
        start_response('200 OK', [('Content-Length', '100')])
        return Body()

    statuses = []
    body = make(app)(Request.blank('/').environ,
                     lambda s, h, e=None: statuses.append(s))
    it = iter(body)
    assert next(it) == b'first'
    assert statuses == ['200 OK']
    with pytest.raises(IOError):
        next(it)
    assert closed == [True]


def test_a_client_going_away_mid_body_closes_it_and_logs_no_error(caplog):
    closed = []

    class Body(object):
        def __iter__(self):
            yield b'first'
            yield b'second'

        def close(self):
            closed.append(True)

    def app(env, start_response):
        start_response('200 OK', [('Content-Length', '11')])
        return Body()

    body = make(app)(Request.blank('/').environ, lambda s, h, e=None: None)
    it = iter(body)
    assert next(it) == b'first'
    with caplog.at_level(logging.ERROR):
        body.close()   # the server closes the iterator: GeneratorExit
    assert closed == [True]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_head_500_has_no_body():
    def app(env, start_response):
        raise ValueError('x')

    resp = Request.blank('/', method='HEAD').get_response(make(app))
    assert resp.status_int == 500
    assert resp.body == b''


def test_missing_start_response_is_500():
    resp = Request.blank('/').get_response(make(lambda env, sr: [b'x']))
    assert resp.status_int == 500


def test_unknown_option_refused():
    with pytest.raises(ConfigError) as err:
        catch_errors.filter_factory({}, trans_id_sufix='x')
    assert 'trans_id_sufix' in str(err.value)


def _serve(app):
    import eventlet
    import eventlet.wsgi
    listener = eventlet.listen(('127.0.0.1', 0))
    # as objproxy.common.wsgi runs it: no debug tracebacks, 4 KiB chunks
    server = eventlet.spawn(eventlet.wsgi.server, listener, app,
                            log_output=False, debug=False,
                            minimum_chunk_size=4096)
    return listener, server


def _raw_request(port, path, keepalive=False):
    from eventlet.green import socket as gsocket
    sock = gsocket.create_connection(('127.0.0.1', port))
    sock.settimeout(5)
    sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n' % (
        path, '' if keepalive else 'Connection: close\r\n')).encode())
    data = b''
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data


def test_real_server_500_and_dropped_connection():
    """Through eventlet's WSGI server: a clean 500 before the headers, a
    closed connection (never a "complete" short body) after them."""
    def app(env, start_response):
        if env['PATH_INFO'] == '/early':
            raise KeyError('hidden')
        if env['PATH_INFO'] == '/ok':
            return ok_app(env, start_response)
        start_response('200 OK', [('Content-Length', '100000')])

        def body():
            yield b'x' * 8192
            raise IOError('backend died')
        return body()

    listener, server = _serve(make(app))
    try:
        port = listener.getsockname()[1]
        early = _raw_request(port, '/early')
        assert early.startswith(b'HTTP/1.1 500 ')
        assert b'X-Trans-Id: tx' in early and b'hidden' not in early
        assert b'Traceback' not in early
        late = _raw_request(port, '/late', keepalive=True)
        assert late.startswith(b'HTTP/1.1 200 OK')
        assert late.endswith(b'\r\n\r\n' + b'x' * 8192)  # cut short, closed
        assert b'backend died' not in late
        assert _raw_request(port, '/ok').endswith(b'ok')
    finally:
        server.kill()
        listener.close()
