"""Requests an attacker or a broken client sends, through the full proxy.

Each answer is the client's 4xx (or Swift's answer), never a 5xx, never a
dropped connection, and never something that hurts other tenants: no read
of another account's private data, no node taken out of service.
"""
import json
import socket
import time

import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)


def raw_request(host, port, data, timeout=30):
    """Send raw bytes; (status, {lower-case header: value}, body)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(data)
        received = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            head, sep, body = received.partition(b'\r\n\r\n')
            if sep:
                headers = parse_headers(head)
                length = int(headers.get('content-length', -1))
                if length >= 0 and len(body) >= length:
                    break
    finally:
        sock.close()
    head, _sep, body = received.partition(b'\r\n\r\n')
    assert head, 'connection closed without a response'
    status = int(head.split(b' ', 2)[1])
    return status, parse_headers(head), body


def parse_headers(head):
    headers = {}
    for line in head.split(b'\r\n')[1:]:
        name, _sep, value = line.partition(b':')
        headers[name.strip().lower().decode('latin-1')] = \
            value.strip().decode('latin-1')
    return headers


def raw_lines(head):
    return head.split(b'\r\n')


@pytest.fixture(scope='module')
def tester2(pcluster):
    return Client(pcluster, 'test2:tester2', 'testing2')


@pytest.fixture(scope='module')
def tester3(pcluster):
    return Client(pcluster, 'test:tester3', 'testing3')


@pytest.fixture(scope='module')
def secret(client):
    """A private object in test's account: nobody but test may read it."""
    name = 'priv-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + name).status == 201
    assert client.req('PUT', '/%s/secret' % name, b'top secret').status == 201
    return name


# ----- copies read their source only as the requester may --------------------

def test_copy_from_another_account_needs_read_access_to_the_source(
        client, tester2, secret):
    loot = 'loot-%d' % int(time.time() * 1000000)
    assert tester2.req('PUT', '/' + loot, headers={
        'X-Container-Write': 'test2:tester2'}).status == 201
    assert tester2.raw('GET', client.base + '/%s/secret' % secret
                       ).status == 403
    resp = tester2.req('PUT', '/%s/stolen' % loot, b'', {
        'X-Copy-From': '%s/secret' % secret,
        'X-Copy-From-Account': client.base.split('/')[-1]})
    assert resp.status == 403
    assert tester2.req('GET', '/%s/stolen' % loot).status == 404


def test_copy_verb_into_another_account_needs_read_access_to_the_source(
        client, tester2, secret):
    drop = 'drop-%d' % int(time.time() * 1000000)
    assert tester2.req('PUT', '/' + drop).status == 201
    account2 = tester2.base.split('/')[-1]
    resp = tester2.raw('COPY', client.base + '/%s/secret' % secret,
                       headers={'Destination': '%s/y' % drop,
                                'Destination-Account': account2})
    assert resp.status == 403
    assert tester2.req('GET', '/%s/y' % drop).status == 404


def test_copy_within_an_account_needs_read_access_to_the_source(
        client, tester3, secret):
    dropbox = 'dropbox-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + dropbox, headers={
        'X-Container-Write': 'test:tester3'}).status == 201
    assert tester3.req('PUT', '/%s/mine' % dropbox, b'x').status == 201
    resp = tester3.req('COPY', '/%s/secret' % secret,
                       headers={'Destination': '%s/y' % dropbox})
    assert resp.status == 403
    resp = tester3.req('PUT', '/%s/z' % dropbox, b'',
                       {'X-Copy-From': '%s/secret' % secret})
    assert resp.status == 403
    assert client.req('GET', '/%s/y' % dropbox).status == 404
    assert client.req('GET', '/%s/z' % dropbox).status == 404
    # with a read grant on the source the same copy works
    assert client.req('POST', '/' + secret, headers={
        'X-Container-Read': 'test:tester3'}).status == 204
    try:
        resp = tester3.req('PUT', '/%s/z' % dropbox, b'',
                           {'X-Copy-From': '%s/secret' % secret})
        assert resp.status == 201
        assert client.req('GET', '/%s/z' % dropbox).body == b'top secret'
    finally:
        client.req('POST', '/' + secret,
                   headers={'X-Remove-Container-Read': 'x'})


# ----- client input never counts against storage nodes ---------------------

