"""CORS as Swift's proxy answers it: preflights, the headers of actual
answers, strict mode and the operator's options."""
import pytest
from webob import Request
from webob import Response as WebobResponse

from objproxy.common.exceptions import ConfigError
from objproxy.proxy import cors
from objproxy.common.response import Response

METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')


def preflight(settings, options=cors.DEFAULTS, **headers):
    req = Request.blank('/v1/a/c/o', method='OPTIONS', headers=headers)
    return cors.preflight(METHODS, settings, req, options)


def ask(method='GET', origin='http://m.com', **headers):
    headers = dict(headers, Origin=origin,
                   **{'Access-Control-Request-Method': method})
    return headers


def test_options_without_an_origin_just_lists_the_methods():
    resp = preflight({'allow_origin': '*'})
    assert resp.status == 200
    assert resp.get_header('Allow') == ', '.join(sorted(METHODS))
    assert resp.get_header('Access-Control-Allow-Origin') is None


def test_an_accounts_preflight_only_lists_the_methods():
    resp = preflight(None, **ask())
    assert resp.status == 200
    assert resp.get_header('Access-Control-Allow-Origin') is None


def test_a_preflight_needs_an_allowed_origin_and_method():
    assert preflight({'allow_origin': '*'}, Origin='http://m.com').status \
        == 401
    refused = preflight({'allow_origin': 'http://secret.com'}, **ask())
    assert refused.status == 401
    assert refused.get_header('Access-Control-Allow-Origin') is None
    assert b'Unauthorized' in refused.body
    assert preflight({'allow_origin': '*'}, **ask('LICK')).status == 401
    assert preflight({}, **ask()).status == 401


def test_a_granted_preflight_names_origin_methods_and_headers():
    resp = preflight({'allow_origin': 'http://a.com  http://m.com',
                      'max_age': '600'}, **ask(
        'PUT', **{'Access-Control-Request-Headers':
                  'x-auth-token, content-type, x-auth-token'}))
    assert resp.status == 200
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert resp.get_header('Access-Control-Max-Age') == '600'
    assert resp.get_header('Access-Control-Allow-Methods') == \
        ', '.join(sorted(METHODS))
    assert resp.get_header('Access-Control-Allow-Headers') == \
        'x-auth-token, content-type'
    assert resp.get_header('Vary') == \
        'Origin, Access-Control-Request-Headers'


def test_a_wildcard_preflight_does_not_vary_on_origin():
    resp = preflight({'allow_origin': '*'}, **ask())
    assert resp.get_header('Access-Control-Allow-Origin') == '*'
    assert resp.get_header('Vary') is None
    assert resp.get_header('Access-Control-Max-Age') is None
    resp = preflight({'allow_origin': '*'}, **ask(
        **{'Access-Control-Request-Headers': 'x-auth-token'}))
    assert resp.get_header('Vary') == 'Access-Control-Request-Headers'


def test_cors_allow_origin_grants_every_container():
    options = cors.load_options({'cors_allow_origin':
                                 'http://m.com, http://n.com'})
    resp = preflight({}, options, **ask())
    assert resp.status == 200
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert preflight({}, options, **ask(origin='http://x.com')).status \
        == 401


def test_an_answer_exposes_metadata_to_an_allowed_origin():
    resp = Response(200, headers=[('X-Object-Meta-Color', 'red'),
                                  ('Etag', 'x')], body=b'')
    cors.expose({'allow_origin': '*', 'expose_headers': 'X-Custom  X-Two'},
                'http://m.com', resp)
    exposed = resp.get_header('Access-Control-Expose-Headers').split(', ')
    assert set(exposed) == set(cors.ALWAYS_EXPOSED) | {
        'x-object-meta-color', 'x-custom', 'x-two'}
    assert resp.get_header('Access-Control-Allow-Origin') == '*'
    assert resp.get_header('Vary') is None


def test_a_named_origin_is_echoed_and_varies():
    resp = Response(200, headers=[('Vary', 'Accept')], body=b'')
    cors.expose({'allow_origin': 'http://m.com'}, 'http://m.com', resp)
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert resp.get_header('Vary') == 'Accept, Origin'


