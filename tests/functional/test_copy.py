"""Server-side copy and listing formats through the full default pipeline
(the copy filter reads and writes through slo/dlo, clamav and the proxy)."""
import hashlib
import json
import time
from xml.etree import ElementTree

from urllib.parse import quote

import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)


def req(client, method, path, query, body=None, headers=None):
    """A request with a query string (``client.req`` quotes the path)."""
    return client.raw(method, '%s%s?%s' % (client.base, quote(path), query),
                      body, headers)


@pytest.fixture
def container(client):
    name = 'copy-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + name).status == 201
    return name


def test_copy_of_a_range_gets_its_own_etag(client, container):
    client.req('PUT', '/%s/src' % container, b'0123456789')
    resp = client.req('PUT', '/%s/part' % container, b'', {
        'X-Copy-From': '%s/src' % container, 'Range': 'bytes=3-5'})
    assert resp.status == 201
    assert resp.hdrs['etag'] == hashlib.md5(b'345').hexdigest()
    assert client.req('GET', '/%s/part' % container).body == b'345'


def test_copy_of_an_slo_and_of_its_manifest(client, container):
    seg = b'a' * 1024
    client.req('PUT', '/%s/seg' % container, seg)
    manifest = json.dumps([{'path': '/%s/seg' % container}]).encode()
    assert req(client, 'PUT', '/%s/big' % container,
               'multipart-manifest=put', manifest).status == 201
    flat = client.req('COPY', '/%s/big' % container, None, {
        'Destination': '%s/flat' % container})
    assert flat.status == 201
    head = client.req('HEAD', '/%s/flat' % container)
    assert 'x-static-large-object' not in head.hdrs
    assert client.req('GET', '/%s/flat' % container).body == seg
    again = req(client, 'COPY', '/%s/big' % container,
                'multipart-manifest=get', None,
                {'Destination': '%s/big2' % container})
    assert again.status == 201
    head = client.req('HEAD', '/%s/big2' % container)
    assert head.hdrs['x-static-large-object'] == 'True'
    assert client.req('GET', '/%s/big2' % container).body == seg


def test_options_allows_copy_and_bad_destination_is_412(client, container):
    client.req('PUT', '/%s/o' % container, b'x')
    resp = client.req('OPTIONS', '/%s/o' % container)
    assert 'COPY' in resp.hdrs['allow']
    bad = client.req('COPY', '/%s/o' % container, None,
                     {'Destination': 'no-slash'})
    assert bad.status == 412


def test_listing_xml_escapes_names(client, container):
    client.req('PUT', '/%s/a&b<c>' % container, b'x')
    resp = req(client, 'GET', '/' + container, 'format=xml')
    assert resp.status == 200
    assert resp.hdrs['content-type'] == 'application/xml; charset=utf-8'
    root = ElementTree.fromstring(resp.body)
    assert [o.find('name').text for o in root.iter('object')] == ['a&b<c>']
    plain = client.req('GET', '/' + container, None,
                       {'Accept': 'text/plain'})
    assert plain.body == b'a&b<c>\n' and plain.hdrs['vary'] == 'Accept'
    assert client.req('GET', '/' + container, None,
                      {'Accept': 'image/png'}).status == 406
