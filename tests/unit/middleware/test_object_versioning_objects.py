"""object_versioning_objects: ObjectVersioning on one object request.

The handler is built and called directly against the in-memory Swift of
test_object_versioning (it stores objects, follows version symlinks and
answers a POST to a symlink with 307).  ``Recording`` in front of it keeps
each request's method, path and headers so the subrequests can be checked.
"""
import hashlib
import io
import time

import pytest
from webob import Request, Response

from middleware.object_versioning_internal import VersioningError
from middleware.object_versioning_names import (
    DELETE_MARKER_CONTENT_TYPE, split_version, version_object)
from middleware.object_versioning_objects import (
    NO_VERSIONS_CONTAINER, ObjectVersioning, is_delete_marker)
from tests.unit.middleware.test_object_versioning import (
    VCONT, FakeSwift, tempauth_like)


class Recording(object):
    def __init__(self, swift, faults=None):
        self.swift = swift
        self.faults = faults or {}
        self.requests = []

    def __call__(self, env, start_response):
        req = Request(env)
        path = env['PATH_INFO'].encode('latin-1').decode('utf-8')
        self.requests.append((req.method, path, dict(req.headers)))
        status = self.faults.get((req.method, path))
        if status is not None:
            return Response(status=status, body=b'fault')(
                env, start_response)
        return self.swift(env, start_response)

    def sent(self, method, path):
        return [h for m, p, h in self.requests if (m, p) == (method, path)]


@pytest.fixture
def swift():
    swift = FakeSwift()
    swift.containers['c'] = {'sysmeta': {}, 'objects': {}}
    swift.containers[VCONT] = {'sysmeta': {}, 'objects': {}}
    return swift


@pytest.fixture
def app(swift):
    return Recording(swift)


def handler(app, method, obj='o', query='', body=None, headers=None,
            enabled=True, vcont=VCONT, user=None):
    environ = {'REQUEST_METHOD': method}
    if user:
        environ['swift.authorize'] = tempauth_like(user)
    req = Request.blank('/v1/a/c/' + obj + ('?' + query if query else ''),
                        environ=environ, headers=headers or {})
    if body is not None:
        req.body = body
    return ObjectVersioning(app, req, 'a', 'c', obj, vcont, enabled)


def put(app, body, obj='o', **kw):
    resp = handler(app, 'PUT', obj=obj, body=body, **kw).handle()
    assert resp.status_int == 201
    return resp.headers['X-Object-Version-Id']


def hidden(swift):
    return swift.containers[VCONT]['objects']


def plain_object(swift, body=b'old', ts='1600000000.00000', **headers):
    swift.containers['c']['objects']['o'] = {
        'body': body, 'headers': dict(headers),
        'etag': hashlib.md5(body).hexdigest(), 'ts': ts}


# --- PUT ----------------------------------------------------------------------

def test_put_stores_a_version_and_links_the_name_to_it(app, swift):
    before = time.time()
    resp = handler(app, 'PUT', body=b'v1',
                   headers={'Content-Type': 'text/x-mine'}).handle()
    assert resp.status_int == 201
    vid = resp.headers['X-Object-Version-Id']
    assert before - 1 <= float(vid) <= time.time() + 1
    assert resp.headers['Etag'] == hashlib.md5(b'v1').hexdigest()
    version = hidden(swift)[version_object('o', vid)]
    assert version['body'] == b'v1'
    assert version['headers']['Content-Type'] == 'text/x-mine'
    link = swift.containers['c']['objects']['o']
    assert link['body'] == b''
    sysmeta = link['headers']
    assert sysmeta['X-Object-Sysmeta-Versions-Symlink'] == 'true'
    assert sysmeta['X-Object-Sysmeta-Symlink-Target-Bytes'] == '2'
    assert sysmeta['X-Object-Sysmeta-Symlink-Target-Etag'] == \
        hashlib.md5(b'v1').hexdigest()
    assert sysmeta['Content-Type'] == 'text/x-mine'
    assert split_version(version_object('o', vid))[1].internal == vid


