"""tempurl: Swift's signatures, scopes, header rules and answers."""
import base64
import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

import pytest
from webob import Request

from middleware import signed_urls, tempurl
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info

ACCOUNT = 'AUTH_test'
PATH = '/v1/AUTH_test/c/o'


class FakeApp(object):
    """Answers 200 and remembers the environ it was called with."""

    def __init__(self, status='200 OK', headers=None, body=b'ok'):
        self.status = status
        self.headers = headers or []
        self.body = body
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append(dict(env))
        start_response(self.status, [('Content-Length', str(len(self.body)))]
                       + list(self.headers))
        return [self.body]


def make(app=None, **conf):
    app = app or FakeApp()
    return tempurl.filter_factory({}, **conf)(app), app


def infocache(account_keys=(), container_keys=(), container='c'):
    def meta(keys):
        names = ('temp-url-key', 'temp-url-key-2')
        return dict(zip(names, keys))
    return {'account/%s' % ACCOUNT: {'status': 200,
                                     'meta': meta(account_keys)},
            'container/%s/%s' % (ACCOUNT, container): {
                'status': 200, 'meta': meta(container_keys)}}


def sig(key, method, expires, path, digest='sha256', ip_range=None):
    message = '%s\n%s\n%s' % (method, expires, path)
    if ip_range:
        message = 'ip=%s\n%s' % (ip_range, message)
    return hmac.new(key.encode('utf-8'), message.encode('utf-8'),
                    getattr(hashlib, digest)).hexdigest()


def request(path, method='GET', params=None, keys=('k',), ckeys=(),
            headers=None, remote_addr='127.0.0.1', container='c'):
    query = '?' + urlencode(params) if params is not None else ''
    req = Request.blank(quote(path) + query, method=method,
                        headers=headers or {})
    req.environ['REMOTE_ADDR'] = remote_addr
    req.environ['swift.infocache'] = infocache(keys, ckeys, container)
    return req


def signed(method='GET', path=PATH, key='k', expires=None, **extra):
    expires = expires or int(time.time()) + 600
    params = {'temp_url_sig': sig(key, method, expires, path),
              'temp_url_expires': str(expires)}
    params.update(extra)
    return params


def test_valid_get_is_authorised_and_gets_download_headers():
    mw, app = make()
    params = signed()
    resp = request(PATH, params=params).get_response(mw)
    assert resp.status_int == 200 and resp.body == b'ok'
    env = app.calls[0]
    assert env['swift.authorize_override'] is True
    assert env['REMOTE_USER'] == '.wsgi.tempurl'
    assert resp.headers['Content-Disposition'] == \
        'attachment; filename="o"; filename*=UTF-8\'\'o'
    assert resp.headers['Expires'].endswith('GMT')


def test_no_tempurl_parameters_fall_through_untouched():
    mw, app = make()
    req = request(PATH, headers={'X-Auth-Token': 'AUTH_tk1'})
    assert req.get_response(mw).status_int == 200
    assert 'swift.authorize' not in app.calls[0]
    assert app.calls[0]['HTTP_X_AUTH_TOKEN'] == 'AUTH_tk1'


@pytest.mark.parametrize('tamper', [
    {'temp_url_sig': '0' * 64},
    {'temp_url_expires': '1'},
    {'temp_url_expires': 'tomorrow'},
    {'temp_url_sig': ''},
])
def test_bad_signature_or_expiry_is_401_temp_url_invalid(tamper):
    mw, app = make()
    params = signed()
    params.update(tamper)
    resp = request(PATH, params=params).get_response(mw)
    assert resp.status_int == 401
    assert resp.body == b'401 Unauthorized: Temp URL invalid\n'
    assert resp.headers['Www-Authenticate'] == 'Swift realm="AUTH_test"'
    assert app.calls == []


def test_only_one_parameter_is_invalid_not_a_fall_through():
    mw, app = make()
    params = signed()
    del params['temp_url_sig']
    assert request(PATH, params=params).get_response(mw).status_int == 401
    assert app.calls == []


def test_head_invalid_has_no_body():
    mw, _ = make()
    params = signed()
    params['temp_url_sig'] = 'f' * 64
    resp = request(PATH, 'HEAD', params=params).get_response(mw)
    assert resp.status_int == 401 and resp.body == b''


