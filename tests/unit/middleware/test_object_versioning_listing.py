"""object_versioning_listing: container, ?versions and account listings
rewritten from what a small scripted backend answers."""
import json
from urllib.parse import parse_qs, quote

import pytest
from webob import Request, Response

from middleware import object_versioning_listing as ovl
from middleware.object_versioning_internal import VersioningError
from middleware.object_versioning_names import (
    DELETE_MARKER_CONTENT_TYPE, invert, version_object)

HIDDEN = '\x00versions\x00c'
TS1, TS2 = '1700000001.00000', '1700000002.00000'
EMPTY = 'd41d8cd98f00b204e9800998ecf8427e'
MODIFIED = '2023-11-14T22:13:21.000000'


def row(name, size, etag, ctype='text/plain', **extra):
    item = {'name': name, 'bytes': size, 'hash': etag,
            'content_type': ctype, 'last_modified': MODIFIED}
    item.update(extra)
    return item


def link_row(obj, version_id, size, etag):
    return row(obj, 0, EMPTY, 'text/plain',
               symlink_path=quote('/v1/a/%s/%s' % (
                   HIDDEN, version_object(obj, version_id))),
               symlink_etag=etag, symlink_bytes=size)


class Backend(object):
    """Answers (method, path) from a table; records (method, path, query)."""

    def __init__(self):
        self.answers = {}
        self.calls = []

    def set(self, method, path, status=200, headers=None, listing=None):
        self.answers[(method, path)] = (status, headers or {}, listing)

    def __call__(self, env, start_response):
        req = Request(env)
        self.calls.append((req.method, req.path_info,
                           parse_qs(req.query_string)))
        status, headers, listing = self.answers.get(
            (req.method, req.path_info), (404, {}, None))
        body = json.dumps(listing).encode() if listing is not None else b''
        resp = Response(status=status, headers=headers, body=body)
        if listing is not None:
            resp.content_type = 'application/json'
        return resp(env, start_response)


def versioned_backend(container_rows, hidden_rows):
    backend = Backend()
    headers = {'X-Container-Sysmeta-Versions-Container': quote(HIDDEN),
               'X-Container-Sysmeta-Versions-Enabled': 'True',
               'X-Container-Bytes-Used': '10'}
    backend.set('GET', '/v1/a/c', headers=headers, listing=container_rows)
    backend.set('HEAD', '/v1/a/c', status=204, headers=headers)
    backend.set('HEAD', '/v1/a/' + HIDDEN, status=204,
                headers={'X-Container-Bytes-Used': '100'})
    backend.set('GET', '/v1/a/' + HIDDEN, listing=hidden_rows)
    return backend


def listing(backend, query='', method='GET', **headers):
    req = Request.blank('/v1/a/c', method=method, headers=headers)
    req.query_string = query
    resp = ovl.container_get_or_head(backend, req, 'a', 'c')
    return resp, (json.loads(resp.body) if method == 'GET' else None)


# --------------------------------------------------------------- helpers

def test_query_params_reads_utf8_escapes_and_keeps_the_first_value():
    env = {'QUERY_STRING': 'prefix=caf%C3%A9&prefix=other&versions'}
    assert ovl.query_params(env) == {'prefix': 'caf\u00e9', 'versions': ''}


def test_limit():
    assert ovl._limit({}, 100) == 100
    assert ovl._limit({'limit': ' 5 '}, 100) == 5
    assert ovl._limit({'limit': 'lots'}, 100) == 100
    with pytest.raises(VersioningError) as err:
        ovl._limit({'limit': '101'}, 100)
    assert err.value.response.status == 412


def test_merged_sorts_names_and_subdirs_and_limits():
    body = ovl._merged([[{'name': 'b'}], [{'subdir': 'a/'}, {'name': 'c'}]],
                       False, 2)
    assert json.loads(body) == [{'subdir': 'a/'}, {'name': 'b'}]
    body = ovl._merged([[{'name': 'b'}], [{'subdir': 'a/'}]], True, 10)
    assert json.loads(body) == [{'name': 'b'}, {'subdir': 'a/'}]


@pytest.mark.parametrize('query, accept, ok', [
    ('', None, True), ('format=json', None, True), ('format=xml', None, False),
    ('', 'application/json', True), ('', '*/*', True),
    ('', 'application/xml', False)])
def test_wants_json(query, accept, ok):
    req = Request.blank('/v1/a/c?' + query)
    if accept:
        req.headers['Accept'] = accept
    assert ovl.wants_json(req, ovl.query_params(req.environ)) is ok


@pytest.mark.parametrize('params, expected', [
    ({}, {'format': 'json'}),
    ({'marker': 'o'}, {'format': 'json', 'marker': '\x00o\x00:'}),
    ({'marker': 'o', 'version_marker': 'null'},
     {'format': 'json', 'marker': '\x00o\x00'}),
    ({'marker': 'o', 'version_marker': TS1},
     {'format': 'json', 'marker': '\x00o\x00' + invert(TS1).internal}),
    ({'prefix': 'p', 'limit': '3', 'delimiter': '/', 'reverse': 'on'},
     {'format': 'json', 'prefix': '\x00p', 'limit': '3', 'delimiter': '/',
      'reverse': 'on'}),
])
def test_versions_params(params, expected):
    assert ovl._versions_params(params) == expected


@pytest.mark.parametrize('params, message', [
    ({'marker': 'o', 'version_marker': 'junk'},
     b'invalid version_marker param'),
    ({'version_marker': TS1}, b'version_marker param requires marker'),
    ({'delimiter': '1'}, b'invalid delimiter param'),
    ({'delimiter': '\x00'}, b'invalid delimiter param'),
])
def test_bad_versions_params_are_400(params, message):
    with pytest.raises(VersioningError) as err:
        ovl._versions_params(params)
    assert err.value.response.status == 400
    assert err.value.response.body == message


