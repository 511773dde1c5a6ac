"""formpost: form parsing, signatures, limits, answers and streaming."""
import hashlib
import hmac
import io
import time

import pytest
from webob import Request

from middleware import formpost
from middleware.formpost_multipart import (
    MAX_HEADER_LINE, FormTruncated, MultipartReader, parse_header_params)
from objproxy.common.exceptions import ConfigError, InputRejected
from objproxy.common.registry import get_info

PATH = '/v1/AUTH_test/c'
BOUNDARY = 'XyZ-boundary-123'


class StoreApp(object):
    """Reads each PUT body in small pieces, as the proxy does, and stores
    it; ``reject`` names bodies to refuse mid-stream (like clamav)."""

    def __init__(self, reject=b'', status='201 Created', read_size=7):
        self.stored = {}
        self.calls = []
        self.reject = reject
        self.status = status
        self.read_size = read_size
        self.max_piece = 0

    def __call__(self, env, start_response):
        self.calls.append(dict(env))
        data = b''
        while True:
            piece = env['wsgi.input'].read(self.read_size)
            self.max_piece = max(self.max_piece, len(piece))
            if not piece:
                break
            data += piece
            if self.reject and self.reject in data:
                raise InputRejected('403 Forbidden',
                                    b'Forbidden: virus found\n')
        if self.status.startswith('2'):
            self.stored[env['PATH_INFO']] = (data, env.get('CONTENT_TYPE'))
        start_response(self.status, [('Content-Length', '0'),
                                     ('Access-Control-Allow-Origin', '*'),
                                     ('X-Other', 'x')])
        return [b'']


def signature(path=PATH, redirect='', max_file_size=1024, max_file_count=10,
              expires=None, key='k', digest='sha256'):
    message = '%s\n%s\n%s\n%s\n%s' % (path, redirect, max_file_size,
                                      max_file_count, expires)
    return hmac.new(key.encode(), message.encode(),
                    getattr(hashlib, digest)).hexdigest()


def form(fields, files, boundary=BOUNDARY, close=True):
    out = b''
    for name, value in fields:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n'
                '%s\r\n' % (boundary, name, value)).encode()
    for name, filename, data, ctype in files:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"; '
                'filename="%s"\r\n' % (boundary, name, filename)).encode()
        if ctype:
            out += ('Content-Type: %s\r\n' % ctype).encode()
        out += b'\r\n' + data + b'\r\n'
    if close:
        out += ('--%s--\r\n' % boundary).encode()
    return out


def signed_fields(path=PATH, redirect='', max_file_size=1024,
                  max_file_count=10, expires=None, key='k', digest='sha256',
                  sig=None):
    expires = expires or int(time.time()) + 600
    sig = sig or signature(path, redirect, max_file_size, max_file_count,
                           expires, key, digest)
    fields = []
    if redirect:
        fields.append(('redirect', redirect))
    fields += [('max_file_size', max_file_size),
               ('max_file_count', max_file_count),
               ('expires', expires), ('signature', sig)]
    return fields


def post(app, body, path=PATH, keys=('k',), ckeys=(), boundary=BOUNDARY):
    mw = formpost.filter_factory({})(app)
    req = Request.blank(path, method='POST', body=body, headers={
        'Content-Type': 'multipart/form-data; boundary=%s' % boundary})
    req.environ['swift.infocache'] = {
        'account/AUTH_test': {'meta': dict(zip(
            ('temp-url-key', 'temp-url-key-2'), keys))},
        'container/AUTH_test/c': {'meta': dict(zip(
            ('temp-url-key', 'temp-url-key-2'), ckeys))}}
    return req.get_response(mw)


def test_files_become_puts_under_the_container():
    app = StoreApp()
    body = form(signed_fields(), [
        ('file1', 'a.txt', b'alpha', 'text/plain'),
        ('file2', 'b.bin', b'\x00\r\n--beta', None)])
    resp = post(app, body)
    assert resp.status_int == 201
    assert resp.body == b'201 Created'
    assert resp.headers['Access-Control-Allow-Origin'] == '*'
    assert 'X-Other' not in resp.headers
    assert app.stored['/v1/AUTH_test/c/a.txt'] == (b'alpha', 'text/plain')
    assert app.stored['/v1/AUTH_test/c/b.bin'][0] == b'\x00\r\n--beta'
    env = app.calls[0]
    assert env['REQUEST_METHOD'] == 'PUT'
    assert env['HTTP_TRANSFER_ENCODING'] == 'chunked'
    assert env['swift.authorize_override'] is True
    assert env['swift.source'] == 'FP'
    assert env['HTTP_USER_AGENT'].endswith('FormPost')


