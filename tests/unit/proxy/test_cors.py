from webob import Request

from objproxy.proxy import cors
from objproxy.proxy.response import Response

METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')


def preflight(settings, **headers):
    req = Request.blank('/v1/a/c/o', method='OPTIONS', headers=headers)
    return cors.preflight(METHODS, settings, req)


def test_options_without_an_origin_just_lists_the_methods():
    resp = preflight({'allow_origin': '*'})
    assert resp.status == 200
    assert resp.get_header('Allow') == ', '.join(sorted(METHODS))
    assert resp.get_header('Access-Control-Allow-Origin') is None


def test_a_preflight_needs_an_allowed_origin_and_method():
    assert preflight({'allow_origin': '*'}, Origin='http://m.com').status \
        == 401
    assert preflight({'allow_origin': 'http://secret.com'},
                     Origin='http://m.com',
                     **{'Access-Control-Request-Method': 'GET'}
                     ).status == 401
    assert preflight({'allow_origin': '*'}, Origin='http://m.com', **{
        'Access-Control-Request-Method': 'LICK'}).status == 401


def test_a_granted_preflight_names_origin_methods_and_headers():
    resp = preflight({'allow_origin': 'http://a.com http://m.com',
                      'max_age': '600'}, Origin='http://m.com', **{
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'x-auth-token, content-type'})
    assert resp.status == 200
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert resp.get_header('Access-Control-Max-Age') == '600'
    assert resp.get_header('Access-Control-Allow-Headers') == \
        'x-auth-token, content-type'
    assert 'Origin' in resp.get_header('Vary')
    wildcard = preflight({'allow_origin': '*'}, Origin='http://m.com', **{
        'Access-Control-Request-Method': 'GET'})
    assert wildcard.get_header('Access-Control-Allow-Origin') == '*'


def test_an_answer_exposes_metadata_to_an_allowed_origin():
    resp = Response(200, headers=[('X-Object-Meta-Color', 'red'),
                                  ('Etag', 'x')], body=b'')
    cors.expose({'allow_origin': '*', 'expose_headers': 'X-Custom'},
                'http://m.com', resp)
    exposed = resp.get_header('Access-Control-Expose-Headers').split(', ')
    assert 'x-object-meta-color' in exposed and 'etag' in exposed
    assert 'x-custom' in exposed
    assert resp.get_header('Access-Control-Allow-Origin') == '*'


def test_strict_mode_gives_an_unlisted_origin_nothing():
    resp = Response(200, body=b'')
    cors.expose({'allow_origin': 'http://secret.com'}, 'http://m.com', resp)
    assert resp.get_header('Access-Control-Allow-Origin') is None
    cors.expose({'allow_origin': 'http://secret.com'}, 'http://m.com', resp,
                strict=False)
    assert resp.get_header('Access-Control-Allow-Origin') == 'http://m.com'
    assert resp.get_header('Vary') == 'Origin'