def test_signature_for_another_object_or_method_is_refused():
    mw, _ = make()
    params = signed(path='/v1/AUTH_test/c/other')
    assert request(PATH, params=params).get_response(mw).status_int == 401
    params = signed(method='GET')
    assert request(PATH, 'PUT', params=params).get_response(mw) \
        .status_int == 401


@pytest.mark.parametrize('method', ['HEAD', 'GET', 'PUT', 'POST'])
def test_head_accepts_head_get_put_and_post_signatures(method):
    mw, _ = make()
    params = signed(method=method)
    assert request(PATH, 'HEAD', params=params).get_response(mw) \
        .status_int == 200


def test_head_signature_opens_neither_get_nor_put():
    mw, _ = make()
    params = signed(method='HEAD')
    assert request(PATH, 'GET', params=params).get_response(mw) \
        .status_int == 401
    assert request(PATH, 'PUT', params=params).get_response(mw) \
        .status_int == 401


def test_iso8601_expiry_is_accepted():
    mw, app = make()
    expires = int(time.time()) + 600
    params = signed(expires=expires)
    params['temp_url_expires'] = time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                               time.gmtime(expires))
    resp = request(PATH, params=params).get_response(mw)
    assert resp.status_int == 200
    # the expiry the client sent is what goes on down the pipeline
    assert urlencode({'temp_url_expires': params['temp_url_expires']}) in \
        app.calls[0]['QUERY_STRING']


@pytest.mark.parametrize('digest', ['sha1', 'sha256', 'sha512'])
def test_hex_and_base64_signatures_for_each_digest(digest):
    mw, _ = make()
    expires = int(time.time()) + 600
    hexsig = sig('k', 'GET', expires, PATH, digest)
    raw = bytes.fromhex(hexsig)
    forms = [hexsig,
             '%s:%s' % (digest, base64.b64encode(raw).decode()),
             '%s:%s' % (digest, base64.urlsafe_b64encode(raw).decode()
                        .rstrip('='))]
    for form in forms:
        params = {'temp_url_sig': form, 'temp_url_expires': str(expires)}
        assert request(PATH, params=params).get_response(mw) \
            .status_int == 200, form


def test_malformed_base64_and_unknown_algorithm_are_invalid():
    mw, _ = make()
    expires = int(time.time()) + 600
    raw = bytes.fromhex(sig('k', 'GET', expires, PATH))
    good = base64.b64encode(raw).decode()
    for form in ('sha256:' + good[:10] + '!' + good[11:],
                 'md5:' + good, 'sha256:', 'abc'):
        params = {'temp_url_sig': form, 'temp_url_expires': str(expires)}
        assert request(PATH, params=params).get_response(mw) \
            .status_int == 401, form


def test_allowed_digests_limits_signatures():
    mw, _ = make(allowed_digests='sha512')
    expires = int(time.time()) + 600
    params = {'temp_url_sig': sig('k', 'GET', expires, PATH, 'sha256'),
              'temp_url_expires': str(expires)}
    assert request(PATH, params=params).get_response(mw).status_int == 401
    params['temp_url_sig'] = sig('k', 'GET', expires, PATH, 'sha512')
    assert request(PATH, params=params).get_response(mw).status_int == 200


def test_second_account_key_and_utf8_names():
    mw, _ = make()
    path = u'/v1/AUTH_test/c\u00e9/\u2603 obj'
    params = signed(path=path, key=u'k\u00e92')
    req = request(path, params=params, keys=('k1', u'k\u00e92'),
                  container=u'c\u00e9')
    # the proxy's info holds the key as it came off the wire
    meta = req.environ['swift.infocache']['account/AUTH_test']['meta']
    meta['temp-url-key-2'] = u'k\u00e92'.encode('utf-8').decode('latin-1')
    assert req.get_response(mw).status_int == 200


def test_container_key_is_scoped_to_its_container():
    mw, app = make()
    params = signed(key='ck')
    resp = request(PATH, params=params, keys=(), ckeys=('ck',)) \
        .get_response(mw)
    assert resp.status_int == 200
    authorize = app.calls[0]['swift.authorize']
    assert authorize(Request.blank('/v1/AUTH_test/c/seg')) is None
    assert authorize(Request.blank('/v1/AUTH_test/other/seg')) \
        .status_int == 401
    assert authorize(Request.blank('/v1/AUTH_other/c/seg')).status_int == 401


