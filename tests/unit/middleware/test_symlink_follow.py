"""symlink_follow: walking a chain of links with LinkWalker directly.

The object store is test_symlink's FakeStore: it keeps sysmeta as an
object node does and answers 412/416 with validators only, so the
walker's HEAD probe for a hidden link is exercised for real.
"""
import hashlib

import pytest
from webob import Request, Response

from middleware import symlink_follow as follow
from objproxy.common.paths import ALLOW_RESERVED_ENV
from tests.unit.middleware.test_symlink import (
    EMPTY_MD5, TARGET_BODY, TARGET_MD5, FakeStore)

TARGET = 'x-object-sysmeta-symlink-target'


def store_with_target():
    store = FakeStore()
    store.put('/v1/a/c/target', TARGET_BODY, content_type='text/target')
    return store


def link(store, path, target, **sysmeta):
    headers = {'x-object-sysmeta-symlink-target': target}
    for key, value in sysmeta.items():
        headers['x-object-sysmeta-' + key.replace('_', '-')] = value
    store.put(path, b'', **headers)


def walk(store, path, symloop_max=2, headers=None, **kwargs):
    env = Request.blank(path, headers=headers or {}).environ
    walker = follow.LinkWalker(store, symloop_max)
    return walker, walker.walk(env, **kwargs)


def body_of(resp):
    return resp.read(1 << 20)


# ------------------------------------------------------------- helpers

def test_wsgi_quote_encodes_latin1_wsgi_strings_as_utf8_bytes():
    wsgi_name = 'c/caf\u00e9 x'.encode('utf-8').decode('latin-1')
    assert follow.wsgi_quote(wsgi_name) == 'c/caf%C3%A9%20x'
    assert follow.wsgi_unquote('c/caf%C3%A9%20x') == wsgi_name


def test_ignore_range_on_links_adds_the_target_header_once():
    env = {}
    follow.ignore_range_on_links(env)
    assert env[follow.IGNORE_RANGE_ENV] == TARGET
    follow.ignore_range_on_links(env)
    assert env[follow.IGNORE_RANGE_ENV] == TARGET


def test_ignore_range_on_links_keeps_a_header_another_filter_named():
    env = {follow.IGNORE_RANGE_ENV: ' x-object-sysmeta-slo-etag '}
    follow.ignore_range_on_links(env)
    assert env[follow.IGNORE_RANGE_ENV] == \
        'x-object-sysmeta-slo-etag, ' + TARGET
    env = {follow.IGNORE_RANGE_ENV: 'X-Object-Sysmeta-Symlink-Target'}
    follow.ignore_range_on_links(env)
    assert env[follow.IGNORE_RANGE_ENV] == 'X-Object-Sysmeta-Symlink-Target'


def test_pre_authorize_lets_any_request_through():
    env = {'swift.authorize': lambda req: Response(status=403)}
    follow.pre_authorize(env)
    assert env['swift.authorize'](Request.blank('/v1/a/c/o')) is None
    assert env['swift.authorize_override'] is True


# ---------------------------------------------------------------- walks

def test_plain_object_is_returned_without_content_location():
    store = store_with_target()
    walker, resp = walk(store, '/v1/a/c/target')
    assert resp.status_int == 200
    assert body_of(resp) == TARGET_BODY
    assert 'Content-Location' not in dict(resp.header_list)
    assert walker.loop_count == 0 and walker.last_target is None


def test_chain_of_links_ends_at_the_target_with_content_location():
    store = store_with_target()
    link(store, '/v1/a/c/first', 'c/second')
    link(store, '/v1/a/c/second', 'c/target')
    walker, resp = walk(store, '/v1/a/c/first')
    assert resp.status_int == 200
    assert body_of(resp) == TARGET_BODY
    assert dict(resp.header_list)['Content-Location'] == '/v1/a/c/target'
    assert walker.loop_count == 2
    assert [c[:2] for c in store.calls] == [
        ('GET', '/v1/a/c/first'), ('GET', '/v1/a/c/second'),
        ('GET', '/v1/a/c/target')]