def test_raw_utf8_in_a_listing_query_is_answered_and_harms_no_node(
        client, pcluster):
    public = 'pub-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + public, headers={
        'X-Container-Read': '.r:*,.rlistings'}).status == 201
    assert client.req('PUT', '/%s/%s' % (public, '\u00e9t\u00e9'),
                      b'x').status == 201
    line = ('GET %s/%s?prefix=' % (client.base, public)).encode() + \
        b'\xc3\xa9&format=json HTTP/1.1\r\nHost: x\r\n' \
        b'Connection: close\r\n\r\n'
    # more than the error limiter's default suppression limit (10)
    for _ in range(14):
        status, _headers, body = raw_request(client.host, client.port, line)
        assert status == 200
        assert [row['name'] for row in json.loads(body)] == ['\u00e9t\u00e9']
    # every account is still served by every node
    other = Client(pcluster, 'test2:tester2', 'testing2')
    for _ in range(5):
        assert other.req('GET', '').status in (200, 204)
        assert client.req('HEAD', '/' + public).status == 204


def test_invalid_utf8_in_a_query_is_the_clients_400(client):
    for query in (b'prefix=%FF', b'prefix=\xff', b'marker=\xc3'):
        line = ('GET %s?' % client.base).encode() + query + \
            b' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' + \
            ('X-Auth-Token: %s\r\n\r\n' % client.token).encode()
        status, _headers, _body = raw_request(client.host, client.port, line)
        assert status == 400, query


# ----- nothing a client sends ends up as a response header --------------

def test_crlf_in_the_account_cannot_inject_a_response_header(client):
    request = (b'GET /v1/AUTH_x%0d%0aSet-Cookie:%20session=attacker/c/o '
               b'HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    status, headers, _body = raw_request(client.host, client.port, request)
    assert status == 401
    assert 'set-cookie' not in headers
    assert headers['www-authenticate'] == \
        'Swift realm="AUTH_x%0D%0ASet-Cookie%3A%20session%3Dattacker"'


@pytest.mark.parametrize('token', [None, 'AUTH_tkbogus'])
def test_a_non_latin1_account_name_gets_a_401(client, token):
    request = b'GET /v1/AUTH_%E4%B8%AD/c/o HTTP/1.1\r\nHost: x\r\n'
    if token:
        request += b'X-Auth-Token: ' + token.encode() + b'\r\n'
    request += b'Connection: close\r\n\r\n'
    status, headers, _body = raw_request(client.host, client.port, request)
    assert status == 401
    assert headers['www-authenticate'] == 'Swift realm="AUTH_%E4%B8%AD"'


# ----- names no container can have ---------------------------------------

@pytest.mark.parametrize('container', ['.', '..', 'c' * 257])
@pytest.mark.parametrize('method', ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'])
def test_objects_in_impossible_containers_are_not_found(client, container,
                                                        method):
    request = ('%s %s/%s/o HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
               'Content-Length: 0\r\nConnection: close\r\n\r\n' % (
                   method, client.base, container, client.token)).encode()
    status, _headers, _body = raw_request(client.host, client.port, request)
    assert status == 404


@pytest.mark.parametrize('container', ['.', '..', 'c' * 257])
def test_creating_an_impossible_container_is_400(client, container):
    request = ('PUT %s/%s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
               'Content-Length: 0\r\nConnection: close\r\n\r\n' % (
                   client.base, container, client.token)).encode()
    status, _headers, _body = raw_request(client.host, client.port, request)
    assert status == 400


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'])
def test_an_object_with_an_empty_container_name_is_404(client, method):
    request = ('%s %s//o HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
               'Content-Length: 0\r\nConnection: close\r\n\r\n' % (
                   method, client.base, client.token)).encode()
    status, _headers, _body = raw_request(client.host, client.port, request)
    assert status == 404          # only the last path segment may be empty


def test_the_account_path_with_a_trailing_slash_is_the_account(client):
    resp = client.raw('GET', client.base + '/')
    assert resp.status in (200, 204)
    assert 'x-account-container-count' in resp.hdrs


# ----- malformed large-object manifests ------------------------------------

@pytest.fixture(scope='module')
def slo_container(client):
    name = 'slo-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + name).status == 201
    assert client.req('PUT', '/%s/seg1' % name, b'a' * 10).status == 201
    assert client.req('PUT', '/%s/seg2' % name, b'b' * 10).status == 201
    return name


def test_a_deeply_nested_manifest_is_400(client, slo_container):
    body = b'[' * 100000 + b']' * 100000
    resp = client.raw('PUT', client.base + '/%s/man?multipart-manifest=put'
                      % slo_container, body)
    assert resp.status == 400


def test_a_truncated_chunked_manifest_is_a_4xx(client, slo_container):
    manifest = json.dumps([{'path': '/%s/seg1' % slo_container}]).encode()
    request = ('PUT %s/%s/man2?multipart-manifest=put HTTP/1.1\r\n'
               'Host: x\r\nX-Auth-Token: %s\r\nTransfer-Encoding: chunked\r\n'
               'Connection: close\r\n\r\n' % (
                   client.base, slo_container, client.token)).encode()
    request += b'%x\r\n%s\r\n' % (len(manifest), manifest)
    request += b'zz\r\n'                # not a chunk size
    status, _headers, _body = raw_request(client.host, client.port, request)
    assert 400 <= status < 500
    assert client.req('GET', '/%s/man2' % slo_container).status == 404


def test_an_slo_whose_first_segment_is_unreadable_is_409(
        client, tester3, slo_container):
    """Swift's answer when the first segment cannot be read: nothing of the
    body has been promised yet, so the client gets a clear 409."""
    shared = 'shared-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + shared, headers={
        'X-Container-Read': 'test:tester3'}).status == 201
    manifest = json.dumps([
        {'path': '/%s/seg1' % slo_container},
        {'path': '/%s/seg2' % slo_container}]).encode()
    resp = client.raw('PUT', client.base + '/%s/big?multipart-manifest=put'
                      % shared, manifest)
    assert resp.status == 201
    assert client.req('GET', '/%s/big' % shared).body == \
        b'a' * 10 + b'b' * 10
    resp = tester3.req('GET', '/%s/big' % shared)
    assert resp.status == 409
    assert b'a' * 10 not in resp.body
    # a later segment that vanishes can only cut the body short
    assert client.req('DELETE', '/%s/seg2' % slo_container).status == 204
    request = ('GET %s/%s/big HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
               'Connection: close\r\n\r\n' % (
                   client.base, shared, client.token)).encode()
    status, headers, body = raw_request(client.host, client.port, request)
    assert status == 200 and headers['content-length'] == '20'
    assert body == b'a' * 10


