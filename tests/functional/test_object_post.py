"""Object POST with a Content-Type, through the full proxy pipeline.

The object's content type changes (HEAD shows it) and so does its
container listing row (content type and last_modified), while the row's
size and hash stay the data's: for an SLO manifest the segments' total
and the manifest's MD5 with its slo_etag.
"""
import datetime
import hashlib
import json
import time
import uuid

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)
from tests.waiting import wait_for


def row(client, container, name):
    resp = client.req('GET', container, headers={'Accept':
                                                 'application/json'})
    assert resp.status == 200, resp.body
    for entry in json.loads(resp.body):
        if entry['name'] == name:
            return entry
    raise AssertionError('%s not listed in %s' % (name, container))


def wait_past(entry):
    """Wait until the clock is past a listing row's last_modified, so a
    request made now gets a newer timestamp than that row's."""
    listed = datetime.datetime.strptime(
        entry['last_modified'], '%Y-%m-%dT%H:%M:%S.%f').replace(
            tzinfo=datetime.timezone.utc).timestamp()
    wait_for(lambda: time.time() > listed + 0.00001, timeout=5,
             what='the clock to pass %s' % entry['last_modified'])


def test_content_type_post_reaches_head_and_listing(client):
    container = '/post-ctype-%s' % uuid.uuid4().hex[:8]
    assert client.req('PUT', container).status in (201, 202)
    resp = client.req('PUT', container + '/plain', b'hello',
                      {'Content-Type': 'text/plain'})
    assert resp.status == 201
    before = row(client, container, 'plain')
    assert before['content_type'] == 'text/plain'
    wait_past(before)

    resp = client.req('POST', container + '/plain', b'',
                      {'Content-Type': 'image/jpeg',
                       'X-Object-Meta-Color': 'red'})
    assert resp.status == 202
    head = client.req('HEAD', container + '/plain')
    assert head.hdrs['content-type'] == 'image/jpeg'
    assert head.hdrs['x-object-meta-color'] == 'red'
    after = row(client, container, 'plain')
    assert after['content_type'] == 'image/jpeg'
    assert after['last_modified'] > before['last_modified']
    assert after['bytes'] == 5
    assert after['hash'] == hashlib.md5(b'hello').hexdigest()

    # no Content-Type: the content type (and the listing row) stay
    resp = client.req('POST', container + '/plain', b'',
                      {'X-Object-Meta-Color': 'blue'})
    assert resp.status == 202
    head = client.req('HEAD', container + '/plain')
    assert head.hdrs['content-type'] == 'image/jpeg'
    assert head.hdrs['x-object-meta-color'] == 'blue'
    assert row(client, container, 'plain') == after

    # an SLO manifest keeps its total size and both its ETags
    segment = b'x' * 4096
    resp = client.req('PUT', container + '/seg', segment)
    assert resp.status == 201
    manifest = json.dumps([{'path': container + '/seg'}]).encode()
    resp = client.raw('PUT', client.base + '%s/slo?multipart-manifest=put'
                      % container, manifest)
    assert resp.status == 201, resp.body
    slo_before = row(client, container, 'slo')
    assert slo_before['bytes'] == 4096
    assert 'slo_etag' in slo_before
    wait_past(slo_before)
    resp = client.req('POST', container + '/slo', b'',
                      {'Content-Type': 'video/mp4'})
    assert resp.status == 202
    head = client.req('HEAD', container + '/slo')
    assert head.hdrs['content-type'] == 'video/mp4'
    assert head.hdrs['content-length'] == '4096'
    slo_after = row(client, container, 'slo')
    assert slo_after['content_type'] == 'video/mp4'
    assert slo_after['bytes'] == 4096
    assert slo_after['hash'] == slo_before['hash']
    assert slo_after['slo_etag'] == slo_before['slo_etag']
    assert slo_after['last_modified'] > slo_before['last_modified']
    resp = client.req('GET', container + '/slo')
    assert resp.status == 200 and resp.body == segment