def test_operator_expose_headers_are_added():
    options = cors.load_options({'cors_expose_headers': 'X-A, x-b'})
    resp = Response(200, body=b'')
    cors.expose({'allow_origin': '*'}, 'http://m.com', resp,
                options=options)
    exposed = resp.get_header('Access-Control-Expose-Headers').split(', ')
    assert 'x-a' in exposed and 'x-b' in exposed


def test_headers_already_set_are_kept():
    resp = Response(200, headers=[
        ('Access-Control-Expose-Headers', 'x-mine'),
        ('Access-Control-Allow-Origin', 'http://other')], body=b'')
    cors.expose({'allow_origin': '*'}, 'http://m.com', resp)
    assert resp.get_header('Access-Control-Expose-Headers') == 'x-mine'
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://other'


def test_strict_mode_gives_an_unlisted_origin_nothing():
    resp = Response(200, body=b'')
    cors.expose({'allow_origin': 'http://secret.com'}, 'http://m.com', resp)
    assert resp.get_header('Access-Control-Allow-Origin') is None
    assert resp.get_header('Access-Control-Expose-Headers') is None
    cors.expose({'allow_origin': 'http://secret.com'}, 'http://m.com', resp,
                strict=False)
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert resp.get_header('Vary') == 'Origin'


def test_an_auth_filters_denial_gets_the_headers_too():
    denied = WebobResponse(status=401, body=b'Unauthorized')
    cors.expose({'allow_origin': '*'}, 'http://m.com', denied)
    assert denied.headers['Access-Control-Allow-Origin'] == '*'
    assert 'etag' in denied.headers['Access-Control-Expose-Headers']


def test_options_have_swifts_names_and_defaults():
    assert cors.load_options({}) == cors.CorsOptions((), (), True)
    options = cors.load_options({'strict_cors_mode': 'no',
                                 'cors_allow_origin': ' http://a.com ,',
                                 'cors_expose_headers': 'X-Foo'})
    assert options == cors.CorsOptions(('http://a.com',), ('x-foo',), False)


@pytest.mark.parametrize('conf', [
    {'strict_cors_mode': 'maybe'},
    {'cors_allow_origin': 'http://a.com http://b.com'},
])
def test_invalid_options_are_refused(conf):
    with pytest.raises(ConfigError):
        cors.load_options(conf)


class FakeApp(object):
    def __init__(self, allow_origin, conf=None):
        self.conf = conf or {}
        self.info_calls = 0
        self.allow_origin = allow_origin

    def container_info(self, env, account, container):
        self.info_calls += 1
        return {'status': 200, 'cors': {'allow_origin': self.allow_origin}}


class FakeController(object):
    account_name = 'AUTH_a'

    def __init__(self, container, app=None):
        self.container_name = container
        self.app = app

    def GET(self, req):
        if self.app is not None:      # the request changes the settings
            self.app.allow_origin = 'http://new.com'
        return Response(200, headers=[('X-Object-Meta-A', '1')], body=b'x')


def test_handle_uses_the_settings_from_before_the_request():
    app = FakeApp('http://m.com')
    req = Request.blank('/v1/AUTH_a/c/o', headers={'Origin': 'http://m.com'})
    resp = cors.handle(app, FakeController('c', app), req, 'GET')
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert 'x-object-meta-a' in resp.get_header(
        'Access-Control-Expose-Headers')


def test_handle_leaves_same_origin_and_account_requests_alone():
    app = FakeApp('*')
    req = Request.blank('/v1/AUTH_a/c/o')
    resp = cors.handle(app, FakeController('c'), req, 'GET')
    assert resp.get_header('Access-Control-Allow-Origin') is None
    assert app.info_calls == 0
    req = Request.blank('/v1/AUTH_a', headers={'Origin': 'http://m.com'})
    resp = cors.handle(app, FakeController(None), req, 'GET')
    assert resp.get_header('Access-Control-Allow-Origin') is None


def test_handle_reads_the_apps_options():
    app = FakeApp(None, {'cors_allow_origin': 'http://m.com'})
    req = Request.blank('/v1/AUTH_a/c/o', headers={'Origin': 'http://m.com'})
    resp = cors.handle(app, FakeController('c'), req, 'GET')
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    app.cors = cors.load_options({'strict_cors_mode': 'false'})
    req = Request.blank('/v1/AUTH_a/c/o', headers={'Origin': 'http://x.com'})
    resp = cors.handle(app, FakeController('c'), req, 'GET')
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://x.com'