def test_prefix_path_and_container_key():
    app = StoreApp()
    path = PATH + '/pre_'
    body = form(signed_fields(path=path, key='ck'),
                [('f', 'x.txt', b'data', None)])
    resp = post(app, body, path=path, keys=(), ckeys=('ck',))
    assert resp.status_int == 201
    assert '/v1/AUTH_test/c/pre_x.txt' in app.stored


def test_redirect_gets_status_and_message():
    app = StoreApp()
    body = form(signed_fields(redirect='http://e.com/done?x=1'),
                [('f', 'x.txt', b'data', None)])
    resp = post(app, body)
    assert resp.status_int == 303
    assert resp.headers['Location'] == \
        'http://e.com/done?x=1&status=201&message='
    assert b'Click to continue...' in resp.body


@pytest.mark.parametrize('digest', ['sha1', 'sha256', 'sha512'])
def test_each_digest_hex_and_base64(digest):
    import base64
    expires = int(time.time()) + 600
    hexsig = signature(expires=expires, digest=digest)
    b64 = '%s:%s' % (digest, base64.urlsafe_b64encode(
        bytes.fromhex(hexsig)).decode().rstrip('='))
    for sig in (hexsig, b64):
        app = StoreApp()
        body = form(signed_fields(expires=expires, sig=sig),
                    [('f', 'x.txt', b'd', None)])
        assert post(app, body).status_int == 201


def test_bad_signature_is_401():
    app = StoreApp()
    body = form(signed_fields(sig='0' * 64), [('f', 'x', b'd', None)])
    resp = post(app, body)
    assert resp.status_int == 401
    assert resp.body == b'FormPost: Invalid Signature'
    assert app.calls == []


def test_no_keys_is_401():
    body = form(signed_fields(), [('f', 'x', b'd', None)])
    assert post(StoreApp(), body, keys=()).status_int == 401


def test_expired_form_is_401():
    body = form(signed_fields(expires=int(time.time()) - 10),
                [('f', 'x', b'd', None)])
    resp = post(StoreApp(), body)
    assert resp.status_int == 401
    assert resp.body == b'FormPost: Form Expired'


def test_oversize_file_is_400_and_not_stored():
    app = StoreApp()
    body = form(signed_fields(max_file_size=10),
                [('f', 'big', b'x' * 100, None)])
    resp = post(app, body)
    assert resp.status_int == 400
    assert resp.body == b'FormPost: max_file_size exceeded'
    assert app.stored == {}


def test_max_file_count():
    app = StoreApp()
    body = form(signed_fields(max_file_count=1),
                [('f', 'a', b'1', None), ('g', 'b', b'2', None)])
    resp = post(app, body)
    assert resp.status_int == 400
    assert resp.body == b'400 Bad Request\r\nFormPost: Max File Count Exceeded'
    assert list(app.stored) == ['/v1/AUTH_test/c/a']


def test_rejected_file_is_named_and_earlier_files_stay():
    app = StoreApp(reject=b'VIRUS')
    body = form(signed_fields(), [('f', 'ok.txt', b'fine', None),
                                  ('g', 'bad.txt', b'..VIRUS..', None)])
    resp = post(app, body)
    assert resp.status_int == 403
    assert resp.body == (b'403 Forbidden\r\nFormPost: bad.txt: Forbidden: '
                         b'virus found')
    assert list(app.stored) == ['/v1/AUTH_test/c/ok.txt']


def test_rejected_file_with_redirect_names_it_in_the_query():
    app = StoreApp(reject=b'VIRUS')
    body = form(signed_fields(redirect='http://e.com/r'),
                [('g', 'bad.txt', b'VIRUS', None)])
    resp = post(app, body)
    assert resp.status_int == 303
    assert resp.headers['Location'] == (
        'http://e.com/r?status=403&message=bad.txt%3A%20Forbidden%3A%20'
        'virus%20found')


def test_failed_put_status_is_passed_on():
    app = StoreApp(status='404 Not Found')
    body = form(signed_fields(), [('f', 'x', b'd', None)])
    resp = post(app, body)
    assert resp.status_int == 404
    assert resp.body.startswith(b'404 Not Found\r\nFormPost: x: ')


def test_no_files_is_400():
    body = form(signed_fields(), [])
    resp = post(StoreApp(), body)
    assert resp.status_int == 400
    assert resp.body == b'400 Bad Request\r\nFormPost: No Files To Process'


