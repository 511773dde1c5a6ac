"""Symlinks end to end: a proxy whose pipeline has the symlink filter, on
the real cluster (storage nodes, memcached, clamd), driven over HTTP.

The proxy is started with an explicit pipeline (copy, clamav, slo, dlo
and symlink in Swift's order) so these tests do not depend on what the
shipped default pipeline holds today.
"""
import hashlib
import http.client
import json
import uuid
from urllib.parse import urlparse

import pytest
from swiftclient import client as swiftclient

PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
            'tempauth copy clamav slo dlo symlink proxy_logging proxy_server')
BODY = b'the target object body'
BODY_MD5 = hashlib.md5(BODY).hexdigest()
EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'


class Client(object):
    """Raw HTTP to the symlink proxy as one user."""

    def __init__(self, cluster, proxy_url, user, key):
        storage_url, self.token = cluster.token(user, key)
        self.account_path = urlparse(storage_url).path
        self.account = self.account_path.rsplit('/', 1)[-1]
        parsed = urlparse(proxy_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.storage_url = proxy_url + self.account_path

    def call(self, method, path, headers=None, body=None, query=''):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            hdrs = {'X-Auth-Token': self.token}
            hdrs.update(headers or {})
            url = self.account_path + path + ('?' + query if query else '')
            conn.request(method, url, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return (resp.status,
                    dict((k.lower(), v) for k, v in resp.getheaders()),
                    data)
        finally:
            conn.close()

    def ok(self, method, path, headers=None, body=None, query=''):
        status, hdrs, data = self.call(method, path, headers, body, query)
        assert 200 <= status < 300, (method, path, status, data)
        return hdrs, data


@pytest.fixture(scope='module')
def proxy(cluster):
    with cluster.extra_proxy('symlink-proxy', pipeline=PIPELINE) as extra:
        yield extra


@pytest.fixture(scope='module')
def owner(cluster, proxy):
    return Client(cluster, proxy.url, 'test:tester', 'testing')


@pytest.fixture(scope='module')
def reader(cluster, proxy):
    """A non-admin user of the same account: reads only what ACLs allow."""
    return Client(cluster, proxy.url, 'test:tester3', 'testing3')


@pytest.fixture
def containers(owner):
    names = ['sl-%s-%s' % (kind, uuid.uuid4().hex[:8])
             for kind in ('link', 'target')]
    for name in names:
        owner.ok('PUT', '/' + name)
    owner.ok('PUT', '/%s/obj' % names[1], body=BODY,
             headers={'Content-Type': 'text/x-target'})
    return names


def put_link(client, path, target, **headers):
    headers = dict(headers, **{'X-Symlink-Target': target})
    return client.call('PUT', path, headers=headers, body=b'')


def test_info_publishes_symlink_section(proxy):
    parsed = urlparse(proxy.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
    try:
        conn.request('GET', '/info')
        info = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert info['symlink'] == {'symloop_max': 2, 'static_links': True}


def test_link_serves_target_and_symlink_get_serves_link(owner, containers):
    link, target = containers
    status, _, _ = put_link(owner, '/%s/l' % link, '%s/obj' % target)
    assert status == 201
    hdrs, data = owner.ok('GET', '/%s/l' % link)
    assert data == BODY
    assert hdrs['etag'] == BODY_MD5
    assert hdrs['content-type'] == 'text/x-target'
    assert hdrs['content-location'] == '/v1/%s/%s/obj' % (owner.account,
                                                         target)
    hdrs, data = owner.ok('HEAD', '/%s/l' % link, query='symlink=get')
    assert hdrs['x-symlink-target'] == '%s/obj' % target
    assert hdrs['content-length'] == '0'
    assert hdrs['content-type'] == 'application/symlink'
    assert 'x-object-sysmeta-symlink-target' not in hdrs


def test_link_put_refuses_body_and_bad_targets(owner, containers):
    link, target = containers
    status, _, body = owner.call('PUT', '/%s/l' % link, body=b'x',
                                 headers={'X-Symlink-Target': target + '/o'})
    assert (status, body) == (400,
                              b'Symlink requests require a zero byte body')
    assert put_link(owner, '/%s/l' % link, '/%s/obj' % target)[0] == 412
    assert put_link(owner, '/%s/l' % link, '%s/l' % link)[0] == 400


def test_dangling_link_is_404_until_target_exists(owner, containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/later' % target)
    assert owner.call('GET', '/%s/l' % link)[0] == 404
    owner.ok('PUT', '/%s/later' % target, body=b'now here')
    assert owner.ok('GET', '/%s/l' % link)[1] == b'now here'


def test_chain_longer_than_symloop_max_is_409(owner, containers):
    link, target = containers
    previous = '%s/obj' % target
    for name in ('l1', 'l2', 'l3'):
        assert put_link(owner, '/%s/%s' % (link, name), previous)[0] == 201
        previous = '%s/%s' % (link, name)
    assert owner.ok('GET', '/%s/l2' % link)[1] == BODY
    status, _, body = owner.call('GET', '/%s/l3' % link)
    assert status == 409
    assert body == b'Too many levels of symbolic links, maximum allowed is 2'


def test_static_link_checks_etag_at_put_and_read(owner, containers):
    link, target = containers
    status, hdrs, _ = put_link(owner, '/%s/s' % link, '%s/obj' % target,
                               **{'X-Symlink-Target-Etag': 'f' * 32})
    assert status == 409
    status, _, _ = put_link(owner, '/%s/s' % link, '%s/nothing' % target,
                            **{'X-Symlink-Target-Etag': BODY_MD5})
    assert status == 409
    status, _, _ = put_link(owner, '/%s/s' % link, '%s/obj' % target,
                            **{'X-Symlink-Target-Etag': BODY_MD5})
    assert status == 201
    hdrs, _ = owner.ok('HEAD', '/%s/s' % link, query='symlink=get')
    assert hdrs['x-symlink-target-etag'] == BODY_MD5
    assert hdrs['x-symlink-target-bytes'] == str(len(BODY))
    assert owner.ok('GET', '/%s/s' % link)[1] == BODY
    owner.ok('PUT', '/%s/obj' % target, body=b'changed')
    assert owner.call('GET', '/%s/s' % link)[0] == 409


def test_listing_shows_links(owner, containers):
    link, target = containers
    put_link(owner, '/%s/dyn' % link, '%s/obj' % target)
    put_link(owner, '/%s/static' % link, '%s/obj' % target,
             **{'X-Symlink-Target-Etag': BODY_MD5})
    _, rows = swiftclient.get_container(owner.storage_url, owner.token,
                                        link)
    by_name = dict((row['name'], row) for row in rows)
    path = '/v1/%s/%s/obj' % (owner.account, target)
    assert by_name['dyn']['symlink_path'] == path
    assert by_name['dyn']['hash'] == EMPTY_MD5
    assert by_name['dyn']['bytes'] == 0
    assert by_name['static']['symlink_path'] == path
    assert by_name['static']['symlink_etag'] == BODY_MD5
    assert by_name['static']['symlink_bytes'] == len(BODY)


def test_target_read_is_authorized_as_the_client(owner, reader,
                                                 containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/obj' % target)
    owner.ok('POST', '/' + link, headers={'X-Container-Read': 'test:tester3'})
    # the reader may read the link's container but not the target's
    assert reader.call('GET', '/%s/l' % link, query='symlink=get')[0] == 200
    assert reader.call('GET', '/%s/l' % link)[0] == 403
    owner.ok('POST', '/' + target,
             headers={'X-Container-Read': 'test:tester3'})
    assert reader.call('GET', '/%s/l' % link)[2] == BODY


def test_post_to_link_answers_307_and_updates_the_link(owner, containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/obj' % target)
    status, hdrs, _ = owner.call('POST', '/%s/l' % link,
                                 headers={'X-Object-Meta-Color': 'blue'})
    assert status == 307
    assert hdrs['location'] == '/v1/%s/%s/obj' % (owner.account, target)
    hdrs, _ = owner.ok('HEAD', '/%s/l' % link, query='symlink=get')
    assert hdrs['x-object-meta-color'] == 'blue'
    hdrs, _ = owner.ok('HEAD', '/%s/obj' % target)
    assert 'x-object-meta-color' not in hdrs
    status, _, _ = owner.call('POST', '/%s/obj' % target,
                              headers={'X-Symlink-Target': 'a/b'})
    assert status == 400


def test_conditional_and_ranged_reads_apply_to_the_target(owner,
                                                          containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/obj' % target)
    path = '/%s/l' % link
    assert owner.call('GET', path, {'If-Match': BODY_MD5})[0] == 200
    assert owner.call('GET', path, {'If-Match': 'bogus'})[0] == 412
    assert owner.call('GET', path, {'If-None-Match': BODY_MD5})[0] == 304
    status, _, data = owner.call('GET', path, {'Range': 'bytes=4-9'})
    assert (status, data) == (206, BODY[4:10])
    status, _, _ = owner.call('GET', path, {'If-Match': EMPTY_MD5},
                              query='symlink=get')
    assert status == 200


def test_copy_of_link_copies_target_or_link_itself(owner, containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/obj' % target)
    owner.ok('COPY', '/%s/l' % link,
             headers={'Destination': '%s/content' % link})
    hdrs, data = owner.ok('GET', '/%s/content' % link)
    assert data == BODY and 'content-location' not in hdrs
    owner.ok('COPY', '/%s/l' % link, query='symlink=get',
             headers={'Destination': '%s/link-copy' % link})
    hdrs, _ = owner.ok('HEAD', '/%s/link-copy' % link, query='symlink=get')
    assert hdrs['x-symlink-target'] == '%s/obj' % target


def test_read_through_link_shows_target_scan_verdict(owner, containers):
    link, target = containers
    put_link(owner, '/%s/l' % link, '%s/obj' % target)
    target_hdrs, _ = owner.ok('HEAD', '/%s/obj' % target)
    hdrs, _ = owner.ok('HEAD', '/%s/l' % link)
    verdicts = [k for k in target_hdrs if k.startswith('x-object-av-')]
    assert verdicts
    for key in verdicts:
        assert hdrs[key] == target_hdrs[key]