def test_put_version_goes_to_the_hidden_container_preauthorised(app):
    put(app, b'v1')
    version_put = [(m, p, h) for m, p, h in app.requests
                   if m == 'PUT' and p.startswith('/v1/a/\x00')]
    assert len(version_put) == 1
    headers = version_put[0][2]
    assert headers['X-Backend-Allow-Reserved-Names'] == 'true'


def test_expiry_stays_off_the_version_but_applies_to_the_link(app):
    put(app, b'v1', headers={'X-Delete-After': '60',
                             'X-Object-Meta-Color': 'red'})
    (version,) = [h for m, p, h in app.requests
                  if m == 'PUT' and p.startswith('/v1/a/\x00')]
    assert 'X-Delete-After' not in version
    assert version['X-Object-Meta-Color'] == 'red'
    (link,) = app.sent('PUT', '/v1/a/c/o')
    assert link['X-Delete-After'] == '60'
    # a link is zero bytes: the client's length and etag are not its own
    assert 'Etag' not in link
    assert link.get('Content-Length') in (None, '0')


@pytest.mark.parametrize('headers, expected', [
    ({}, 'image/png'),
    ({'Content-Type': 'text/x-mine', 'X-Detect-Content-Type': 'true'},
     'image/png'),
    ({'Content-Type': 'text/x-mine'}, 'text/x-mine'),
], ids=['none-sent', 'detect', 'sent'])
def test_content_type_is_guessed_from_the_clients_name(app, swift, headers,
                                                       expected):
    req_handler = handler(app, 'PUT', obj='photo.png', body=b'png',
                          headers=headers)
    if not headers:
        req_handler.env.pop('CONTENT_TYPE', None)
    vid = req_handler.handle().headers['X-Object-Version-Id']
    version = hidden(swift)[version_object('photo.png', vid)]
    assert version['headers']['Content-Type'] == expected
    link = swift.containers['c']['objects']['photo.png']
    assert link['headers']['Content-Type'] == expected


def test_put_without_the_hidden_container_is_a_500(app, swift):
    del swift.containers[VCONT]
    with pytest.raises(VersioningError) as err:
        handler(app, 'PUT', body=b'v1').handle()
    assert err.value.response.status_int == 500
    assert err.value.response.body == NO_VERSIONS_CONTAINER
    assert 'o' not in swift.containers['c']['objects']


class RefusingVersions(object):
    """Answers 413 to every version write, passes the rest on."""

    def __init__(self, swift):
        self.swift = swift

    def __call__(self, env, start_response):
        if env['REQUEST_METHOD'] == 'PUT' and '\x00o\x00' in \
                env['PATH_INFO']:
            return Response(status=413, body=b'too big')(env, start_response)
        return self.swift(env, start_response)


def test_a_refused_version_write_is_the_clients_answer(swift):
    with pytest.raises(VersioningError) as err:
        handler(RefusingVersions(swift), 'PUT', body=b'v1').handle()
    assert err.value.response.status_int == 413
    assert err.value.response.body == b'too big'
    assert 'o' not in swift.containers['c']['objects']


def test_put_when_disabled_passes_on(app, swift):
    assert handler(app, 'PUT', body=b'x', enabled=False).handle() is None
    assert handler(app, 'DELETE', enabled=False).handle() is None
    assert app.requests == []


def test_a_non_owner_write_is_refused_before_anything_is_copied(app, swift):
    plain_object(swift)
    with pytest.raises(VersioningError) as err:
        handler(app, 'PUT', body=b'new', user='stranger').handle()
    assert err.value.response.status_int == 403
    assert hidden(swift) == {}
    assert swift.containers['c']['objects']['o']['body'] == b'old'


# --- copying an object written before versioning -------------------------------------

