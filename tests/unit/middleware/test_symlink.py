"""symlink filter logic against a small in-memory object store.

FakeStore keeps objects as (headers, body), stores X-Object-Sysmeta-* and
X-Object-Meta-* as an object node does, evaluates conditions and ranges
with the real rules (objproxy.common.ranges) and, like objproxy's
object server, answers 412/416 with validators only (no sysmeta).  It
honours ``swift.authorize`` like the proxy, so tests can see which reads
are made as the client.
"""
import hashlib
import io
import json

import pytest
from webob import Request, Response

from middleware import symlink
from objproxy.common import registry
from objproxy.common.config import ConfigError
from objproxy.common import ranges

EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'
TARGET_BODY = b'this is the target body'
TARGET_MD5 = hashlib.md5(TARGET_BODY).hexdigest()
LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT'
STORED_PREFIXES = ('x-object-sysmeta-', 'x-object-meta-')


class FakeStore(object):
    def __init__(self, post_returns_sysmeta=False):
        self.objects = {}
        self.calls = []     # (method, path, env)
        self.listings = {}  # container path -> (content type, body)
        self.post_returns_sysmeta = post_returns_sysmeta

    def put(self, path, body=b'', **headers):
        stored = dict((k.lower().replace('_', '-'), v)
                      for k, v in headers.items())
        stored.setdefault('content-type', 'application/octet-stream')
        stored['etag'] = hashlib.md5(body).hexdigest()
        self.objects[path] = (stored, body)

    def __call__(self, env, start_response):
        method, path = env['REQUEST_METHOD'], env['PATH_INFO']
        self.calls.append((method, path, env))
        authorize = env.get('swift.authorize')
        if authorize and not env.get('swift.authorize_override'):
            denial = authorize(Request(env))
            if denial is not None:
                return denial(env, start_response)
        if path in self.listings:
            ctype, body = self.listings[path]
            return Response(body=body, content_type=ctype)(
                env, start_response)
        return getattr(self, 'do_' + method)(env, path, start_response)

    def do_PUT(self, env, path, start_response):
        req = Request(env)
        body = req.body_file.read()
        headers = dict((k.lower(), v) for k, v in req.headers.items()
                       if k.lower().startswith(STORED_PREFIXES))
        headers['content-type'] = req.headers.get(
            'Content-Type', 'application/octet-stream')
        self.put(path, body, **headers)
        return Response(status=201)(env, start_response)

    def do_POST(self, env, path, start_response):
        if path not in self.objects:
            return Response(status=404)(env, start_response)
        stored, body = self.objects[path]
        for key in [k for k in stored if k.startswith('x-object-meta-')]:
            del stored[key]
        for key, value in Request(env).headers.items():
            if key.lower().startswith('x-object-meta-'):
                stored[key.lower()] = value
        headers = {}
        if self.post_returns_sysmeta:
            headers = dict((k, v) for k, v in stored.items()
                           if k.startswith('x-object-sysmeta-'))
        return Response(status=202, headers=headers)(env, start_response)

    def do_HEAD(self, env, path, start_response):
        return self.do_GET(env, path, start_response)

    def do_DELETE(self, env, path, start_response):
        found = self.objects.pop(path, None)
        return Response(status=204 if found else 404)(env, start_response)

    def do_GET(self, env, path, start_response):
        if path not in self.objects:
            return Response(status=404)(env, start_response)
        stored, body = self.objects[path]
        headers = [(k.title(), v) for k, v in stored.items()]
        headers.append(('Last-Modified', LAST_MODIFIED))
        cond = ranges.evaluate_conditions(
            env, stored['etag'], 1735689600, env['REQUEST_METHOD'])
        if cond == 304:
            return Response(status=304, headerlist=headers)(
                env, start_response)
        if cond == 412:     # validators only, as objproxy's object server
            return Response(status=412, headerlist=[
                ('Etag', stored['etag'])])(env, start_response)
        wanted = ranges.parse_range(env.get('HTTP_RANGE'), len(body))
        if wanted == []:
            return Response(status=416, headerlist=[
                ('Etag', stored['etag'])])(env, start_response)
        resp = Response(body=body, headerlist=headers)
        if wanted:
            start, stop = wanted[0]
            resp = Response(status=206, body=body[start:stop],
                            headerlist=headers + [(
                                'Content-Range', 'bytes %d-%d/%d' % (
                                    start, stop - 1, len(body)))])
        return resp(env, start_response)


