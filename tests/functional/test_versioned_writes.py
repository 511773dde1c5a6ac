"""Legacy versioned writes through a full pipeline with real processes.

A proxy with ``versioned_writes`` (``allow_versioned_writes = true``) in
front of the shared cluster: overwrites are archived under Swift's names,
DELETE pops (stack mode) or leaves a delete marker (history mode), the
archives keep the scan verdict of the content they hold, and the client
needs write access to the versioned container.
"""
import json
import uuid
from urllib.parse import quote, urlparse

import pytest

from tests.functional.test_pipeline import call

PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
            'tempauth clamav slo dlo versioned_writes proxy_logging '
            'proxy_server')


@pytest.fixture(scope='module')
def proxy(cluster):
    with cluster.extra_proxy('proxy-vw', pipeline=PIPELINE, overrides={
            'filter:versioned_writes': {
                'allow_versioned_writes': 'true',
                'allow_object_versioning': 'false'}}) as extra:
        yield extra


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    return urlparse(storage_url).path, {'X-Auth-Token': token}


@pytest.fixture
def containers(proxy, owner):
    """A versioned container and its (empty) archive container."""
    account, auth = owner
    suffix = uuid.uuid4().hex[:8]
    versions = 'arch-%s' % suffix
    cont = 'vers-%s' % suffix
    assert call(proxy.url, 'PUT', '%s/%s' % (account, versions),
                auth)[0] == 201
    status, _h, _b = call(proxy.url, 'PUT', '%s/%s' % (account, cont),
                          dict(auth, **{'X-Versions-Location': versions}))
    assert status == 201
    return '%s/%s' % (account, cont), '%s/%s' % (account, versions)


def listing(url, path, auth, **params):
    query = '&'.join('%s=%s' % (k, quote(v, safe='')) for k, v in
                     dict(params, format='json').items())
    status, _h, body = call(url, 'GET', '%s?%s' % (path, query), auth)
    assert status == 200
    return json.loads(body)


def test_overwrite_archives_old_version_under_swifts_name(proxy, owner,
                                                          containers):
    _account, auth = owner
    cont, versions = containers
    name = 'd\u00e9j\u00e0/vu'
    path = '%s/%s' % (cont, quote(name))
    assert call(proxy.url, 'PUT', path, auth, b'first')[0] == 201
    _s, first, _b = call(proxy.url, 'HEAD', path, auth)
    assert call(proxy.url, 'PUT', path, auth, b'second')[0] == 201

    rows = listing(proxy.url, versions, auth)
    assert [r['name'] for r in rows] == [
        '%03x%s/%s' % (len(name.encode('utf-8')), name,
                       first['x-timestamp'])]
    status, archived, body = call(
        proxy.url, 'GET', '%s/%s' % (versions, quote(rows[0]['name'])), auth)
    assert (status, body) == (200, b'first')
    # the archive is the same scanned content, with the same verdict
    for key in ('x-object-av-verdict', 'x-object-av-engine',
                'x-object-av-scanned-at'):
        assert archived[key] == first[key]
    assert call(proxy.url, 'GET', path, auth)[2] == b'second'


def test_stack_delete_pops_versions_then_deletes(proxy, owner, containers):
    _account, auth = owner
    cont, versions = containers
    path = cont + '/obj'
    for body in (b'v1', b'v2', b'v3'):
        assert call(proxy.url, 'PUT', path, auth, body)[0] == 201
    assert len(listing(proxy.url, versions, auth)) == 2
    for expected in (b'v2', b'v1'):
        assert call(proxy.url, 'DELETE', path, auth)[0] == 204
        status, headers, body = call(proxy.url, 'GET', path, auth)
        assert (status, body) == (200, expected)
        assert headers['x-object-av-verdict'] == 'clean'
    assert listing(proxy.url, versions, auth) == []
    assert call(proxy.url, 'DELETE', path, auth)[0] == 204
    assert call(proxy.url, 'GET', path, auth)[0] == 404


def test_history_delete_leaves_a_delete_marker(proxy, owner, containers):
    _account, auth = owner
    cont, versions = containers
    status, _h, _b = call(proxy.url, 'POST', cont, dict(auth, **{
        'X-History-Location': versions.rsplit('/', 1)[1]}))
    assert status == 204
    path = cont + '/obj'
    assert call(proxy.url, 'PUT', path, auth, b'only')[0] == 201
    assert call(proxy.url, 'DELETE', path, auth)[0] == 204
    assert call(proxy.url, 'GET', path, auth)[0] == 404
    rows = listing(proxy.url, versions, auth)
    assert [r['content_type'] for r in rows][-1] == \
        'application/x-deleted;swift_versions_deleted=1'
    assert len(rows) == 2


