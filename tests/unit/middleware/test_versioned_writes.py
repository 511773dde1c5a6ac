"""versioned_writes filter logic against a small in-memory Swift.

The fake keeps objects (headers, body, timestamp) and container metadata
in dicts, answers JSON listings with prefix/marker/reverse, and honours
``swift.authorize`` the way the proxy does (skipped when
``swift.authorize_override`` is set).
"""
import hashlib
import itertools
import json
from urllib.parse import parse_qs, quote, unquote

import pytest
from webob import Request, Response

from middleware import versioned_writes as vw
from objproxy.common import registry
from objproxy.common.exceptions import ConfigError
from objproxy.common.paths import split_path, wsgi_to_str

CLOCK = itertools.count(1700000000)


class FakeSwift(object):
    def __init__(self):
        self.objects = {}      # real-text path -> (headers, body)
        self.containers = {}   # real-text path -> headers
        self.calls = []        # (method, real path, query, env)

    def add_container(self, path, **headers):
        self.containers[path] = dict(
            (k.lower().replace('_', '-'), v) for k, v in headers.items())

    def put(self, path, body=b'', **headers):
        stored = dict((k.lower().replace('_', '-'), v)
                      for k, v in headers.items())
        stored.setdefault('content-type', 'application/octet-stream')
        stored['etag'] = hashlib.md5(body).hexdigest()
        stored['x-timestamp'] = '%016.05f' % next(CLOCK)
        self.objects[path] = (stored, body)

    def __call__(self, env, start_response):
        method = env['REQUEST_METHOD']
        path = wsgi_to_str(unquote(env['PATH_INFO'], encoding='latin-1'))
        query = env.get('QUERY_STRING', '')
        self.calls.append((method, path, query, env))
        authorize = env.get('swift.authorize')
        if authorize and not env.get('swift.authorize_override'):
            req = Request(env)
            _v, _a, cont, _o = split_path(path, 3, 4, True)
            meta = self.containers.get('/v1/a/%s' % cont, {})
            req.acl = meta.get('x-container-write' if method in (
                'PUT', 'POST', 'DELETE') else 'x-container-read')
            denial = authorize(req)
            if denial is not None:
                return denial(env, start_response)
        _v, _a, container, obj = split_path(path, 3, 4, True)
        if obj is None:
            return self.container(env, path, query, start_response)
        return getattr(self, 'do_' + method)(env, path, start_response)

    def container(self, env, path, query, start_response):
        method = env['REQUEST_METHOD']
        if method in ('PUT', 'POST'):
            meta = self.containers.setdefault(path, {})
            for key, value in env.items():
                if key.startswith('HTTP_X_'):
                    name = key[5:].lower().replace('_', '-')
                    if value:
                        meta[name] = value
                    else:
                        meta.pop(name, None)
            return Response(status=204 if method == 'POST' else 201)(
                env, start_response)
        if path not in self.containers:
            return Response(status=404)(env, start_response)
        headers = dict((k.title(), v) for k, v in
                       self.containers[path].items())
        if method == 'HEAD':
            return Response(status=204, headers=headers)(env, start_response)
        params = dict((k, v[0]) for k, v in parse_qs(query).items())
        prefix, marker = params.get('prefix', ''), params.get('marker', '')
        rows = sorted(((p[len(path) + 1:], h) for p, (h, _b)
                       in self.objects.items()
                       if p.startswith(path + '/')), key=lambda r: r[0])
        if params.get('reverse') == 'on':
            rows.reverse()
            rows = [r for r in rows if not marker or r[0] < marker]
        else:
            rows = [r for r in rows if r[0] > marker]
        rows = [{'name': n, 'content_type': h['content-type'],
                 'hash': h['etag']} for n, h in rows if n.startswith(prefix)]
        return Response(status=200, headers=headers,
                        body=json.dumps(rows[:2]).encode(),
                        content_type='application/json')(env, start_response)

    def do_GET(self, env, path, start_response):
        if path not in self.objects:
            return Response(status=404)(env, start_response)
        headers, body = self.objects[path]
        resp = Response(status=200, body=body)
        for key, value in headers.items():
            resp.headers[key.title()] = value
        resp.headers['Last-Modified'] = 'Tue, 14 Nov 2023 22:13:20 GMT'
        return resp(env, start_response)

    do_HEAD = do_GET

    def do_PUT(self, env, path, start_response):
        body = env['wsgi.input'].read()
        headers = dict((k[5:].lower().replace('_', '-'), v)
                       for k, v in env.items() if k.startswith('HTTP_X_O'))
        for key in ('HTTP_X_SYMLINK_TARGET', 'HTTP_X_STATIC_LARGE_OBJECT'):
            if key in env:
                headers[key[5:].lower().replace('_', '-')] = env[key]
        if env.get('CONTENT_TYPE'):
            headers['content-type'] = env['CONTENT_TYPE']
        self.put(path, body, **headers)
        return Response(status=201)(env, start_response)

    def do_DELETE(self, env, path, start_response):
        if self.objects.pop(path, None) is None:
            return Response(status=404)(env, start_response)
        return Response(status=204)(env, start_response)