# ------------------------------------------------------ container listing

def test_container_listing_shows_each_link_as_its_version():
    backend = versioned_backend(
        [row('a', 3, 'ha'), link_row('o', TS2, 5, 'h2')], [])
    resp, rows = listing(backend)
    assert resp.headers['X-Versions-Enabled'] == 'True'
    assert resp.headers['X-Container-Bytes-Used'] == '110'
    assert rows[0] == row('a', 3, 'ha')
    link = rows[1]
    assert (link['bytes'], link['hash'], link['version_symlink']) == \
        (5, 'h2', True)
    assert link['symlink_path'] == '/v1/a/c/o?version-id=' + TS2
    assert 'symlink_bytes' not in link and 'symlink_etag' not in link


def test_link_to_somewhere_else_is_left_alone():
    other = row('l', 0, EMPTY, symlink_path='/v1/a/other/t',
                symlink_etag='h', symlink_bytes=4)
    _, rows = listing(versioned_backend([dict(other)], []))
    assert rows == [other]


def test_head_adds_the_hidden_containers_bytes():
    backend = versioned_backend([], [])
    resp, _ = listing(backend, method='HEAD')
    assert resp.status_int == 204
    assert resp.headers['X-Container-Bytes-Used'] == '110'
    assert ('GET', '/v1/a/' + HIDDEN) not in [c[:2] for c in backend.calls]


def test_versions_listing_merges_nulls_versions_and_markers():
    hidden = [
        row(version_object('d', TS2), 0, EMPTY, DELETE_MARKER_CONTENT_TYPE),
        row(version_object('d', TS1), 2, 'hd1'),
        row(version_object('o', TS2), 5, 'h2'),
        row(version_object('o', TS1), 4, 'h1'),
    ]
    backend = versioned_backend(
        [row('a', 3, 'ha'), link_row('o', TS2, 5, 'h2')], hidden)
    resp, rows = listing(backend, 'versions')
    assert resp.content_type == 'application/json'
    assert [(r['name'], r['version_id'], r['is_latest']) for r in rows] == [
        ('a', 'null', True), ('d', TS2, True), ('d', TS1, False),
        ('o', TS2, True), ('o', TS1, False)]
    assert rows[3]['bytes'] == 5 and rows[4]['hash'] == 'h1'
    hidden_get = [c for c in backend.calls
                  if c[:2] == ('GET', '/v1/a/' + HIDDEN)][0]
    assert hidden_get[2]['format'] == ['json']


def test_versions_listing_keeps_a_link_whose_version_is_not_listed():
    backend = versioned_backend([link_row('o', TS2, 5, 'h2')], [])
    _, rows = listing(backend, 'versions')
    assert [(r['name'], r['version_id'], r['is_latest'], r['bytes'])
            for r in rows] == [('o', TS2, True, 5)]


def test_versions_listing_of_a_never_versioned_container():
    backend = Backend()
    backend.set('GET', '/v1/a/c', listing=[row('a', 3, 'ha')])
    _, rows = listing(backend, 'versions')
    assert [(r['name'], r['version_id']) for r in rows] == [('a', 'null')]
    # it still looked for a hidden container under the usual name
    assert ('HEAD', '/v1/a/' + HIDDEN) in [c[:2] for c in backend.calls]


def test_versions_listing_speaks_only_json():
    backend = versioned_backend([], [])
    with pytest.raises(VersioningError) as err:
        listing(backend, 'versions', Accept='application/xml')
    assert err.value.response.status == 406
    assert backend.calls == []


def test_versions_listing_passes_a_hidden_container_error_on():
    backend = versioned_backend([], [])
    backend.set('GET', '/v1/a/' + HIDDEN, status=503)
    req = Request.blank('/v1/a/c?versions')
    assert ovl.container_get_or_head(backend, req, 'a', 'c').status_int == \
        503


# -------------------------------------------------------- account listing

def test_account_listing_adds_hidden_bytes_and_names_orphans():
    backend = Backend()
    backend.set('GET', '/v1/a', listing=[
        {'name': 'c', 'count': 1, 'bytes': 10},
        {'name': 'plain', 'count': 2, 'bytes': 7}])
    req = Request.blank('/v1/a')
    hidden_rows = [{'name': HIDDEN, 'count': 3, 'bytes': 100},
                   {'name': '\x00versions\x00gone', 'count': 1,
                    'bytes': 4}]

    def app(env, start_response):
        if env.get('HTTP_X_BACKEND_ALLOW_RESERVED_NAMES') == 'true':
            backend.calls.append(('GET', 'hidden', parse_qs(
                env['QUERY_STRING'])))
            return Response(json_body=hidden_rows)(env, start_response)
        return backend(env, start_response)
    resp = ovl.account_get(app, req, 'a')
    rows = json.loads(resp.body)
    assert rows == [{'name': 'c', 'count': 1, 'bytes': 110},
                    {'name': 'gone', 'count': 0, 'bytes': 4},
                    {'name': 'plain', 'count': 2, 'bytes': 7}]
    hidden_query = [c[2] for c in backend.calls if c[1] == 'hidden'][0]
    assert hidden_query['prefix'] == ['\x00versions']


def test_account_listing_without_hidden_containers_is_unchanged():
    backend = Backend()
    backend.set('GET', '/v1/a', listing=[{'name': 'c', 'count': 1,
                                          'bytes': 10}])
    resp = ovl.account_get(backend, Request.blank('/v1/a'), 'a')
    assert json.loads(resp.body) == [{'name': 'c', 'count': 1, 'bytes': 10}]