def test_account_key_scope_is_the_account():
    mw, app = make()
    request(PATH, params=signed()).get_response(mw)
    authorize = app.calls[0]['swift.authorize']
    assert authorize(Request.blank('/v1/AUTH_test/other/seg')) is None
    assert authorize(Request.blank('/v1/AUTH_other/c/o')).status_int == 401


def test_no_keys_is_invalid():
    mw, _ = make()
    resp = request(PATH, params=signed(), keys=()).get_response(mw)
    assert resp.status_int == 401


def test_tokens_are_dropped_and_query_reduced():
    mw, app = make()
    params = signed(method='PUT')
    params['multipart-manifest'] = 'put'
    req = request(PATH, 'PUT', params=params, headers={
        'X-Auth-Token': 'AUTH_tkabc', 'X-Storage-Token': 'AUTH_tkabc',
        'X-Timestamp': '1', 'X-Object-Meta-Color': 'red'})
    assert req.get_response(mw).status_int == 200
    env = app.calls[0]
    assert 'HTTP_X_AUTH_TOKEN' not in env
    assert 'HTTP_X_STORAGE_TOKEN' not in env
    assert 'HTTP_X_TIMESTAMP' not in env          # incoming_remove_headers
    assert env['HTTP_X_OBJECT_META_COLOR'] == 'red'
    assert 'multipart-manifest' not in env['QUERY_STRING']
    assert 'temp_url_sig=' in env['QUERY_STRING']


@pytest.mark.parametrize('header', ['X-Object-Manifest', 'X-Symlink-Target',
                                    'X-Copy-From'])
def test_pointer_headers_refused_on_writes(header):
    mw, app = make()
    for method in ('PUT', 'POST'):
        req = request(PATH, method, params=signed(method=method),
                      headers={header: 'c2/foo'})
        resp = req.get_response(mw)
        assert resp.status_int == 400
        assert resp.body == ("The header '%s' is not allowed in this "
                             "tempurl" % header).encode()
    assert app.calls == []


def test_outgoing_header_rules_with_globs():
    app = FakeApp(headers=[('X-Object-Meta-Secret', 's'),
                           ('X-Object-Meta-Public-Color', 'red'),
                           ('X-Other', 'x')])
    mw, _ = make(app)
    resp = request(PATH, params=signed()).get_response(mw)
    assert 'X-Object-Meta-Secret' not in resp.headers
    assert resp.headers['X-Object-Meta-Public-Color'] == 'red'
    assert resp.headers['X-Other'] == 'x'


def test_incoming_rules_are_configurable():
    mw, app = make(incoming_remove_headers='x-foo-*',
                   incoming_allow_headers='x-foo-ok')
    request(PATH, params=signed(), headers={
        'X-Foo-Bar': '1', 'X-Foo-Ok': '2', 'X-Timestamp': '3'}) \
        .get_response(mw)
    env = app.calls[0]
    assert 'HTTP_X_FOO_BAR' not in env
    assert env['HTTP_X_FOO_OK'] == '2'
    assert env['HTTP_X_TIMESTAMP'] == '3'


def test_methods_option_limits_what_can_be_signed():
    mw, _ = make(methods='GET HEAD')
    assert request(PATH, 'PUT', params=signed(method='PUT')) \
        .get_response(mw).status_int == 401
    assert request(PATH, params=signed()).get_response(mw).status_int == 200


def test_prefix_urls():
    mw, _ = make()
    expires = int(time.time()) + 600
    prefix_sig = sig('k', 'GET', expires, 'prefix:/v1/AUTH_test/c/dir/')
    params = {'temp_url_sig': prefix_sig, 'temp_url_expires': expires,
              'temp_url_prefix': 'dir/'}
    assert request('/v1/AUTH_test/c/dir/a/b', params=params) \
        .get_response(mw).status_int == 200
    assert request('/v1/AUTH_test/c/other', params=params) \
        .get_response(mw).status_int == 401


def test_empty_prefix_container_root_needs_a_staticweb_answer():
    plain, _ = make()
    expires = int(time.time()) + 600
    params = {'temp_url_sig': sig('k', 'GET', expires, 'prefix:/v1/'
                                  'AUTH_test/c/'),
              'temp_url_expires': expires, 'temp_url_prefix': ''}
    assert request('/v1/AUTH_test/c', params=params).get_response(plain) \
        .status_int == 401
    web, _ = make(FakeApp(headers=[('X-Backend-Content-Generator',
                                    'staticweb')]))
    resp = request('/v1/AUTH_test/c', params=params).get_response(web)
    assert resp.status_int == 200
    assert resp.headers['Content-Disposition'] == 'inline'


