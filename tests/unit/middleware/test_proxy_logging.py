"""proxy_logging: one line per request, streaming counts, StatsD metrics."""
import io
import socket

import pytest
from webob import Request

from middleware import proxy_logging
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info

TOKEN = 'AUTH_tk' + '0123456789abcdef' * 2


def echo_app(env, start_response):
    body = env['wsgi.input'].read()
    start_response('201 Created', [('Content-Length', str(len(body) * 2)),
                                   ('X-Backend-Storage-Policy-Index', '0')])
    return [body, body]


def make(tmp_path, app=echo_app, **conf):
    conf.setdefault('access_log_file', str(tmp_path / 'access.log'))
    return proxy_logging.filter_factory({}, **conf)(app)


def run(req, app):
    """Like a WSGI server: consume the whole body, then close it."""
    resp = req.get_response(app)
    resp.body
    close = getattr(resp.app_iter, 'close', None)
    if close:
        close()
    return resp


def lines(tmp_path):
    path = tmp_path / 'access.log'
    if not path.exists():
        return []
    return [line.split(': ', 1)[1] for line in
            path.read_text().splitlines()]


def test_one_line_with_swifts_fields(tmp_path):
    mw = make(tmp_path)
    req = Request.blank('/v1/AUTH_test/c/o%20x', method='PUT', body=b'hello',
                        headers={'X-Auth-Token': TOKEN, 'User-Agent': 'ua 1',
                                 'Referer': 'http://r/', 'ETag': 'abc',
                                 'X-Forwarded-For': '10.1.1.1, 10.0.0.2'},
                        environ={'REMOTE_ADDR': '127.0.0.9',
                                 'swift.trans_id': 'tx123'})
    req.query_string = 'multipart-manifest=put'
    resp = run(req, mw)
    assert resp.status_int == 201
    (line,) = lines(tmp_path)
    fields = line.split(' ')
    assert len(fields) == 21
    assert fields[0] == '10.1.1.1'
    assert fields[1] == '127.0.0.9'
    assert len(fields[2].split('/')) == 6          # dd/Mon/yyyy/hh/mm/ss
    assert fields[3] == 'PUT'
    assert fields[4] == '/v1/AUTH_test/c/o%20x?multipart-manifest=put'
    assert fields[5] == 'HTTP/1.0'
    assert fields[6] == '201'
    assert fields[7] == 'http://r/'
    assert fields[8] == 'ua%201'
    assert fields[9] == TOKEN[:16] + '...'
    assert TOKEN not in line
    assert fields[10] == '5' and fields[11] == '10'
    assert fields[12] == 'abc'
    assert fields[13] == 'tx123'
    assert fields[14] == '-'
    assert float(fields[15]) >= 0
    assert fields[16] == '-' and fields[17] == '-'
    assert float(fields[19]) >= float(fields[18])
    assert fields[20] == '0'


def test_short_token_never_shown_whole(tmp_path):
    mw = make(tmp_path, reveal_sensitive_prefix='100')
    run(Request.blank('/v1/a', headers={'X-Auth-Token': 'AUTH_tkshort'}), mw)
    (line,) = lines(tmp_path)
    assert 'AUTH_tkshort' not in line
    assert line.split(' ')[9] == 'AUTH_t...'
    mw = make(tmp_path, reveal_sensitive_prefix='0')
    run(Request.blank('/v1/a', headers={'X-Auth-Token': TOKEN}), mw)
    assert lines(tmp_path)[-1].split(' ')[9] == '...'