def test_an_unversioned_object_is_copied_aside_with_its_metadata(app, swift):
    plain_object(swift, body=b'old', ts='1600000000.00000',
                 **{'X-Object-Meta-Kept': 'yes', 'Content-Type': 'text/x'})
    put(app, b'new')
    old = hidden(swift)[version_object('o', '1600000000.00000')]
    assert old['body'] == b'old'
    assert old['headers']['X-Object-Meta-Kept'] == 'yes'
    assert old['headers']['Content-Type'] == 'text/x'
    assert len(hidden(swift)) == 2
    (copy_get,) = app.sent('GET', '/v1/a/c/o')
    assert copy_get['X-Newest'] == 'true'


def test_an_slo_copied_aside_keeps_its_size_in_the_content_type(app, swift):
    plain_object(swift, body=b'[]', **{
        'Content-Type': 'application/octet-stream',
        'X-Object-Sysmeta-Slo-Size': '12345'})
    handler(app, 'DELETE').handle()
    old = hidden(swift)[version_object('o', '1600000000.00000')]
    assert old['headers']['Content-Type'] == \
        'application/octet-stream;swift_bytes=12345'


def test_a_current_version_link_is_not_copied_again(app, swift):
    put(app, b'v1')
    put(app, b'v2')
    assert sorted(o['body'] for o in hidden(swift).values()) == [b'v1', b'v2']


def test_copy_aside_without_the_hidden_container_is_a_500(app, swift):
    plain_object(swift)
    del swift.containers[VCONT]
    with pytest.raises(VersioningError) as err:
        handler(app, 'DELETE').handle()
    assert err.value.response.status_int == 500
    assert swift.containers['c']['objects']['o']['body'] == b'old'


def test_a_failing_read_of_the_current_object_is_a_503(swift):
    plain_object(swift)
    app = Recording(swift, faults={('GET', '/v1/a/c/o'): 500})
    with pytest.raises(VersioningError) as err:
        handler(app, 'PUT', body=b'new').handle()
    assert err.value.response.status_int == 503
    assert hidden(swift) == {}


# --- DELETE --------------------------------------------------------------------

def test_delete_writes_a_marker_and_removes_the_name(app, swift):
    put(app, b'v1')
    resp = handler(app, 'DELETE').handle()
    assert resp.status_int == 204
    marker_id = resp.headers['X-Object-Version-Id']
    marker = hidden(swift)[version_object('o', marker_id)]
    assert marker['body'] == b''
    assert is_delete_marker(marker['headers']['Content-Type'])
    assert 'o' not in swift.containers['c']['objects']


def test_delete_of_a_missing_object_still_leaves_a_marker(app, swift):
    resp = handler(app, 'DELETE').handle()
    assert resp.status_int == 404
    assert resp.headers['X-Object-Version-Id'] in [
        split_version(name)[1].internal for name in hidden(swift)]


@pytest.mark.parametrize('ctype, marker', [
    (DELETE_MARKER_CONTENT_TYPE, True),
    ('application/x-deleted; swift_versions_deleted=1', True),
    ('application/x-deleted', False),
    (None, False),
])
def test_is_delete_marker(ctype, marker):
    assert is_delete_marker(ctype) is marker


# --- POST, GET, HEAD ------------------------------------------------------------

def test_post_to_a_version_link_reaches_the_version(app, swift):
    vid = put(app, b'v1')
    resp = handler(app, 'POST', headers={
        'X-Object-Meta-A': 'b', 'X-Delete-At': '9999999999'}).handle()
    assert resp.status_int == 202
    version = hidden(swift)[version_object('o', vid)]
    assert version['headers']['X-Object-Meta-A'] == 'b'
    (forwarded,) = app.sent('POST', '/v1/a/' + VCONT + '/' +
                            version_object('o', vid))
    assert 'X-Delete-At' not in forwarded


def test_post_to_a_plain_object_is_answered_as_is(app, swift):
    plain_object(swift)
    resp = handler(app, 'POST', headers={'X-Object-Meta-A': 'b'}).handle()
    assert resp.status_int == 202
    assert [m for m, _p, _h in app.requests] == ['POST']