def test_ip_range():
    mw, _ = make()
    expires = int(time.time()) + 600
    params = {'temp_url_sig': sig('k', 'GET', expires, PATH,
                                  ip_range='10.0.0.0/8'),
              'temp_url_expires': expires, 'temp_url_ip_range': '10.0.0.0/8'}
    assert request(PATH, params=params, remote_addr='10.1.2.3') \
        .get_response(mw).status_int == 200
    assert request(PATH, params=params, remote_addr='192.168.0.1') \
        .get_response(mw).status_int == 401
    params['temp_url_ip_range'] = 'garbage'
    assert request(PATH, params=params, remote_addr='10.1.2.3') \
        .get_response(mw).status_int == 401


def test_filename_and_inline_dispositions():
    mw, _ = make()
    params = signed(filename=u'r\u00e9sum\u00e9 "1".pdf')
    resp = request(PATH, params=params).get_response(mw)
    assert resp.headers['Content-Disposition'] == (
        'attachment; filename="r%C3%A9sum%C3%A9 %221%22.pdf"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf")
    params = signed(inline='')
    resp = request(PATH, params=params).get_response(mw)
    assert resp.headers['Content-Disposition'] == 'inline'
    params = signed(inline='', filename='a.txt')
    resp = request(PATH, params=params).get_response(mw)
    assert resp.headers['Content-Disposition'] == \
        "inline; filename=\"a.txt\"; filename*=UTF-8''a.txt"


def test_object_disposition_kept_without_filename():
    mw, _ = make(FakeApp(headers=[('Content-Disposition', 'attachment; x')]))
    resp = request(PATH, params=signed()).get_response(mw)
    assert resp.headers['Content-Disposition'] == 'attachment; x'


def test_error_answers_get_no_download_headers():
    mw, _ = make(FakeApp(status='404 Not Found'))
    resp = request(PATH, params=signed()).get_response(mw)
    assert resp.status_int == 404
    assert 'Expires' not in resp.headers


def test_info_and_config_checks():
    make()
    info = get_info()['tempurl']
    assert info['methods'] == ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']
    assert info['allowed_digests'] == ['sha1', 'sha256', 'sha512']
    assert info['deprecated_digests'] == ['sha1']
    assert info['outgoing_remove_headers'] == ['x-object-meta-*']
    assert info['outgoing_allow_headers'] == ['x-object-meta-public-*']
    assert info['incoming_remove_headers'] == ['x-timestamp',
                                               'x-open-expired']
    assert info['incoming_allow_headers'] == []
    with pytest.raises(ConfigError):
        tempurl.filter_factory({}, allowed_digests='md5')
    with pytest.raises(ConfigError):
        tempurl.filter_factory({}, methods='get')
    with pytest.raises(ConfigError):
        tempurl.filter_factory({}, bogus='1')


def test_sha256_only_has_no_deprecated_digests():
    tempurl.filter_factory({}, allowed_digests='sha256 sha512')
    info = get_info()['tempurl']
    assert info['allowed_digests'] == ['sha256', 'sha512']
    assert 'deprecated_digests' not in info


def test_parse_signature_forms():
    assert signed_urls.parse_signature('ab' * 20) == ('sha1', 'ab' * 20)
    raw = bytes(range(32))
    assert signed_urls.parse_signature(
        'sha256:' + base64.urlsafe_b64encode(raw).decode().rstrip('=')) == \
        ('sha256', raw.hex())
    for bad in ('ab' * 21, 'zz' * 20, 'sha256:a=b', 'sha256:%%%'):
        with pytest.raises(ValueError):
            signed_urls.parse_signature(bad)


def test_hostile_parameters_get_401_or_pass_never_an_error():
    mw, _ = make()
    for params in ({'temp_url_sig': u'\u00e9' * 64,
                    'temp_url_expires': '9999999999'},
                   {'temp_url_sig': 'sha256:\u00e9\u00e9',
                    'temp_url_expires': '9999999999'},
                   {'temp_url_sig': 'x', 'temp_url_expires': '9' * 5000}):
        assert request(PATH, params=params).get_response(mw) \
            .status_int == 401
    # an expiry too far ahead for a date header still serves the object
    huge = 10 ** 20
    resp = request(PATH, params=signed(expires=huge)).get_response(mw)
    assert resp.status_int == 200
    assert 'Expires' not in resp.headers