def make(conf=None, swift=None):
    swift = swift or FakeSwift()
    conf = {'allow_versioned_writes': 'true'} if conf is None else conf
    return vw.filter_factory({}, **conf)(swift), swift


def call(app, path, method='GET', body=None, **headers):
    req = Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = body
    return req.get_response(app)


def archived(swift, container='/v1/a/ver'):
    return sorted((p, h, b) for p, (h, b) in swift.objects.items()
                  if p.startswith(container + '/'))


@pytest.fixture
def stack():
    app, swift = make()
    swift.add_container('/v1/a/ver')
    swift.add_container('/v1/a/c', **{
        vw.SYSMETA_VERSIONS_LOC: 'ver', vw.SYSMETA_VERSIONS_MODE: 'stack'})
    return app, swift


@pytest.fixture
def history(stack):
    app, swift = stack
    swift.containers['/v1/a/c'][vw.SYSMETA_VERSIONS_MODE] = 'history'
    return app, swift


# ---------------------------------------------------------- containers

def test_setting_versions_location_stores_sysmeta_and_shows_client_name():
    app, swift = make()
    resp = call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'ver'})
    assert resp.status_int == 201
    meta = swift.containers['/v1/a/c']
    assert meta[vw.SYSMETA_VERSIONS_LOC] == 'ver'
    assert meta[vw.SYSMETA_VERSIONS_MODE] == 'stack'
    assert 'x-versions-location' not in meta
    resp = call(app, '/v1/a/c', 'HEAD')
    assert resp.headers['X-Versions-Location'] == 'ver'
    assert 'X-History-Location' not in resp.headers


def test_history_location_replaces_versions_location():
    app, swift = make()
    call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'ver'})
    call(app, '/v1/a/c', 'POST', **{'X-History-Location': 'hist'})
    resp = call(app, '/v1/a/c', 'HEAD')
    assert resp.headers['X-History-Location'] == 'hist'
    assert 'X-Versions-Location' not in resp.headers


def test_both_locations_with_values_is_400():
    app, swift = make()
    resp = call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'a',
                                          'X-History-Location': 'b'})
    assert resp.status_int == 400
    assert b'Only one of' in resp.body
    assert '/v1/a/c' not in swift.containers


def test_empty_history_location_defers_to_versions_location():
    app, swift = make()
    call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'a',
                                   'X-History-Location': ''})
    assert swift.containers['/v1/a/c'][vw.SYSMETA_VERSIONS_MODE] == 'stack'


@pytest.mark.parametrize('header', ['X-Remove-Versions-Location',
                                    'X-Remove-History-Location'])
def test_remove_header_clears_location(header):
    app, swift = make()
    call(app, '/v1/a/c', 'PUT', **{'X-History-Location': 'ver'})
    call(app, '/v1/a/c', 'POST', **{header: 'x'})
    meta = swift.containers['/v1/a/c']
    assert vw.SYSMETA_VERSIONS_LOC not in meta
    assert 'x-remove-versions-location' not in meta
    resp = call(app, '/v1/a/c', 'HEAD')
    assert 'X-History-Location' not in resp.headers


def test_location_wins_over_remove_in_same_request():
    app, swift = make()
    call(app, '/v1/a/c', 'POST', **{'X-Remove-Versions-Location': 'x',
                                    'X-Versions-Location': 'ver'})
    assert swift.containers['/v1/a/c'][vw.SYSMETA_VERSIONS_LOC] == 'ver'


def test_location_with_slash_is_412():
    app, _swift = make()
    resp = call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'a/b'})
    assert resp.status_int == 412
    assert b'cannot contain slashes' in resp.body


def test_disabled_refuses_setting_a_location():
    app, swift = make({'allow_versioned_writes': 'false'})
    resp = call(app, '/v1/a/c', 'POST', **{'X-Versions-Location': 'ver'})
    assert resp.status_int == 412
    assert resp.body == b'Versioned Writes is disabled'


def test_unset_option_ignores_location_headers():
    app, swift = make({})
    resp = call(app, '/v1/a/c', 'PUT', **{'X-Versions-Location': 'ver',
                                          'X-History-Location': 'h'})
    assert resp.status_int == 201
    assert swift.containers['/v1/a/c'] == {}


# ------------------------------------------------------------- objects