def test_post_redirected_to_another_container_is_not_followed(app, swift):
    swift.containers['other'] = {'sysmeta': {}, 'objects': {}}
    swift.containers['c']['objects']['o'] = {
        'body': b'', 'etag': 'e', 'ts': '1', 'headers': {
            'X-Object-Sysmeta-Symlink-Target': 'other/x',
            'X-Object-Sysmeta-Versions-Symlink': 'true'}}
    resp = handler(app, 'POST').handle()
    assert resp.status_int == 307
    assert len(app.requests) == 1


def test_get_of_a_version_link_names_the_version(app, swift):
    vid = put(app, b'v1')
    resp = handler(app, 'GET').handle()
    assert resp.body == b'v1'
    assert resp.headers['X-Object-Version-Id'] == vid
    assert resp.headers['Content-Location'] == \
        '/v1/a/c/o?version-id=' + vid


def test_get_of_a_plain_object_is_version_null(app, swift):
    plain_object(swift)
    resp = handler(app, 'HEAD').handle()
    assert resp.headers['X-Object-Version-Id'] == 'null'
    assert 'Content-Location' not in resp.headers


def test_symlink_get_shows_the_link_target_as_a_version(app, swift):
    vid = put(app, b'v1')
    resp = handler(app, 'GET', query='symlink=get').handle()
    assert resp.headers['X-Object-Version-Id'] == vid
    assert resp.headers['X-Symlink-Target'] == 'c/o?version-id=' + vid


# --- ?version-id= ----------------------------------------------------------------

def version_req(app, method, version, **kw):
    h = handler(app, method, query='version-id=' + version, **kw)
    return h.handle_version(version)


@pytest.mark.parametrize('method, version, vcont, message', [
    ('POST', '1600000000.00000', VCONT, b'POST to a specific version'),
    ('GET', '1600000000.00000', None, b'container is versioned'),
    ('GET', 'not-a-time', VCONT, b'Invalid version'),
    ('PUT', 'null', VCONT, b'Invalid version'),
    ('GET', '1600000000.00000_0000000000000001', VCONT, b'Invalid version'),
])
def test_bad_version_requests_are_400(app, method, version, vcont, message):
    with pytest.raises(VersioningError) as err:
        version_req(app, method, version, vcont=vcont)
    assert err.value.response.status_int == 400
    assert message in err.value.response.body
    assert app.requests == []


def test_an_old_version_is_read_by_its_id(app, swift):
    v1 = put(app, b'v1')
    put(app, b'v2')
    resp = version_req(app, 'GET', v1)
    assert (resp.status_int, resp.body) == (200, b'v1')
    assert resp.headers['X-Object-Version-Id'] == v1


def test_a_delete_marker_read_by_its_id_is_404_naming_it(app, swift):
    put(app, b'v1')
    marker = handler(app, 'DELETE').handle().headers['X-Object-Version-Id']
    with pytest.raises(VersioningError) as err:
        version_req(app, 'GET', marker)
    resp = err.value.response
    assert resp.status_int == 404
    assert resp.get_header('X-Object-Version-Id') == marker
    assert resp.get_header('Content-Type') == DELETE_MARKER_CONTENT_TYPE


def test_version_null_is_the_plain_object_only(app, swift):
    plain_object(swift)
    resp = version_req(app, 'GET', 'null')
    assert (resp.body, resp.headers['X-Object-Version-Id']) == (b'old',
                                                                'null')
    put(app, b'v2')
    with pytest.raises(VersioningError) as err:
        version_req(app, 'GET', 'null')
    assert err.value.response.status_int == 404


def test_deleting_the_current_version_removes_link_and_data(app, swift):
    v1 = put(app, b'v1')
    resp = version_req(app, 'DELETE', v1)
    assert resp.status_int == 204
    assert resp.headers['X-Object-Version-Id'] == v1
    assert resp.headers['X-Object-Current-Version-Id'] == 'null'
    assert 'o' not in swift.containers['c']['objects']
    assert hidden(swift) == {}
    deletes = [p for m, p, _h in app.requests if m == 'DELETE']
    assert deletes == ['/v1/a/c/o', '/v1/a/%s/%s' % (
        VCONT, version_object('o', v1))]