def make(store=None, **conf):
    registry.clear_info()
    store = store or FakeStore()
    store.put('/v1/a/c/target', TARGET_BODY, content_type='text/target')
    return symlink.filter_factory({}, **conf)(store), store


def call(app, path, method='GET', body=None, **headers):
    req = Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = body
    return req.get_response(app)


def put_link(app, path, target, **headers):
    return call(app, path, 'PUT', b'', **dict(
        headers, **{'X-Symlink-Target': target}))


# --------------------------------------------------------------- links PUT

def test_put_link_stores_target_as_sysmeta_and_listing_params():
    app, store = make()
    resp = put_link(app, '/v1/a/c/link', 'c/target')
    assert resp.status_int == 201
    stored, body = store.objects['/v1/a/c/link']
    assert body == b''
    assert stored['x-object-sysmeta-symlink-target'] == 'c/target'
    assert 'x-symlink-target' not in stored
    assert stored['content-type'] == 'application/symlink'
    assert stored['x-object-sysmeta-container-update-override-etag'] == \
        EMPTY_MD5 + '; symlink_target=c/target'


def test_put_link_keeps_client_content_type_and_records_account():
    app, store = make()
    resp = put_link(app, '/v1/a/c/link', 'c/target',
                    **{'X-Symlink-Target-Account': 'b',
                       'Content-Type': 'text/x-link'})
    assert resp.status_int == 201
    stored, _ = store.objects['/v1/a/c/link']
    assert stored['content-type'] == 'text/x-link'
    assert stored['x-object-sysmeta-symlink-target-account'] == 'b'
    assert stored['x-object-sysmeta-container-update-override-etag'] == \
        EMPTY_MD5 + '; symlink_target=c/target; symlink_target_account=b'


def test_put_link_replaces_eventlets_default_content_type():
    app, store = make()
    req = Request.blank('/v1/a/c/link', method='PUT', body=b'',
                        headers={'X-Symlink-Target': 'c/target'})
    req.environ['CONTENT_TYPE'] = 'text/plain'      # filled by eventlet
    req.environ['headers_raw'] = (('X-Symlink-Target', 'c/target'),)
    assert req.get_response(app).status_int == 201
    assert store.objects['/v1/a/c/link'][0]['content-type'] == \
        'application/symlink'
    # the proxy judges the type by headers_raw: it must now show it
    assert ('Content-Type', 'application/symlink') in \
        req.environ['headers_raw']


def test_put_link_keeps_content_type_a_filter_set():
    app, store = make()
    req = Request.blank('/v1/a/c/link', method='PUT', body=b'',
                        headers={'X-Symlink-Target': 'c/target'})
    req.environ['CONTENT_TYPE'] = 'application/x-versioned'
    req.environ['headers_raw'] = (('X-Symlink-Target', 'c/target'),)
    assert req.get_response(app).status_int == 201
    assert store.objects['/v1/a/c/link'][0]['content-type'] == \
        'application/x-versioned'


def test_link_written_by_object_versioning_is_static_without_a_check():
    """Swift's object_versioning PUTs the link with the target ETag and
    size as sysmeta, in the reserved namespace."""
    app, store = make()
    req = Request.blank('/v1/a/c/o', method='PUT', body=b'', headers={
        'X-Symlink-Target': '%00versions%00c/%00o%00ts',
        'X-Object-Sysmeta-Symlink-Target-Etag': TARGET_MD5,
        'X-Object-Sysmeta-Symlink-Target-Bytes': '23',
        'X-Object-Sysmeta-Symloop-Extend': 'true',
        'X-Object-Sysmeta-Allow-Reserved-Names': 'true',
        'X-Backend-Allow-Reserved-Names': 'true',
        'Content-Type': 'text/plain'})
    assert req.get_response(app).status_int == 201
    assert [c[:2] for c in store.calls] == [('PUT', '/v1/a/c/o')]
    stored, _ = store.objects['/v1/a/c/o']
    assert stored['x-object-sysmeta-symlink-target'] == \
        '%00versions%00c/%00o%00ts'
    assert stored['x-object-sysmeta-container-update-override-etag'] == (
        '%s; symlink_target=%%00versions%%00c/%%00o%%00ts; '
        'symlink_target_etag=%s; symlink_target_bytes=23'
        % (EMPTY_MD5, TARGET_MD5))


