"""Routing, validation and config of the proxy Application (in-process)."""
import json

import pytest
from webob import Request

import objproxy
from objproxy.common.exceptions import ConfigError
from objproxy.proxy.server import Application, app_factory, generate_trans_id


def call(app, path, method='GET', headers=None, body=None, env=None):
    req = Request.blank(path, environ=dict({'REQUEST_METHOD': method},
                                           **(env or {})),
                        headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)


def test_trans_id_format():
    tid = generate_trans_id()
    assert tid.startswith('tx') and len(tid.split('-')[0]) == 23
    int(tid.split('-')[1], 16)


def test_trans_id_from_env_is_echoed(proxy_app):
    resp = call(proxy_app, '/v1/AUTH_test/c/o' + 'x' * 2000,
                env={'swift.trans_id': 'txabc'})
    assert resp.headers['X-Trans-Id'] == 'txabc'
    assert resp.headers['X-Openstack-Request-Id'] == 'txabc'


@pytest.mark.parametrize('path,status', [
    ('/v1/AUTH_test/c/' + 'o' * 1025, 400),
    ('/v1/AUTH_test/' + 'c' * 257, 404),
    ('/v1/' + 'a' * 257, 400),
    ('/v2/AUTH_test', 400),
    ('/v1', 412),
    ('/info asdf', 412),
    ('/', 404),
    ('/v1//c', 404),
    ('/v1/AUTH_test//o', 404),
])
def test_bad_paths_are_4xx(proxy_app, path, status):
    resp = call(proxy_app, path)
    assert resp.status_int == status
    assert resp.headers['X-Trans-Id'].startswith('tx')


def test_invalid_utf8_and_nul_are_412(proxy_app):
    for raw in (b'/v1/AUTH_test/\xff\xfe', b'/v1/AUTH_test/c\x00'):
        req = Request.blank('/')
        req.environ['PATH_INFO'] = raw.decode('latin-1')
        resp = req.get_response(proxy_app)
        assert resp.status_int == 412
        assert b'Invalid UTF8 or contains NULL' in resp.body


@pytest.mark.parametrize('path', [
    '/v1/AUTH_\x00x', '/v1/AUTH_test/\x00versions\x00c',
    '/v1/AUTH_test/c/\x00o\x001', '/v1/AUTH_test/c/o\x00'])
def test_client_nul_is_412_on_every_verb(proxy_app, path):
    """Without X-Backend-Allow-Reserved-Names a NUL anywhere is refused
    before any node is asked, whatever the verb."""
    for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY',
                   'OPTIONS'):
        req = Request.blank('/', environ={'REQUEST_METHOD': method})
        req.environ['PATH_INFO'] = path
        resp = req.get_response(proxy_app)
        assert resp.status_int == 412, (method, path)
        if method != 'HEAD':
            assert resp.body == b'Invalid UTF8 or contains NULL'


def test_bad_lengths_and_methods(proxy_app):
    resp = call(proxy_app, '/v1/AUTH_test/c/o', 'PUT',
                env={'CONTENT_LENGTH': '-3'})
    assert resp.status_int == 400
    resp = call(proxy_app, '/v1/AUTH_test/c', 'PATCH')
    assert resp.status_int == 405
    assert 'PUT' in resp.headers['Allow']
    resp = call(proxy_app, '/v1/AUTH_test', 'PUT')
    assert resp.status_int == 405  # allow_account_management is off


def test_too_many_headers(proxy_app):
    headers = dict(('X-H%d' % i, 'v') for i in range(300))
    assert call(proxy_app, '/v1/AUTH_test', 'HEAD', headers).status_int \
        == 400
    assert call(proxy_app, '/v1/AUTH_test', 'HEAD',
                {'X-Long': 'v' * 9000}).status_int == 400


def test_info_endpoint(proxy_app):
    resp = call(proxy_app, '/info')
    assert resp.status_int == 200
    info = json.loads(resp.body)
    assert info['swift']['max_meta_count'] == 90
    assert info['swift']['account_listing_limit'] == 10000
    assert info['swift']['version'] == objproxy.__version__
    assert call(proxy_app, '/info', 'POST').status_int == 405


def test_authorize_hook_and_override(proxy_app):
    seen = []

    def deny(req):
        seen.append(getattr(req, 'acl', None))
        from objproxy.common.response import error_response
        return error_response(403)

    resp = call(proxy_app, '/v1/AUTH_test', env={'swift.authorize': deny})
    assert resp.status_int == 403 and seen == [None]
    # as Swift: the override only keeps auth filters from replacing the
    # callback; the proxy still asks it
    resp = call(proxy_app, '/v1/AUTH_test', 'HEAD',
                env={'swift.authorize': deny,
                     'swift.authorize_override': True})
    assert resp.status_int == 403 and seen == [None, None]


def test_config_errors_are_clear(etc_dir):
    conf = {'objproxy_dir': etc_dir}
    with pytest.raises(ConfigError) as err:
        app_factory({}, **dict(conf, node_timout='3'))
    assert 'node_timout' in str(err.value)
    with pytest.raises(ConfigError) as err:
        Application(dict(conf, node_timeout='soon'))
    assert 'node_timeout' in str(err.value)
    with pytest.raises(ConfigError):
        Application(dict(conf, account_autocreate='maybe'))
    with pytest.raises(ConfigError):
        Application({'objproxy_dir': '/nonexistent/objproxy'})