def test_deleting_an_older_version_keeps_the_current_one(app, swift):
    v1 = put(app, b'v1')
    v2 = put(app, b'v2')
    resp = version_req(app, 'DELETE', v1)
    assert resp.headers['X-Object-Current-Version-Id'] == v2
    assert swift.containers['c']['objects']['o']['headers'][
        'X-Object-Sysmeta-Versions-Symlink'] == 'true'
    assert list(hidden(swift)) == [version_object('o', v2)]


def test_deleting_version_null_passes_on(app, swift):
    assert version_req(app, 'DELETE', 'null') is None


def test_old_versions_are_for_the_owner_only(app, swift):
    v1 = put(app, b'v1')
    for method in ('GET', 'DELETE'):
        with pytest.raises(VersioningError) as err:
            version_req(app, method, v1, user='reader')
        assert err.value.response.status_int == 403
    assert version_object('o', v1) in hidden(swift)


def test_put_version_id_makes_an_old_version_current(app, swift):
    v1 = put(app, b'v1')
    put(app, b'v2')
    resp = version_req(app, 'PUT', v1, body=b'')
    assert resp.status_int == 201
    assert resp.headers['X-Object-Version-Id'] == v1
    assert handler(app, 'GET').handle().body == b'v1'
    link = swift.containers['c']['objects']['o']['headers']
    assert link['X-Object-Sysmeta-Symlink-Target-Etag'] == \
        hashlib.md5(b'v1').hexdigest()
    assert len(hidden(swift)) == 2


def test_put_version_id_needs_an_empty_body(app, swift):
    v1 = put(app, b'v1')
    with pytest.raises(VersioningError) as err:
        version_req(app, 'PUT', v1, body=b'x')
    assert err.value.response.status_int == 400
    no_length = handler(app, 'PUT', query='version-id=' + v1)
    no_length.env.pop('CONTENT_LENGTH', None)
    with pytest.raises(VersioningError) as err:
        no_length.handle_version(v1)
    assert err.value.response.status_int == 411


def test_an_empty_chunked_put_version_id_restores(app, swift):
    v1 = put(app, b'v1')
    put(app, b'v2')
    chunked = handler(app, 'PUT', query='version-id=' + v1,
                      headers={'Transfer-Encoding': 'chunked'})
    chunked.env['wsgi.input'] = io.BytesIO(b'')
    chunked.env.pop('CONTENT_LENGTH', None)
    assert chunked.handle_version(v1).status_int == 201
    assert handler(app, 'GET').handle().body == b'v1'


def test_a_chunked_put_version_id_with_a_body_is_refused(app, swift):
    """As eventlet hands a chunked body over (no Content-Length), the
    body is still seen: a restore never throws a body away."""
    v1 = put(app, b'v1')
    put(app, b'v2')
    chunked = handler(app, 'PUT', query='version-id=' + v1,
                      headers={'Transfer-Encoding': 'chunked'})
    chunked.env['wsgi.input'] = io.BytesIO(b'a non-empty body')
    chunked.env.pop('CONTENT_LENGTH', None)
    with pytest.raises(VersioningError) as err:
        chunked.handle_version(v1)
    assert err.value.response.status_int == 400
    assert handler(app, 'GET').handle().body == b'v2'


def test_put_version_id_of_a_missing_version(app, swift):
    with pytest.raises(VersioningError) as err:
        version_req(app, 'PUT', '1600000000.00000', body=b'')
    assert err.value.response.status_int == 404
    del swift.containers[VCONT]
    with pytest.raises(VersioningError) as err:
        version_req(app, 'PUT', '1600000000.00000', body=b'')
    assert err.value.response.status_int == 500
    assert err.value.response.body == NO_VERSIONS_CONTAINER