def test_client_cannot_link_into_reserved_names():
    app, _ = make()
    assert put_link(app, '/v1/a/c/link', '%00v/o').status_int == 412


def test_put_link_target_is_stored_percent_encoded():
    app, store = make()
    resp = put_link(app, '/v1/a/c/link', 'c/a%20b')
    assert resp.status_int == 201
    stored, _ = store.objects['/v1/a/c/link']
    assert stored['x-object-sysmeta-symlink-target'] == 'c/a%20b'


def test_put_link_with_body_is_400():
    app, store = make()
    resp = call(app, '/v1/a/c/link', 'PUT', b'data',
                **{'X-Symlink-Target': 'c/target'})
    assert resp.status_int == 400
    assert resp.body == b'Symlink requests require a zero byte body'
    assert '/v1/a/c/link' not in store.objects


def test_put_link_with_chunked_body_is_400():
    app, _ = make()
    req = Request.blank('/v1/a/c/link', method='PUT',
                        headers={'X-Symlink-Target': 'c/target',
                                 'Transfer-Encoding': 'chunked'})
    req.environ['wsgi.input'] = io.BytesIO(b'x')
    req.environ.pop('CONTENT_LENGTH', None)
    assert req.get_response(app).status_int == 400


@pytest.mark.parametrize('target', ['/c/target', 'c', 'c/', '/c', '%2Fc/o'])
def test_put_link_malformed_target_is_412(target):
    app, _ = make()
    resp = put_link(app, '/v1/a/c/link', target)
    assert resp.status_int == 412
    assert resp.body == (b'X-Symlink-Target header must be of the form '
                         b'<container name>/<object name>')


@pytest.mark.parametrize('account, message', [
    ('', b'Account name cannot be empty'),
    ('a/b', b'Account name cannot contain slashes')])
def test_put_link_bad_target_account_is_412(account, message):
    app, _ = make()
    resp = put_link(app, '/v1/a/c/link', 'c/o',
                    **{'X-Symlink-Target-Account': account})
    assert (resp.status_int, resp.body) == (412, message)


def test_put_link_to_itself_is_400():
    app, _ = make()
    resp = put_link(app, '/v1/a/c/link', 'c/link',
                    **{'X-Symlink-Target-Account': 'a'})
    assert (resp.status_int, resp.body) == (
        400, b'Symlink cannot target itself')


def test_put_link_etag_with_bad_characters_is_400():
    app, _ = make()
    resp = put_link(app, '/v1/a/c/link', 'c/target',
                    **{'X-Symlink-Target-Etag': 'ab;c'})
    assert (resp.status_int, resp.body) == (
        400, b'Bad X-Symlink-Target-Etag format')


def test_static_link_records_target_etag_size_and_type():
    app, store = make()
    resp = put_link(app, '/v1/a/c/link', 'c/target',
                    **{'X-Symlink-Target-Etag': '"%s"' % TARGET_MD5})
    assert resp.status_int == 201
    stored, _ = store.objects['/v1/a/c/link']
    assert stored['x-object-sysmeta-symlink-target-etag'] == TARGET_MD5
    assert stored['x-object-sysmeta-symlink-target-bytes'] == \
        str(len(TARGET_BODY))
    assert stored['content-type'] == 'text/target'
    assert stored['x-object-sysmeta-container-update-override-etag'] == (
        '%s; symlink_target=c/target; symlink_target_etag=%s; '
        'symlink_target_bytes=%d' % (EMPTY_MD5, TARGET_MD5,
                                     len(TARGET_BODY)))


def test_static_link_target_is_read_as_the_client():
    app, store = make()
    seen = []

    def authorize(req):
        seen.append((req.method, req.path_info))
        if req.path_info == '/v1/a/c/target':
            return Response(status=403)

    req = Request.blank('/v1/a/c/link', method='PUT', body=b'', headers={
        'X-Symlink-Target': 'c/target',
        'X-Symlink-Target-Etag': TARGET_MD5})
    req.environ['swift.authorize'] = authorize
    resp = req.get_response(app)
    assert resp.status_int == 403
    assert ('HEAD', '/v1/a/c/target') in seen
    assert '/v1/a/c/link' not in store.objects


