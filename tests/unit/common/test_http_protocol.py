"""Request lines as objproxy's servers parse them (an in-process server)."""

import eventlet
import eventlet.wsgi
import pytest

from objproxy.common.http_protocol import HttpProtocol, encode_target


@pytest.fixture
def server():
    sock = eventlet.listen(('127.0.0.1', 0))
    seen = []

    def app(env, start_response):
        seen.append((env['PATH_INFO'], env.get('QUERY_STRING', '')))
        start_response('200 OK', [('Content-Length', '0')])
        return [b'']

    thread = eventlet.spawn(eventlet.wsgi.server, sock, app,
                            protocol=HttpProtocol, log_output=False)
    yield sock.getsockname()[1], seen
    thread.kill()
    sock.close()


def send(port, target):
    sock = eventlet.green.socket.create_connection(('127.0.0.1', port))
    try:
        sock.sendall(b'GET ' + target + b' HTTP/1.1\r\nHost: x\r\n'
                     b'Connection: close\r\n\r\n')
        data = b''
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return int(data.split(b' ', 2)[1])


def test_utf8_bytes_that_look_like_latin1_whitespace_stay_in_the_path(
        server):
    port, seen = server
    name = '\u8505\u00a0\u3710'.encode('utf-8')     # holds 0x85 and 0xa0
    assert b'\x85' in name and b'\xa0' in name
    assert send(port, b'/v1/a/c/' + name + b'?x=\xc3\xa9') == 200
    path, query = seen[-1]
    assert path.encode('latin-1') == b'/v1/a/c/' + name
    assert query == 'x=%C3%A9'


def test_a_leading_double_slash_is_kept(server):
    port, seen = server
    assert send(port, b'//v1/AUTH_test') == 200
    assert seen[-1][0] == '//v1/AUTH_test'


def test_a_malformed_request_line_is_still_400(server):
    port, _seen = server
    assert send(port, b'/a b') == 400


def test_only_unsafe_bytes_are_encoded():
    assert encode_target(b'/a%20b?c=d&e') == b'/a%20b?c=d&e'
    assert encode_target(b'/\x00\x85\xff') == b'/%00%85%FF'