def test_put_archives_current_version_with_its_headers(stack):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'one', **{
        'X-Object-Meta-Color': 'red',
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'Content-Type': 'text/x-one'})
    stamp = swift.objects['/v1/a/c/obj'][0]['x-timestamp']
    resp = call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    assert resp.status_int == 201
    [(path, headers, body)] = archived(swift)
    assert path == '/v1/a/ver/003obj/' + stamp
    assert body == b'one'
    assert headers['x-object-meta-color'] == 'red'
    assert headers['x-object-sysmeta-av-verdict'] == 'clean'
    assert headers['content-type'] == 'text/x-one'
    assert swift.objects['/v1/a/c/obj'][1] == b'two'


def test_archive_prefix_counts_utf8_bytes(stack):
    app, swift = stack
    name = '\u00e9t\u00e9'
    swift.put('/v1/a/c/' + name, b'one')
    call(app, '/v1/a/c/' + quote(name), 'PUT', body=b'two')
    [(path, _h, _b)] = archived(swift)
    assert path.startswith('/v1/a/ver/005' + name + '/')


def test_archive_gets_the_raw_object_pre_authed(stack):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'one')
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    gets = [(q, env) for m, p, q, env in swift.calls
            if m == 'GET' and p == '/v1/a/c/obj']
    [(query, env)] = gets
    assert 'symlink=get' in query
    assert env['HTTP_X_NEWEST'] == 'True'
    assert env['swift.authorize_override'] is True
    assert env['swift.source'] == 'VW'


def test_slo_manifest_archive_keeps_its_size_in_content_type(stack):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'[]', **{
        'X-Static-Large-Object': 'True',
        'X-Object-Sysmeta-Slo-Size': '42',
        'Content-Type': 'text/plain'})
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    [(_p, headers, body)] = archived(swift)
    assert body == b'[]'
    assert headers['content-type'] == 'text/plain;swift_bytes=42'
    assert headers['x-static-large-object'] == 'True'


def test_put_of_new_object_archives_nothing(stack):
    app, swift = stack
    assert call(app, '/v1/a/c/new', 'PUT', body=b'x').status_int == 201
    assert archived(swift) == []


def test_unversioned_container_is_untouched():
    app, swift = make()
    swift.add_container('/v1/a/plain')
    swift.put('/v1/a/plain/o', b'one')
    call(app, '/v1/a/plain/o', 'PUT', body=b'two')
    assert [c[0] for c in swift.calls if c[1] == '/v1/a/plain/o'] == ['PUT']


def test_disabled_ignores_existing_sysmeta(stack):
    _app, swift = stack
    app, _ = make({'allow_versioned_writes': 'false'}, swift)
    swift.put('/v1/a/c/obj', b'one')
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    assert archived(swift) == []


def test_missing_versions_container_is_412(stack):
    app, swift = stack
    swift.containers['/v1/a/c'][vw.SYSMETA_VERSIONS_LOC] = 'nope'

    def refuse(env, start_response):
        if '/nope/' in env['PATH_INFO']:
            return Response(status=404)(env, start_response)
        return swift(env, start_response)
    app.app = refuse
    swift.put('/v1/a/c/obj', b'one')
    assert call(app, '/v1/a/c/obj', 'PUT', body=b'x').status_int == 412
    assert swift.objects['/v1/a/c/obj'][1] == b'one'


def deny_unless(acl_user):
    def authorize(req):
        if req.acl == acl_user:
            return None
        return Response(status=403)
    return authorize


def test_client_without_write_access_gets_403_and_nothing_is_archived(stack):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'one')
    req = Request.blank('/v1/a/c/obj', method='PUT', body=b'two')
    req.environ['swift.authorize'] = deny_unless('someone-else')
    assert req.get_response(app).status_int == 403
    assert archived(swift) == []
    assert swift.objects['/v1/a/c/obj'][1] == b'one'


def test_write_acl_of_versioned_container_is_enough(stack):
    app, swift = stack
    swift.containers['/v1/a/c']['x-container-write'] = 'u2'
    swift.put('/v1/a/c/obj', b'one')
    req = Request.blank('/v1/a/c/obj', method='PUT', body=b'two')
    req.environ['swift.authorize'] = deny_unless('u2')
    assert req.get_response(app).status_int == 201
    assert len(archived(swift)) == 1


def test_stack_delete_restores_newest_version(stack):
    app, swift = stack
    for body in (b'one', b'two', b'three'):
        call(app, '/v1/a/c/obj', 'PUT', body=body)
    assert len(archived(swift)) == 2
    assert call(app, '/v1/a/c/obj', 'DELETE').status_int == 204
    assert swift.objects['/v1/a/c/obj'][1] == b'two'
    assert [b for _p, _h, b in archived(swift)] == [b'one']
    call(app, '/v1/a/c/obj', 'DELETE')
    assert swift.objects['/v1/a/c/obj'][1] == b'one'
    assert archived(swift) == []
    assert call(app, '/v1/a/c/obj', 'DELETE').status_int == 204
    assert '/v1/a/c/obj' not in swift.objects
    assert call(app, '/v1/a/c/obj', 'DELETE').status_int == 404