def test_headers_logged_with_secrets_hidden(tmp_path):
    mw = make(tmp_path, access_log_headers='true')
    run(Request.blank('/auth/v1.0', headers={
        'X-Auth-Key': 'supersecretkey', 'X-Auth-User': 'test:tester',
        'X-Auth-Token': TOKEN}), mw)
    (line,) = lines(tmp_path)
    assert 'supersecretkey' not in line and TOKEN not in line
    assert 'X-Auth-User:%20test:tester' in line
    mw = make(tmp_path, access_log_headers_only='X-Auth-User')
    run(Request.blank('/auth/v1.0', headers={
        'X-Auth-Key': 'supersecretkey', 'X-Auth-User': 'u'}), mw)
    assert lines(tmp_path)[-1].split(' ')[14] == 'X-Auth-User:%20u'


def test_template(tmp_path):
    mw = make(tmp_path, log_msg_template='{method} {status_int} '
              '{account} {container} {object} {end_time.iso8601}')
    run(Request.blank('/v1/a/c/o/p'), mw)
    line = lines(tmp_path)[0]
    assert line.startswith('GET 201 a c o/p 20')
    with pytest.raises(ConfigError):
        proxy_logging.filter_factory({}, log_msg_template='{nosuch}')


def test_logged_once_across_two_copies_and_subrequests_logged(tmp_path):
    """Left copy logs the client request; right copy logs subrequests."""
    log = str(tmp_path / 'access.log')
    right = proxy_logging.filter_factory({}, access_log_file=log)(echo_app)

    def middle(env, start_response):
        # a middleware making a subrequest with a fresh environ
        sub = Request.blank('/v1/a/c', method='HEAD',
                            environ={'swift.source': 'RL',
                                     'swift.trans_id': env['swift.trans_id']})
        run(sub, right)
        return right(env, start_response)

    left = proxy_logging.filter_factory({}, access_log_file=log)(middle)
    run(Request.blank('/v1/a/c/o', environ={'swift.trans_id': 'txabc'}), left)
    got = lines(tmp_path)
    assert len(got) == 2
    sub, client = [line.split(' ') for line in got]
    assert sub[3] == 'HEAD' and sub[16] == 'RL' and sub[13] == 'txabc'
    assert client[3] == 'GET' and client[16] == '-'


def test_streaming_counts_without_buffering(tmp_path):
    produced = []

    def app(env, start_response):
        start_response('200 OK', [])

        def gen():
            while True:
                chunk = env['wsgi.input'].read(4)
                if not chunk:
                    return
                produced.append(chunk)
                yield chunk
        return gen()

    mw = make(tmp_path, app=app)
    env = Request.blank('/v1/a/c/o', method='PUT',
                        body=b'abcdefghij').environ
    body = mw(env, lambda *a: None)
    it = iter(body)
    assert next(it) == b'abcd'
    assert produced == [b'abcd']          # pulled lazily, not buffered
    assert lines(tmp_path) == []          # not logged until the end
    assert list(it) == [b'efgh', b'ij']
    body.close()
    (line,) = lines(tmp_path)
    assert line.split(' ')[6] == '200'
    assert line.split(' ')[10:12] == ['10', '10']


def test_client_disconnect_is_499(tmp_path):
    closed = []

    class Body(object):
        def __iter__(self):
            return iter([b'a' * 10] * 5)

        def close(self):
            closed.append(True)

    def app(env, start_response):
        start_response('200 OK', [('Content-Length', '50')])
        return Body()

    mw = make(tmp_path, app=app)
    body = mw(Request.blank('/v1/a/c/o').environ, lambda *a: None)
    it = iter(body)
    next(it)
    body.close()
    (line,) = lines(tmp_path)
    assert line.split(' ')[6] == '499'
    assert line.split(' ')[11] == '10'
    assert closed == [True]


def test_exceptions_logged_as_500(tmp_path):
    def raising(env, start_response):
        raise ValueError('boom')

    mw = make(tmp_path, app=raising)
    with pytest.raises(ValueError):
        mw(Request.blank('/v1/a').environ, lambda *a: None)

    def raising_late(env, start_response):
        start_response('200 OK', [])
        yield b'x'
        raise IOError('late')

    mw = make(tmp_path, app=raising_late)
    body = mw(Request.blank('/v1/a').environ, lambda *a: None)
    with pytest.raises(IOError):
        list(body)
    got = lines(tmp_path)
    assert [line.split(' ')[6] for line in got] == ['500', '500']


