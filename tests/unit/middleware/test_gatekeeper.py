"""gatekeeper: backend-only headers blocked in both directions."""
import pytest
from webob import Request

from middleware import gatekeeper
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info

BLOCKED = ['X-Backend-Storage-Policy-Index', 'X-Account-Sysmeta-Quota',
           'X-Container-Sysmeta-Foo', 'X-Object-Sysmeta-Crypto',
           'X-Object-Transient-Sysmeta-Bar']
ALLOWED = ['X-Object-Meta-Color', 'X-Container-Read', 'X-Auth-Token',
           'X-Account-Meta-Sysmeta-Lookalike', 'Content-Type']


def make_app():
    seen = {}

    def app(env, start_response):
        seen['headers'] = dict(Request(env).headers)
        start_response('200 OK', [(h, 'v') for h in BLOCKED + ALLOWED] +
                       [('Content-Length', '0')])
        return [b'']
    return gatekeeper.filter_factory({})(app), seen


def test_request_headers_stripped():
    app, seen = make_app()
    req = Request.blank('/v1/a/c/o', headers={h: 'v' for h in BLOCKED +
                                              ALLOWED})
    req.get_response(app)
    names = {k.lower() for k in seen['headers']}
    for header in BLOCKED:
        assert header.lower() not in names
    for header in ALLOWED:
        assert header.lower() in names


def test_response_headers_stripped():
    app, _ = make_app()
    resp = Request.blank('/v1/a').get_response(app)
    for header in BLOCKED:
        assert header not in resp.headers
    for header in ALLOWED:
        assert resp.headers[header] == 'v'


def test_registered_and_options_checked():
    gatekeeper.filter_factory({})
    assert 'gatekeeper' in get_info()
    with pytest.raises(ConfigError):
        gatekeeper.filter_factory({}, bogus='1')


def test_client_cannot_claim_the_reserved_namespace():
    """X-Backend-Allow-Reserved-Names is what lets a request name NUL-led
    (reserved) paths; a client's copy never reaches the proxy."""
    app, seen = make_app()
    req = Request.blank('/v1/a/c/o', headers={
        'X-Backend-Allow-Reserved-Names': 'true'})
    req.get_response(app)
    assert 'x-backend-allow-reserved-names' not in {
        k.lower() for k in seen['headers']}