def test_static_link_to_missing_object_is_409():
    app, _ = make()
    resp = put_link(app, '/v1/a/c/link', 'c/nothing',
                    **{'X-Symlink-Target-Etag': TARGET_MD5})
    assert resp.status_int == 409
    assert resp.body == b'X-Symlink-Target does not exist'
    assert resp.headers['Content-Location'] == '/v1/a/c/nothing'


def test_static_link_with_wrong_etag_is_409():
    app, store = make()
    resp = put_link(app, '/v1/a/c/link', 'c/target',
                    **{'X-Symlink-Target-Etag': 'f' * 32})
    assert resp.status_int == 409
    assert resp.body.startswith(b'Object Etag ')
    assert resp.headers['Content-Location'] == '/v1/a/c/target'
    assert '/v1/a/c/link' not in store.objects


def test_static_link_to_slo_manifest_carries_slo_etag_and_size():
    app, store = make()
    store.put('/v1/a/c/manifest', b'[]', **{
        'x-static-large-object': 'True',
        'x-object-sysmeta-slo-etag': 'abc',
        'x-object-sysmeta-slo-size': '1048577'})
    manifest_md5 = hashlib.md5(b'[]').hexdigest()
    resp = put_link(app, '/v1/a/c/link', 'c/manifest',
                    **{'X-Symlink-Target-Etag': manifest_md5})
    assert resp.status_int == 201
    stored, _ = store.objects['/v1/a/c/link']
    assert stored['x-object-sysmeta-symlink-target-bytes'] == '1048577'
    assert stored['x-object-sysmeta-container-update-override-etag'] == (
        '%s; slo_etag=abc; symlink_target=c/manifest; '
        'symlink_target_etag=%s; symlink_target_bytes=1048577'
        % (EMPTY_MD5, manifest_md5))


def test_symlink_override_from_middleware_skips_the_target_check():
    app, store = make()
    req = Request.blank('/v1/a/c/link', method='PUT', body=b'', headers={
        'X-Symlink-Target': 'c/not-yet',
        'X-Symlink-Target-Etag': 'e' * 32,
        'X-Symlink-Target-Bytes': '12'})
    req.environ['swift.symlink_override'] = True
    assert req.get_response(app).status_int == 201
    assert [c[:2] for c in store.calls] == [('PUT', '/v1/a/c/link')]
    stored, _ = store.objects['/v1/a/c/link']
    assert stored['x-object-sysmeta-symlink-target-etag'] == 'e' * 32
    assert stored['x-object-sysmeta-symlink-target-bytes'] == '12'


# ---------------------------------------------------------- following links

def test_get_follows_link_and_names_the_target():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target')
    resp = call(app, '/v1/a/c/link')
    assert resp.status_int == 200
    assert resp.body == TARGET_BODY
    assert resp.headers['Content-Location'] == '/v1/a/c/target'
    assert resp.headers['Etag'] == TARGET_MD5


def test_head_follows_link():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target')
    resp = call(app, '/v1/a/c/link', 'HEAD')
    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'text/target'


def test_get_follows_cross_account_link_as_the_client():
    app, store = make()
    store.put('/v1/b/c2/o', b'other account')
    put_link(app, '/v1/a/c/link', 'c2/o',
             **{'X-Symlink-Target-Account': 'b'})
    seen = []

    def authorize(req):
        seen.append(req.path_info)
        if req.path_info.startswith('/v1/b/'):
            return Response(status=403)

    req = Request.blank('/v1/a/c/link')
    req.environ['swift.authorize'] = authorize
    resp = req.get_response(app)
    assert resp.status_int == 403
    assert seen == ['/v1/a/c/link', '/v1/b/c2/o']


def test_dangling_link_is_404_from_the_target():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/nothing')
    resp = call(app, '/v1/a/c/link')
    assert resp.status_int == 404
    assert resp.headers['Content-Location'] == '/v1/a/c/nothing'


def test_chain_up_to_symloop_max_is_followed_and_beyond_is_409():
    app, _ = make(symloop_max='2')
    put_link(app, '/v1/a/c/l1', 'c/target')
    put_link(app, '/v1/a/c/l2', 'c/l1')
    put_link(app, '/v1/a/c/l3', 'c/l2')
    assert call(app, '/v1/a/c/l2').body == TARGET_BODY
    resp = call(app, '/v1/a/c/l3')
    assert resp.status_int == 409
    assert resp.body == (b'Too many levels of symbolic links, '
                         b'maximum allowed is 2')