def test_container_shows_one_location_and_refuses_both(proxy, owner,
                                                       containers):
    _account, auth = owner
    cont, versions = containers
    vname = versions.rsplit('/', 1)[1]
    headers = call(proxy.url, 'HEAD', cont, auth)[1]
    assert headers['x-versions-location'] == vname
    assert 'x-history-location' not in headers
    assert not any('sysmeta' in key for key in headers)
    call(proxy.url, 'POST', cont, dict(auth, **{'X-History-Location': vname}))
    headers = call(proxy.url, 'HEAD', cont, auth)[1]
    assert headers['x-history-location'] == vname
    assert 'x-versions-location' not in headers
    status, _h, body = call(proxy.url, 'POST', cont, dict(auth, **{
        'X-History-Location': 'a', 'X-Versions-Location': 'b'}))
    assert status == 400
    assert b'Only one of' in body
    call(proxy.url, 'POST', cont, dict(auth, **{
        'X-Remove-History-Location': 'x'}))
    headers = call(proxy.url, 'HEAD', cont, auth)[1]
    assert 'x-history-location' not in headers
    assert 'x-versions-location' not in headers


def test_copy_onto_a_versioned_name_archives_it(proxy, owner, containers):
    _account, auth = owner
    cont, versions = containers
    cname = cont.rsplit('/', 1)[1]
    assert call(proxy.url, 'PUT', cont + '/src', auth, b'source')[0] == 201
    assert call(proxy.url, 'PUT', cont + '/dst', auth, b'old')[0] == 201
    status, _h, _b = call(proxy.url, 'PUT', cont + '/dst', dict(
        auth, **{'X-Copy-From': cname + '/src'}), b'')
    assert status == 201
    assert call(proxy.url, 'GET', cont + '/dst', auth)[2] == b'source'
    rows = listing(proxy.url, versions, auth)
    assert [r['name'][:7] for r in rows] == ['003dst/']


def test_dlo_manifest_is_archived_as_a_manifest(proxy, owner, containers):
    _account, auth = owner
    cont, versions = containers
    cname = cont.rsplit('/', 1)[1]
    for part in ('1', '2'):
        call(proxy.url, 'PUT', '%s/seg/%s' % (cont, part), auth, b'ab')
    manifest = dict(auth, **{'X-Object-Manifest': cname + '/seg/'})
    assert call(proxy.url, 'PUT', cont + '/big', manifest, b'')[0] == 201
    assert call(proxy.url, 'PUT', cont + '/big', auth, b'plain')[0] == 201
    [row] = listing(proxy.url, versions, auth, prefix='003big/')
    status, headers, body = call(
        proxy.url, 'GET', '%s/%s' % (versions, quote(row['name'])), auth)
    assert status == 200
    assert headers['x-object-manifest'] == cname + '/seg/'
    assert body == b'abab'


def test_write_access_to_versioned_container_is_required(cluster, proxy,
                                                         owner, containers):
    _account, auth = owner
    cont, versions = containers
    _url, token3 = cluster.token('test:tester3', 'testing3')
    other = {'X-Auth-Token': token3}
    path = cont + '/guarded'
    assert call(proxy.url, 'PUT', path, auth, b'mine')[0] == 201
    assert call(proxy.url, 'PUT', path, other, b'theirs')[0] == 403
    assert call(proxy.url, 'DELETE', path, other)[0] == 403
    assert listing(proxy.url, versions, auth) == []
    # a write ACL on the versioned container is enough, even though the
    # archive container is not writable to that user (as in Swift)
    call(proxy.url, 'POST', cont, dict(auth, **{
        'X-Container-Write': 'test:tester3'}))
    assert call(proxy.url, 'PUT', path, other, b'theirs')[0] == 201
    assert len(listing(proxy.url, versions, auth)) == 1
    assert call(proxy.url, 'GET', versions, other)[0] == 403


def test_info_lists_allowed_flags(proxy):
    status, _h, body = call(proxy.url, 'GET', '/info')
    assert status == 200
    assert json.loads(body)['versioned_writes'] == {
        'allowed_flags': ['x-versions-location', 'x-history-location']}


def test_location_sent_as_raw_utf8_names_the_archive(proxy, owner):
    account, auth = owner
    suffix = uuid.uuid4().hex[:8]
    versions = '\u00e9t\u00e9-%s' % suffix
    cont = '%s/raw-%s' % (account, suffix)
    archive = '%s/%s' % (account, quote(versions))
    assert call(proxy.url, 'PUT', archive, auth)[0] == 201
    status, _h, _b = call(proxy.url, 'PUT', cont, dict(
        auth, **{'X-Versions-Location': versions.encode('utf-8')}))
    assert status == 201
    assert call(proxy.url, 'PUT', cont + '/o', auth, b'one')[0] == 201
    assert call(proxy.url, 'PUT', cont + '/o', auth, b'two')[0] == 201
    assert [r['name'][:5] for r in listing(proxy.url, archive, auth)] == [
        '001o/']
    assert call(proxy.url, 'DELETE', cont + '/o', auth)[0] == 204
    assert call(proxy.url, 'GET', cont + '/o', auth)[2] == b'one'
