"""Versioning and symlinks as the default pipeline serves them.

The cluster's own proxy runs the shipped pipeline (clamav, copy, slo,
dlo, versioned_writes with object versioning switched on, symlink), so
these tests check how the features meet: a new version is scanned, an
old version keeps its verdict, a restore by COPY carries it, a container
versioned the legacy way cannot switch on the new style, archives of
large objects stay large objects, and links reach across accounts and to
large objects.
"""
import hashlib
import json
import uuid
from urllib.parse import quote, urlparse

import pytest

from objproxy.common.clamd import EICAR_TEST_FILE
from tests.functional.test_pipeline import call


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    return urlparse(storage_url).path, {'X-Auth-Token': token}


def new_container(cluster, owner, headers=None):
    path, auth = owner
    name = 'vdp-%s' % uuid.uuid4().hex[:10]
    status = call(cluster.proxy_url, 'PUT', '%s/%s' % (path, name),
                  dict(auth, **(headers or {})))[0]
    assert status in (201, 202)
    return name


def test_a_new_version_is_scanned_and_old_versions_keep_their_verdict(
        cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    cont = new_container(cluster, owner, {'X-Versions-Enabled': 'true'})
    obj = '%s/%s/report.txt' % (path, cont)
    status, headers, _b = call(url, 'PUT', obj, auth, b'first draft')
    assert status == 201
    v1 = headers['x-object-version-id']
    status, _h, body = call(url, 'PUT', obj, auth, EICAR_TEST_FILE)
    assert status == 403 and b'Objproxy.Test.EICAR' in body
    status, headers, _b = call(url, 'PUT', obj, auth, b'second draft')
    v2 = headers['x-object-version-id']
    # the infected upload left no version behind
    rows = json.loads(call(url, 'GET', '%s/%s?versions&format=json'
                           % (path, cont), auth)[2])
    assert [r['version_id'] for r in rows] == [v2, v1]
    status, headers, _b = call(url, 'HEAD', obj + '?version-id=' + v1, auth)
    assert status == 200
    assert headers['x-object-version-id'] == v1
    assert headers['x-object-av-verdict'] == 'clean'
    assert headers['content-length'] == str(len(b'first draft'))


def test_a_restore_by_copy_makes_an_old_version_current_with_its_verdict(
        cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    cont = new_container(cluster, owner, {'X-Versions-Enabled': 'true'})
    obj = '%s/%s/plan.txt' % (path, cont)
    v1 = call(url, 'PUT', obj, auth, b'plan A')[1]['x-object-version-id']
    call(url, 'PUT', obj, auth, b'plan B')
    old = call(url, 'HEAD', obj + '?version-id=' + v1, auth)[1]
    status, headers, _b = call(url, 'COPY', obj + '?version-id=' + v1, dict(
        auth, Destination='%s/plan.txt' % cont))
    assert status == 201
    status, headers, body = call(url, 'GET', obj, auth)
    assert (status, body) == (200, b'plan A')
    assert headers['x-object-version-id'] not in (v1, None)
    for name in ('verdict', 'signatures', 'scanned-at'):
        assert headers['x-object-av-' + name] == old['x-object-av-' + name]
    rows = json.loads(call(url, 'GET', '%s/%s?versions&format=json'
                           % (path, cont), auth)[2])
    assert len(rows) == 3 and rows[0]['is_latest']


def test_metadata_is_read_and_posted_by_version_id(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    cont = new_container(cluster, owner, {'X-Versions-Enabled': 'true'})
    obj = '%s/%s/tagged' % (path, cont)
    v1 = call(url, 'PUT', obj, dict(auth, **{'X-Object-Meta-Step': 'one'}),
              b'1')[1]['x-object-version-id']
    call(url, 'PUT', obj, dict(auth, **{'X-Object-Meta-Step': 'two'}), b'2')
    assert call(url, 'HEAD', obj + '?version-id=' + v1, auth)[1][
        'x-object-meta-step'] == 'one'
    assert call(url, 'HEAD', obj, auth)[1]['x-object-meta-step'] == 'two'
    status = call(url, 'POST', obj, dict(auth, **{
        'X-Object-Meta-Step': 'posted'}))[0]
    assert status == 202
    assert call(url, 'HEAD', obj, auth)[1]['x-object-meta-step'] == 'posted'
    assert call(url, 'HEAD', obj + '?version-id=' + v1, auth)[1][
        'x-object-meta-step'] == 'one'


def test_suspended_versioning_overwrites_the_null_version(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    cont = new_container(cluster, owner, {'X-Versions-Enabled': 'true'})
    obj = '%s/%s/log' % (path, cont)
    kept = call(url, 'PUT', obj, auth, b'kept')[1]['x-object-version-id']
    assert call(url, 'POST', '%s/%s' % (path, cont), dict(
        auth, **{'X-Versions-Enabled': 'false'}))[0] == 204
    assert call(url, 'HEAD', '%s/%s' % (path, cont), auth)[1][
        'x-versions-enabled'] == 'False'
    for body in (b'one', b'two'):
        assert call(url, 'PUT', obj, auth, body)[0] == 201
    rows = json.loads(call(url, 'GET', '%s/%s?versions&format=json'
                           % (path, cont), auth)[2])
    assert [(r['version_id'], r['is_latest']) for r in rows] == [
        ('null', True), (kept, False)]
    assert call(url, 'GET', obj, auth)[2] == b'two'


def test_a_legacy_versioned_container_cannot_enable_object_versioning(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    archive = new_container(cluster, owner)
    old_style = new_container(cluster, owner, {
        'X-Versions-Location': archive})
    status = call(url, 'POST', '%s/%s' % (path, old_style), dict(
        auth, **{'X-Versions-Enabled': 'true'}))[0]
    assert status == 400
    assert 'x-versions-enabled' not in call(
        url, 'HEAD', '%s/%s' % (path, old_style), auth)[1]


def put_slo(url, auth, path, cont, name, parts):
    manifest = []
    for index, part in enumerate(parts):
        seg = '%s/%s/%s-seg%d' % (path, cont, name, index)
        assert call(url, 'PUT', seg, auth, part)[0] == 201
        manifest.append({'path': '/%s/%s-seg%d' % (cont, name, index),
                         'etag': hashlib.md5(part).hexdigest(),
                         'size_bytes': len(part)})
    status = call(url, 'PUT', '%s/%s/%s?multipart-manifest=put'
                  % (path, cont, name), auth,
                  json.dumps(manifest).encode())[0]
    assert status == 201


def test_an_overwritten_slo_is_archived_as_a_large_object(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    archive = new_container(cluster, owner)
    cont = new_container(cluster, owner, {'X-Versions-Location': archive})
    put_slo(url, auth, path, cont, 'movie', [b'a' * 10, b'b' * 10])
    assert call(url, 'PUT', '%s/%s/movie' % (path, cont), auth,
                b'replaced')[0] == 201
    listing = json.loads(call(url, 'GET', '%s/%s?format=json'
                              % (path, archive), auth)[2])
    assert len(listing) == 1
    archived = '%s/%s/%s' % (path, archive, quote(listing[0]['name']))
    status, headers, body = call(url, 'GET', archived, auth)
    assert (status, body) == (200, b'a' * 10 + b'b' * 10)
    assert headers['x-static-large-object'] == 'True'
    # a DELETE brings the large object back
    assert call(url, 'DELETE', '%s/%s/movie' % (path, cont), auth)[0] == 204
    assert call(url, 'GET', '%s/%s/movie' % (path, cont), auth)[2] == \
        b'a' * 10 + b'b' * 10


def test_the_copy_verb_onto_a_versioned_name_archives_it(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    archive = new_container(cluster, owner)
    cont = new_container(cluster, owner, {'X-History-Location': archive})
    call(url, 'PUT', '%s/%s/src' % (path, cont), auth, b'new text')
    call(url, 'PUT', '%s/%s/dst' % (path, cont), auth, b'old text')
    assert call(url, 'COPY', '%s/%s/src' % (path, cont), dict(
        auth, Destination='%s/dst' % cont))[0] == 201
    assert call(url, 'GET', '%s/%s/dst' % (path, cont), auth)[2] == \
        b'new text'
    listing = json.loads(call(url, 'GET', '%s/%s?format=json&prefix=%s'
                              % (path, archive, '003dst/'), auth)[2])
    assert len(listing) == 1
    assert call(url, 'GET', '%s/%s/%s' % (path, archive,
                                          quote(listing[0]['name'])),
                auth)[2] == b'old text'


def test_a_link_reaches_another_account_only_with_its_read_acl(cluster,
                                                                owner):
    path, auth = owner
    url = cluster.proxy_url
    other_url, other_token = cluster.token('test2:tester2', 'testing2')
    other_path = urlparse(other_url).path
    other = {'X-Auth-Token': other_token}
    shared = 'vdp-shared-%s' % uuid.uuid4().hex[:8]
    assert call(url, 'PUT', '%s/%s' % (other_path, shared), other)[0] == 201
    assert call(url, 'PUT', '%s/%s/doc' % (other_path, shared), other,
                b'theirs')[0] == 201
    cont = new_container(cluster, owner)
    link = '%s/%s/their-doc' % (path, cont)
    assert call(url, 'PUT', link, dict(auth, **{
        'X-Symlink-Target': '%s/doc' % shared,
        'X-Symlink-Target-Account': other_path.split('/')[-1]}))[0] == 201
    assert call(url, 'GET', link, auth)[0] == 403
    assert call(url, 'POST', '%s/%s' % (other_path, shared), dict(
        other, **{'X-Container-Read': 'test:tester'}))[0] == 204
    status, headers, body = call(url, 'GET', link, auth)
    assert (status, body) == (200, b'theirs')
    assert headers['content-location'].endswith('/%s/doc' % shared)


def test_a_link_to_a_large_object_serves_its_joined_content(cluster, owner):
    path, auth = owner
    url = cluster.proxy_url
    cont = new_container(cluster, owner)
    put_slo(url, auth, path, cont, 'big', [b'x' * 7, b'y' * 5])
    dlo_segments = '%s/%s/parts/' % (path, cont)
    for index, part in enumerate((b'd1', b'd2')):
        call(url, 'PUT', '%s%02d' % (dlo_segments, index), auth, part)
    assert call(url, 'PUT', '%s/%s/dlo' % (path, cont), dict(auth, **{
        'X-Object-Manifest': '%s/parts/' % cont}), b'')[0] == 201
    for target, joined in (('big', b'x' * 7 + b'y' * 5), ('dlo', b'd1d2')):
        link = '%s/%s/to-%s' % (path, cont, target)
        assert call(url, 'PUT', link, dict(auth, **{
            'X-Symlink-Target': '%s/%s' % (cont, target)}))[0] == 201
        status, _h, body = call(url, 'GET', link, auth)
        assert (status, body) == (200, joined)
        status, headers, body = call(url, 'GET', link + '?symlink=get',
                                     auth)
        assert status == 200 and body == b''
        assert headers['x-symlink-target'] == '%s/%s' % (cont, target)