def test_symloop_extend_hops_do_not_count():
    app, store = make(symloop_max='1')
    put_link(app, '/v1/a/c/l1', 'c/target')
    put_link(app, '/v1/a/c/l2', 'c/l1')
    store.objects['/v1/a/c/l2'][0]['x-object-sysmeta-symloop-extend'] = \
        'true'
    assert call(app, '/v1/a/c/l2').body == TARGET_BODY


def test_reserved_name_link_is_followed_pre_authorized():
    app, store = make()
    store.put('/v1/a/\x00versions\x00c/\x00o\x001', b'old version')
    store.put('/v1/a/c/o', b'', **{
        'x-object-sysmeta-symlink-target': '%00versions%00c/%00o%001',
        'x-object-sysmeta-allow-reserved-names': 'true'})

    def authorize(req):
        return Response(status=403) if '\x00' in req.path_info else None

    req = Request.blank('/v1/a/c/o')
    req.environ['swift.authorize'] = authorize
    resp = req.get_response(app)
    assert resp.body == b'old version'
    hop_env = store.calls[-1][2]
    assert hop_env['HTTP_X_BACKEND_ALLOW_RESERVED_NAMES'] == 'true'


def test_symlink_get_reads_the_link_itself():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target',
             **{'X-Symlink-Target-Etag': TARGET_MD5})
    resp = call(app, '/v1/a/c/link?symlink=get')
    assert resp.status_int == 200
    assert resp.body == b''
    assert resp.headers['X-Symlink-Target'] == 'c/target'
    assert resp.headers['X-Symlink-Target-Etag'] == TARGET_MD5
    assert resp.headers['X-Symlink-Target-Bytes'] == str(len(TARGET_BODY))
    assert 'Content-Location' not in resp.headers


def test_static_link_whose_target_changed_is_409():
    app, store = make()
    put_link(app, '/v1/a/c/link', 'c/target',
             **{'X-Symlink-Target-Etag': TARGET_MD5})
    store.put('/v1/a/c/target', b'new content')
    resp = call(app, '/v1/a/c/link')
    assert resp.status_int == 409
    assert resp.headers['Content-Location'] == '/v1/a/c/target'


def test_ranged_get_of_link_serves_the_target_range():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target')
    req = Request.blank('/v1/a/c/link', headers={'Range': 'bytes=0-3'})
    resp = req.get_response(app)
    assert resp.status_int == 206
    assert resp.body == TARGET_BODY[:4]
    first = [c[2] for c in app.app.calls
             if c[:2] == ('GET', '/v1/a/c/link')][0]
    assert first['HTTP_X_BACKEND_IGNORE_RANGE_IF_METADATA_PRESENT'] == \
        'x-object-sysmeta-symlink-target'


@pytest.mark.parametrize('headers, status', [
    ({'If-Match': TARGET_MD5}, 200),
    ({'If-Match': 'bogus'}, 412),
    ({'If-None-Match': TARGET_MD5}, 304),
    ({'If-None-Match': EMPTY_MD5}, 200),
    ({'If-Unmodified-Since': 'Tue, 01 Jan 2019 00:00:00 GMT'}, 412),
])
def test_conditions_apply_to_the_target(headers, status):
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target')
    resp = Request.blank('/v1/a/c/link', headers=headers).get_response(app)
    assert resp.status_int == status
    assert resp.headers['Etag'] == TARGET_MD5


def test_conditions_with_symlink_get_apply_to_the_link():
    app, _ = make()
    put_link(app, '/v1/a/c/link', 'c/target')
    resp = Request.blank('/v1/a/c/link?symlink=get', headers={
        'If-Match': EMPTY_MD5}).get_response(app)
    assert resp.status_int == 200
    resp = Request.blank('/v1/a/c/link?symlink=get', headers={
        'If-Match': TARGET_MD5}).get_response(app)
    assert resp.status_int == 412


def test_conditional_failure_on_plain_empty_object_stays_412():
    app, store = make()
    store.put('/v1/a/c/empty', b'')
    resp = Request.blank('/v1/a/c/empty', headers={
        'If-Match': 'bogus'}).get_response(app)
    assert resp.status_int == 412
    assert 'Content-Location' not in resp.headers


# -------------------------------------------------------------------- POST

