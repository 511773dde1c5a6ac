"""Object versioning and the reserved namespace through real processes.

A proxy with Swift's versioning pipeline (versioned_writes wrapping
object_versioning, then symlink) runs on the shared functional cluster.
"""
import json
import time
from urllib.parse import urlparse

import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)

PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging tempauth '
            'copy slo dlo versioned_writes symlink proxy_logging '
            'proxy_server')


@pytest.fixture(scope='module')
def ov_client(pcluster):
    proxy = pcluster.extra_proxy('ov-proxy', pipeline=PIPELINE, overrides={
        'filter:versioned_writes': {'allow_object_versioning': 'true'}})
    cl = Client(pcluster)
    parsed = urlparse(proxy.url)
    cl.host, cl.port = parsed.hostname, parsed.port
    yield cl
    proxy.stop()


@pytest.fixture
def vcontainer(ov_client):
    name = 'ov-%d' % int(time.time() * 1000000)
    resp = ov_client.req('PUT', '/' + name,
                         headers={'X-Versions-Enabled': 'true'})
    assert resp.status == 201
    return name


def test_info_lists_object_versioning(ov_client):
    resp = ov_client.raw('GET', '/info')
    assert 'object_versioning' in json.loads(resp.body)


@pytest.mark.parametrize('path', [
    '/v1/AUTH_te%00st', '/v1/AUTH_test/c%00', '/v1/AUTH_test/%00versions%00c',
    '/v1/AUTH_test/c/%00o%001', '/v1/AUTH_test/c/o%00'])
def test_client_nul_is_412_even_claiming_the_reserved_namespace(
        ov_client, path):
    """The gatekeeper strips the client's X-Backend-Allow-Reserved-Names,
    so every verb on a NUL path is refused."""
    for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE'):
        resp = ov_client.raw(method, path, headers={
            'X-Backend-Allow-Reserved-Names': 'true'})
        assert resp.status == 412, (method, path)


def test_versions_are_kept_and_readable_by_version_id(ov_client, vcontainer):
    path = '/%s/doc' % vcontainer
    head = ov_client.req('HEAD', '/' + vcontainer)
    assert head.hdrs['x-versions-enabled'] == 'True'
    assert not any(k.startswith('x-container-sysmeta') for k in head.hdrs)
    v1 = ov_client.req('PUT', path, b'first').hdrs['x-object-version-id']
    put = ov_client.req('PUT', path, b'second')
    assert put.status == 201
    v2 = put.hdrs['x-object-version-id']
    assert v1 != v2
    get = ov_client.req('GET', path)
    assert get.body == b'second' and get.hdrs['x-object-version-id'] == v2
    old = ov_client.raw('GET', ov_client.base + path + '?version-id=' + v1)
    assert old.status == 200 and old.body == b'first'
    bad = ov_client.raw('GET', ov_client.base + path + '?version-id=nope')
    assert bad.status == 400
    # the hidden container is never listed to the client
    listing = json.loads(ov_client.raw(
        'GET', ov_client.base + '?format=json').body)
    assert not any(row['name'].startswith('\x00') for row in listing)


def test_delete_leaves_a_marker_and_the_container_stays_until_emptied(
        ov_client, vcontainer):
    path = '/%s/gone' % vcontainer
    v1 = ov_client.req('PUT', path, b'data').hdrs['x-object-version-id']
    resp = ov_client.req('DELETE', path)
    assert resp.status == 204
    marker = resp.hdrs['x-object-version-id']
    assert ov_client.req('GET', path).status == 404
    assert ov_client.raw('GET', ov_client.base + path + '?version-id=' + v1
                         ).body == b'data'
    assert ov_client.req('DELETE', '/' + vcontainer).status == 409
    for version in (marker, v1):
        assert ov_client.raw('DELETE', ov_client.base + path +
                             '?version-id=' + version).status == 204
    assert ov_client.req('DELETE', '/' + vcontainer).status == 204


def test_versions_listing_by_utf8_prefix(ov_client, vcontainer):
    """A %-encoded UTF-8 prefix lists that object's versions (no 500)."""
    snow = '/%s/\u2603' % vcontainer
    vids = [ov_client.req('PUT', snow, body).hdrs['x-object-version-id']
            for body in (b'one', b'two')]
    ov_client.req('PUT', '/%s/plain' % vcontainer, b'x')
    resp = ov_client.raw('GET', ov_client.base + '/' + vcontainer +
                         '?versions&format=json&prefix=%E2%98%83')
    assert resp.status == 200
    rows = json.loads(resp.body)
    assert [(r['name'], r['version_id'], r['is_latest']) for r in rows] == [
        ('\u2603', vids[1], True), ('\u2603', vids[0], False)]


def test_static_link_and_untyped_upload_in_a_versioned_container(
        ov_client, vcontainer):
    """A static link's target check and an upload without Content-Type
    behave as in an unversioned container: the link takes its target's
    type, the upload's type is guessed from its (client) name."""
    target = ov_client.req('PUT', '/%s/pic.png' % vcontainer, b'png')
    assert target.status == 201
    assert ov_client.req('HEAD', '/%s/pic.png' % vcontainer).hdrs[
        'content-type'] == 'image/png'
    link = ov_client.req('PUT', '/%s/link' % vcontainer, b'', headers={
        'X-Symlink-Target': '%s/pic.png' % vcontainer,
        'X-Symlink-Target-Etag': target.hdrs['etag']})
    assert link.status == 201
    get = ov_client.req('GET', '/%s/link' % vcontainer)
    assert get.status == 200 and get.body == b'png'
    rows = json.loads(ov_client.raw('GET', ov_client.base + '/' + vcontainer +
                                    '?versions&format=json').body)
    assert [(r['name'], r['content_type']) for r in rows] == [
        ('link', 'image/png'), ('pic.png', 'image/png')]