def test_more_links_than_symloop_max_raises_too_many_links():
    store = store_with_target()
    link(store, '/v1/a/c/first', 'c/second')
    link(store, '/v1/a/c/second', 'c/target')
    with pytest.raises(follow.TooManyLinks):
        walk(store, '/v1/a/c/first', symloop_max=1)
    # the walk stopped before reading the target
    assert ('GET', '/v1/a/c/target') not in [c[:2] for c in store.calls]


def test_symloop_extend_hop_does_not_count():
    store = store_with_target()
    link(store, '/v1/a/c/first', 'c/second', symloop_extend='true')
    link(store, '/v1/a/c/second', 'c/target')
    walker, resp = walk(store, '/v1/a/c/first', symloop_max=1)
    assert resp.status_int == 200
    assert walker.loop_count == 1
    body_of(resp)


def test_link_names_another_account():
    store = FakeStore()
    store.put('/v1/b/c/target', b'other account')
    link(store, '/v1/a/c/link', 'c/target', symlink_target_account='b')
    _, resp = walk(store, '/v1/a/c/link')
    assert body_of(resp) == b'other account'
    assert dict(resp.header_list)['Content-Location'] == '/v1/b/c/target'


def test_missing_target_ends_the_walk_with_its_404():
    store = FakeStore()
    link(store, '/v1/a/c/link', 'c/gone')
    _, resp = walk(store, '/v1/a/c/link')
    assert resp.status_int == 404
    assert dict(resp.header_list)['Content-Location'] == '/v1/a/c/gone'
    resp.close()


def test_static_link_whose_target_changed_is_a_conflict_at_the_target():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target',
         symlink_target_etag=hashlib.md5(b'older').hexdigest())
    with pytest.raises(follow.LinkConflict) as err:
        walk(store, '/v1/a/c/link')
    assert err.value.location == '/v1/a/c/target'
    assert 'does not match X-Symlink-Target-Etag' in err.value.message


def test_static_link_with_matching_etag_serves_the_target():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target', symlink_target_etag=TARGET_MD5)
    _, resp = walk(store, '/v1/a/c/link')
    assert resp.status_int == 200
    assert body_of(resp) == TARGET_BODY


def test_static_link_to_a_link_checks_the_intermediate_links_etag():
    """The ETag a static link records is the next link's recorded target
    ETag; a different one is a conflict named at that hop."""
    store = store_with_target()
    link(store, '/v1/a/c/second', 'c/target', symlink_target_etag=TARGET_MD5)
    link(store, '/v1/a/c/first', 'c/second', symlink_target_etag='0' * 32)
    with pytest.raises(follow.LinkConflict) as err:
        walk(store, '/v1/a/c/first')
    assert err.value.location == '/v1/a/c/second'
    assert err.value.message == 'X-Symlink-Target-Etag headers do not match'


def test_expected_etag_checks_the_first_object_reached():
    store = store_with_target()
    with pytest.raises(follow.LinkConflict) as err:
        walk(store, '/v1/a/c/target', expected_etag='0' * 32)
    assert err.value.location is None
    _, resp = walk(store, '/v1/a/c/target', expected_etag=TARGET_MD5)
    assert body_of(resp) == TARGET_BODY


def test_without_follow_dynamic_a_dynamic_link_is_the_answer():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    walker, resp = walk(store, '/v1/a/c/link', follow_dynamic=False)
    assert resp.headers[TARGET] == 'c/target'
    assert body_of(resp) == b''
    assert walker.loop_count == 0


def test_without_follow_dynamic_a_static_link_is_still_followed():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target', symlink_target_etag=TARGET_MD5)
    _, resp = walk(store, '/v1/a/c/link', follow_dynamic=False)
    assert body_of(resp) == TARGET_BODY


# ----------------------------------------------------- hops and headers

def test_each_hop_carries_the_clients_headers_and_identity():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    _, resp = walk(store, '/v1/a/c/link', headers={
        'X-Auth-Token': 'tok', 'X-Custom': 'kept',
        'X-Backend-Storage-Policy-Index': '1'})
    body_of(resp)
    hop_env = store.calls[-1][2]
    assert hop_env['PATH_INFO'] == '/v1/a/c/target'
    assert hop_env['HTTP_X_AUTH_TOKEN'] == 'tok'
    assert hop_env['HTTP_X_CUSTOM'] == 'kept'
    assert hop_env['swift.source'] == 'SYM'
    # the target has its own storage policy
    assert 'HTTP_X_BACKEND_STORAGE_POLICY_INDEX' not in hop_env