def test_post_with_symlink_target_is_400():
    app, _ = make()
    resp = call(app, '/v1/a/c/target', 'POST',
                **{'X-Symlink-Target': 'c/o'})
    assert (resp.status_int, resp.body) == (
        400, b'A PUT request is required to set a symlink target')


@pytest.mark.parametrize('post_returns_sysmeta', [False, True])
def test_post_to_link_updates_it_and_answers_307(post_returns_sysmeta):
    app, store = make(FakeStore(post_returns_sysmeta))
    put_link(app, '/v1/a/c/link', 'c/target',
             **{'X-Symlink-Target-Etag': TARGET_MD5})
    resp = call(app, '/v1/a/c/link', 'POST', **{'X-Object-Meta-Color': 'red'})
    assert resp.status_int == 307
    assert resp.headers['Location'] == '/v1/a/c/target'
    assert resp.headers['X-Symlink-Target-Etag'] == TARGET_MD5
    assert resp.body.startswith(b'The requested POST was applied')
    assert store.objects['/v1/a/c/link'][0]['x-object-meta-color'] == 'red'


def test_post_to_plain_object_passes_through():
    app, _ = make()
    assert call(app, '/v1/a/c/target', 'POST').status_int == 202


# ----------------------------------------------------------------- listings

def listing_app(rows, ctype='application/json; charset=utf-8'):
    app, store = make()
    store.listings['/v1/AUTH_a/c'] = (ctype, json.dumps(rows).encode())
    return app


def test_json_listing_shows_link_targets():
    rows = [
        {'name': 'plain', 'hash': TARGET_MD5, 'bytes': 23},
        {'name': 'dyn', 'bytes': 0,
         'hash': EMPTY_MD5 + '; symlink_target=c/a%20b'},
        {'name': 'static', 'bytes': 0,
         'hash': EMPTY_MD5 + '; slo_etag=xyz; symlink_target=c2/o; '
                 'symlink_target_account=AUTH_b; symlink_target_etag=%s; '
                 'symlink_target_bytes=23' % TARGET_MD5},
        {'subdir': 'dir/'},
    ]
    resp = call(listing_app(rows), '/v1/AUTH_a/c?format=json')
    out = json.loads(resp.body)
    assert resp.headers['Content-Length'] == str(len(resp.body))
    assert out[0] == rows[0]
    assert out[1] == {'name': 'dyn', 'bytes': 0, 'hash': EMPTY_MD5,
                      'symlink_path': '/v1/AUTH_a/c/a%20b'}
    assert out[2] == {'name': 'static', 'bytes': 0,
                      'hash': EMPTY_MD5 + '; slo_etag=xyz',
                      'symlink_path': '/v1/AUTH_b/c2/o',
                      'symlink_etag': TARGET_MD5, 'symlink_bytes': 23}
    assert out[3] == {'subdir': 'dir/'}


def test_non_json_listing_is_untouched():
    body = EMPTY_MD5 + '; symlink_target=c/o\n'
    app = listing_app(None, 'text/plain')
    app.app.listings['/v1/AUTH_a/c'] = ('text/plain', body.encode())
    assert call(app, '/v1/AUTH_a/c').body == body.encode()


# -------------------------------------------------------------- config/info

def test_info_section_and_symloop_max():
    registry.clear_info()
    symlink.filter_factory({}, symloop_max='5')
    assert registry.get_info()['symlink'] == {
        'symloop_max': 5, 'static_links': True}
    registry.clear_info()
    symlink.filter_factory({}, symloop_max='0')    # below 1: the default
    assert registry.get_info()['symlink']['symloop_max'] == 2


@pytest.mark.parametrize('conf', [{'symloop_max': 'many'}, {'bogus': '1'}])
def test_bad_config_is_an_error(conf):
    with pytest.raises(ConfigError):
        symlink.filter_factory({}, **conf)


def test_head_of_too_long_chain_is_409_without_body():
    app, _ = make(symloop_max='1')
    put_link(app, '/v1/a/c/l1', 'c/target')
    put_link(app, '/v1/a/c/l2', 'c/l1')
    resp = call(app, '/v1/a/c/l2', 'HEAD')
    assert resp.status_int == 409
    assert resp.body == b''
    assert resp.headers['Content-Length'] == str(len(
        b'Too many levels of symbolic links, maximum allowed is 1'))