@pytest.mark.parametrize('field,value,message', [
    ('max_file_size', 'big', b'FormPost: max_file_size not an integer'),
    ('max_file_count', 'many', b'FormPost: max_file_count not an integer'),
    ('expires', 'soon', b'FormPost: expired not an integer'),
])
def test_non_integer_fields_are_400(field, value, message):
    fields = [(k, value if k == field else v) for k, v in signed_fields()]
    resp = post(StoreApp(), form(fields, [('f', 'x', b'd', None)]))
    assert resp.status_int == 400
    assert resp.body == message


def test_bad_starting_boundary_is_400():
    resp = post(StoreApp(), b'garbage\r\n' + form(signed_fields(), []))
    assert resp.status_int == 400
    assert resp.body == b'FormPost: invalid starting boundary'


def test_truncated_form_stores_nothing():
    app = StoreApp()
    body = form(signed_fields(), [('f', 'x', b'partial data', None)],
                close=False)
    body = body[:-len(b'\r\n')]          # cut inside the file part
    resp = post(app, body)
    assert resp.status_int == 400
    assert app.stored == {}


def test_non_form_posts_pass_through():
    seen = []

    def app(env, start_response):
        seen.append(env['PATH_INFO'])
        start_response('204 No Content', [])
        return [b'']
    mw = formpost.filter_factory({})(app)
    resp = Request.blank(PATH + '/o', method='POST', headers={
        'X-Object-Meta-A': '1'}).get_response(mw)
    assert resp.status_int == 204 and seen == [PATH + '/o']


def test_file_is_streamed_in_small_pieces():
    app = StoreApp(read_size=4096)
    data = bytes(range(256)) * 4096            # 1 MiB
    body = form(signed_fields(max_file_size=len(data)),
                [('f', 'big.bin', data, None)])
    resp = post(app, body)
    assert resp.status_int == 201
    assert app.stored['/v1/AUTH_test/c/big.bin'][0] == data
    assert app.max_piece <= 4096


def test_reader_keeps_memory_bounded():
    class Source(io.BytesIO):
        biggest = 0

        def read(self, size=-1):
            Source.biggest = max(Source.biggest, size)
            return super().read(size)
    data = b'y' * (4 * 1024 * 1024)
    raw = form([], [('f', 'a', data, None)])
    reader = MultipartReader(Source(raw), BOUNDARY.encode(), chunk_size=1024)
    total = 0
    for part in reader.parts():
        part.headers()
        while True:
            chunk = part.read(1000)
            if not chunk:
                break
            total += len(chunk)
            # a header line's worth plus a boundary, whatever the file size
            assert len(reader.buf) < MAX_HEADER_LINE + 1024
    assert total == len(data)
    assert Source.biggest < MAX_HEADER_LINE + 1024


def test_reader_reports_truncation():
    raw = form([], [('f', 'a', b'data', None)], close=False)[:-2]
    reader = MultipartReader(io.BytesIO(raw), BOUNDARY.encode())
    with pytest.raises(FormTruncated):
        for part in reader.parts():
            part.headers()
            part.drain()


def test_header_params():
    assert parse_header_params(
        'form-data; name="f"; filename="a; b \\"c\\".txt"') == (
        'form-data', {'name': 'f', 'filename': 'a; b "c".txt'})
    assert parse_header_params('Multipart/Form-Data; boundary=abc') == (
        'multipart/form-data', {'boundary': 'abc'})


def test_info_and_config():
    formpost.filter_factory({}, allowed_digests='sha256')
    assert get_info()['formpost'] == {'allowed_digests': ['sha256']}
    with pytest.raises(ConfigError):
        formpost.filter_factory({}, allowed_digests='crc32')
    with pytest.raises(ConfigError):
        formpost.filter_factory({}, max_file_size='1')


def test_disallowed_digest_is_401():
    app = StoreApp()
    mw = formpost.filter_factory({}, allowed_digests='sha512')(app)
    body = form(signed_fields(), [('f', 'x', b'd', None)])
    req = Request.blank(PATH, method='POST', body=body, headers={
        'Content-Type': 'multipart/form-data; boundary=%s' % BOUNDARY})
    req.environ['swift.infocache'] = {
        'account/AUTH_test': {'meta': {'temp-url-key': 'k'}},
        'container/AUTH_test/c': {'meta': {}}}
    assert req.get_response(mw).status_int == 401