def test_statsd_metrics(tmp_path):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(('127.0.0.1', 0))
    receiver.settimeout(2)
    try:
        port = receiver.getsockname()[1]
        mw = make(tmp_path, log_statsd_host='127.0.0.1',
                  log_statsd_port=str(port), log_statsd_metric_prefix='objp')
        run(Request.blank('/v1/a/c/o', method='PUT', body=b'12345'), mw)
        run(Request.blank('/v1/a/c'), mw)
        packets = set()
        while True:
            try:
                packets.add(receiver.recv(1000).decode())
            except socket.timeout:
                break
            if len(packets) >= 6:
                break
    finally:
        receiver.close()
    names = {p.split(':')[0]: p for p in packets}
    assert names['objp.proxy-server.object.PUT.201.xfer'] == \
        'objp.proxy-server.object.PUT.201.xfer:15|c'
    assert names['objp.proxy-server.object.PUT.201.timing'].endswith('|ms')
    assert 'objp.proxy-server.container.GET.201.timing' in names
    assert 'objp.proxy-server.container.GET.201.first-byte.timing' in names
    assert 'objp.proxy-server.object.policy.0.PUT.201.timing' in names


def test_input_wrapper_keeps_file_api(tmp_path):
    wrapped = proxy_logging.CountingInput(io.BytesIO(b'l1\nl2\nrest'))
    assert wrapped.readline() == b'l1\n'
    assert list(wrapped) == [b'l2\n', b'rest']
    assert wrapped.bytes_read == 10


def test_info_and_unknown_option(tmp_path):
    make(tmp_path)
    assert 'proxy_logging' in get_info()
    with pytest.raises(ConfigError) as err:
        proxy_logging.filter_factory({}, access_log_nam='x')
    assert 'access_log_nam' in str(err.value)
    with pytest.raises(ConfigError):
        proxy_logging.filter_factory({}, reveal_sensitive_prefix='-1')


def test_real_server_client_disconnect_logged_499(tmp_path):
    """A client that hangs up mid-download is logged once, as 499."""
    import eventlet
    import eventlet.wsgi
    from eventlet.green import socket as gsocket

    def app(env, start_response):
        start_response('200 OK', [('Content-Length', str(64 * 1024 * 1024))])

        def body():
            for _ in range(1024):
                yield b'x' * 65536
                eventlet.sleep(0)
        return body()

    listener = eventlet.listen(('127.0.0.1', 0))
    server = eventlet.spawn(eventlet.wsgi.server, listener, make(tmp_path,
                                                                 app=app),
                            log_output=False, debug=False)
    try:
        sock = gsocket.create_connection(listener.getsockname())
        sock.sendall(b'GET /v1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n')
        got = 0
        while got < 300000:
            got += len(sock.recv(65536))
        sock.close()
        for _ in range(200):
            if lines(tmp_path):
                break
            eventlet.sleep(0.01)
    finally:
        server.kill()
        listener.close()
    (line,) = lines(tmp_path)
    fields = line.split(' ')
    assert fields[6] == '499'
    assert 0 < int(fields[11]) < 64 * 1024 * 1024


def test_a_tempurl_signature_is_logged_obscured():
    from middleware.proxy_logging import ProxyLoggingMiddleware
    mw = ProxyLoggingMiddleware(lambda env, sr: [], {})
    env = {'swift.proxy_logging.request': (
        'GET', '/v1/a/c/o', 'temp_url_sig=0123456789abcdef0123&'
                            'temp_url_expires=99')}
    method, text = mw._path(env)
    assert 'temp_url_sig=0123456789...' in text   # reveal_sensitive_prefix
    assert '0123456789abcdef0123' not in text
    assert 'temp_url_expires=99' in text