def test_hop_is_authorized_as_the_client():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    seen = []

    def authorize(req):
        seen.append(req.path)
        if req.path == '/v1/a/c/target':
            return Response(status=403)
        return None

    req = Request.blank('/v1/a/c/link')
    req.environ['swift.authorize'] = authorize
    resp = follow.LinkWalker(store, 2).walk(req.environ)
    assert resp.status_int == 403
    assert seen == ['/v1/a/c/link', '/v1/a/c/target']
    resp.close()


def test_link_allowing_reserved_names_pre_authorizes_its_hop():
    store = FakeStore()
    store.put('/v1/a/\x00versions\x00c/\x00o\x00ts', b'old version')
    link(store, '/v1/a/c/o', '%00versions%00c/%00o%00ts',
         allow_reserved_names='true')

    def deny_reserved(req):
        return Response(status=403) if '\x00' in req.path_info else None

    req = Request.blank('/v1/a/c/o')
    req.environ['swift.authorize'] = deny_reserved
    resp = follow.LinkWalker(store, 2).walk(req.environ)
    assert resp.status_int == 200
    assert body_of(resp) == b'old version'
    hop_env = store.calls[-1][2]
    assert hop_env[ALLOW_RESERVED_ENV] == 'true'
    assert hop_env['swift.authorize_override'] is True


def test_link_without_reserved_names_flag_is_not_pre_authorized():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    _, resp = walk(store, '/v1/a/c/link')
    body_of(resp)
    hop_env = store.calls[-1][2]
    assert ALLOW_RESERVED_ENV not in hop_env
    assert 'swift.authorize_override' not in hop_env


# --------------------------------------------- conditions hidden by links

def test_bare_412_of_a_link_is_probed_and_followed():
    """The store's 412 carries only the link's (empty) ETag; the walker
    HEADs the link without conditions, sees the link and goes on."""
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    _, resp = walk(store, '/v1/a/c/link',
                   headers={'If-Match': '"%s"' % TARGET_MD5})
    assert resp.status_int == 200
    assert body_of(resp) == TARGET_BODY
    methods = [c[:2] for c in store.calls]
    assert methods == [('GET', '/v1/a/c/link'), ('HEAD', '/v1/a/c/link'),
                       ('GET', '/v1/a/c/target')]
    probe_env = store.calls[1][2]
    assert 'HTTP_IF_MATCH' not in probe_env


def test_412_at_the_target_is_the_answer():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    _, resp = walk(store, '/v1/a/c/link', headers={'If-Match': '"nope"'})
    assert resp.status_int == 412
    assert dict(resp.header_list)['Content-Location'] == '/v1/a/c/target'
    resp.close()


def test_bare_416_of_a_link_is_probed_and_the_range_served_by_the_target():
    store = store_with_target()
    link(store, '/v1/a/c/link', 'c/target')
    _, resp = walk(store, '/v1/a/c/link', headers={'Range': 'bytes=0-3'})
    assert resp.status_int == 206
    assert body_of(resp) == TARGET_BODY[:4]


def test_412_of_a_non_empty_object_is_not_probed():
    store = store_with_target()
    _, resp = walk(store, '/v1/a/c/target', headers={'If-Match': '"nope"'})
    assert resp.status_int == 412
    resp.close()
    assert [c[0] for c in store.calls] == ['GET']


def test_412_of_an_empty_plain_object_is_probed_but_kept():
    store = FakeStore()
    store.put('/v1/a/c/empty', b'')
    _, resp = walk(store, '/v1/a/c/empty', headers={'If-Match': '"nope"'})
    assert resp.status_int == 412
    assert resp.headers['etag'] == EMPTY_MD5
    resp.close()
    assert [c[0] for c in store.calls] == ['GET', 'HEAD']