def test_restore_keeps_the_verdict(stack):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'one', **{'X-Object-Sysmeta-Av-Verdict': 'v1'})
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    call(app, '/v1/a/c/obj', 'DELETE')
    headers, body = swift.objects['/v1/a/c/obj']
    assert body == b'one'
    assert headers['x-object-sysmeta-av-verdict'] == 'v1'


def test_stack_delete_needs_write_access(stack):
    app, swift = stack
    call(app, '/v1/a/c/obj', 'PUT', body=b'one')
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    req = Request.blank('/v1/a/c/obj', method='DELETE')
    req.environ['swift.authorize'] = deny_unless('nobody')
    assert req.get_response(app).status_int == 403
    assert swift.objects['/v1/a/c/obj'][1] == b'two'
    assert len(archived(swift)) == 1


def test_history_delete_archives_and_writes_marker(history):
    app, swift = history
    call(app, '/v1/a/c/obj', 'PUT', body=b'one')
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    assert call(app, '/v1/a/c/obj', 'DELETE').status_int == 204
    assert '/v1/a/c/obj' not in swift.objects
    rows = archived(swift)
    assert [b for _p, _h, b in rows] == [b'one', b'two', b'']
    assert rows[-1][1]['content-type'] == vw.DELETE_MARKER_CONTENT_TYPE


def test_stack_delete_after_history_marker_restores_previous(history):
    app, swift = history
    call(app, '/v1/a/c/obj', 'PUT', body=b'one')
    call(app, '/v1/a/c/obj', 'PUT', body=b'two')
    call(app, '/v1/a/c/obj', 'DELETE')
    swift.containers['/v1/a/c'][vw.SYSMETA_VERSIONS_MODE] = 'stack'
    assert call(app, '/v1/a/c/obj', 'DELETE').status_int == 204
    assert swift.objects['/v1/a/c/obj'][1] == b'two'
    assert [b for _p, _h, b in archived(swift)] == [b'one']


def test_listing_pages_are_followed(stack):
    app, swift = stack
    for body in (b'1', b'2', b'3', b'4'):
        call(app, '/v1/a/c/obj', 'PUT', body=body)
    for expected in (b'3', b'2', b'1'):
        call(app, '/v1/a/c/obj', 'DELETE')
        assert swift.objects['/v1/a/c/obj'][1] == expected


def test_oversized_or_unsized_source_is_413(stack, monkeypatch):
    app, swift = stack
    swift.put('/v1/a/c/obj', b'one')
    monkeypatch.setitem(vw.constraints.LIMITS, 'max_file_size', 2)
    assert call(app, '/v1/a/c/obj', 'PUT', body=b'x').status_int == 413


# -------------------------------------------------------------- config

def test_info_sections():
    registry.clear_info()
    vw.filter_factory({}, allow_versioned_writes='true')
    info = registry.get_info()
    assert info['versioned_writes'] == {'allowed_flags': [
        'x-versions-location', 'x-history-location']}
    assert 'object_versioning' not in info
    registry.clear_info()
    vw.filter_factory({}, allow_object_versioning='true')
    info = registry.get_info()
    assert 'versioned_writes' not in info
    assert info['object_versioning'] == {}
    registry.clear_info()


def test_object_versioning_wraps_the_app():
    from middleware.object_versioning import ObjectVersioningMiddleware
    swift = FakeSwift()
    app = vw.filter_factory({}, allow_object_versioning='yes')(swift)
    assert isinstance(app.app, ObjectVersioningMiddleware)
    assert app.app.app is swift
    app = vw.filter_factory({})(swift)
    assert app.app is swift
    registry.clear_info()


@pytest.mark.parametrize('conf', [{'allow_versioned_writes': 'maybe'},
                                  {'allow_object_versioning': 'x'},
                                  {'allow_versions': 'true'}])
def test_bad_config_is_refused(conf):
    with pytest.raises(ConfigError):
        vw.filter_factory({}, **conf)


@pytest.mark.parametrize('stored', [
    '%C3%A9t%C3%A9', '\u00e9t\u00e9',
    '\u00e9t\u00e9'.encode('utf-8').decode('latin-1'), 'ver%2Fignored'])
def test_location_may_be_quoted_or_raw_utf8(stored):
    assert vw.location_container(stored) == (
        'ver' if stored.startswith('ver') else '\u00e9t\u00e9')