# ----- owner-only headers ----------------------------------------------------

def test_only_owners_see_account_acls_and_tempurl_keys(client, tester3):
    acl = json.dumps({'read-only': ['test:tester3']})
    assert client.req('POST', '', headers={
        'X-Account-Access-Control': acl,
        'X-Account-Meta-Temp-URL-Key': 'secret'}).status == 204
    try:
        mine = client.req('HEAD', '')
        assert json.loads(mine.hdrs['x-account-access-control']) == \
            json.loads(acl)
        assert mine.hdrs['x-account-meta-temp-url-key'] == 'secret'
        theirs = tester3.req('HEAD', '')
        assert theirs.status == 204
        assert 'x-account-access-control' not in theirs.hdrs
        assert 'x-account-meta-temp-url-key' not in theirs.hdrs
        assert not any('sysmeta' in name for name in theirs.hdrs)
    finally:
        client.req('POST', '', headers={
            'X-Account-Access-Control': '{}',
            'X-Remove-Account-Meta-Temp-URL-Key': 'x'})


def test_an_empty_account_acl_removes_it(client):
    acl = json.dumps({'read-only': ['test:tester3']})
    assert client.req('POST', '', headers={
        'X-Account-Access-Control': acl}).status == 204
    assert 'x-account-access-control' in client.req('HEAD', '').hdrs
    assert client.req('POST', '', headers={
        'X-Account-Access-Control': '{}'}).status == 204
    assert 'x-account-access-control' not in client.req('HEAD', '').hdrs


def test_a_garbage_account_acl_is_400_and_changes_nothing(client):
    resp = client.req('POST', '', headers={
        'X-Account-Access-Control': '{"admin": "test2:tester2"}'})
    assert resp.status == 400
    assert resp.body.startswith(b'X-Account-Access-Control invalid')
    assert 'x-account-access-control' not in client.req('HEAD', '').hdrs
