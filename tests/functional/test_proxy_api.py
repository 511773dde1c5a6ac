"""Client-facing Swift API behaviour of the proxy against a real cluster."""
import email.utils
import hashlib
import json
import os
import time

import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)


@pytest.fixture
def container(client):
    name = 'api-%d' % int(time.time() * 1000000)
    assert client.req('PUT', '/' + name).status == 201
    return name


def test_every_response_has_a_trans_id(client):
    for method, path in (('HEAD', ''), ('GET', '/nope/nope'),
                         ('DELETE', '/nope')):
        resp = client.req(method, path)
        assert resp.hdrs['x-trans-id'].startswith('tx')
        assert resp.hdrs['x-openstack-request-id'] == resp.hdrs['x-trans-id']


def test_object_round_trip_headers(client, container):
    path = '/%s/a.txt' % container
    put = client.req('PUT', path, b'hello', {'X-Object-Meta-Color': 'blue'})
    assert put.status == 201
    assert put.hdrs['etag'] == hashlib.md5(b'hello').hexdigest()
    assert 'last-modified' in put.hdrs
    get = client.req('GET', path)
    assert get.status == 200 and get.body == b'hello'
    assert get.hdrs['content-type'].startswith('text/plain')  # guessed
    assert get.hdrs['x-object-meta-color'] == 'blue'
    assert 'x-timestamp' in get.hdrs and 'last-modified' in get.hdrs
    assert not any(k.startswith('x-backend') for k in get.hdrs)
    head = client.req('HEAD', path)
    assert head.status == 200 and head.hdrs['content-length'] == '5'
    assert head.body == b''


def test_chunked_upload(client, container):
    parts = [os.urandom(70000) for _ in range(5)]
    resp = client.req('PUT', '/%s/chunky' % container, iter(parts),
                      chunked=True)
    assert resp.status == 201
    got = client.req('GET', '/%s/chunky' % container)
    assert got.body == b''.join(parts)


def test_etag_mismatch_is_422_and_stores_nothing(client, container):
    path = '/%s/bad-etag' % container
    resp = client.req('PUT', path, b'data', {'ETag': 'a' * 32})
    assert resp.status == 422
    assert client.req('GET', path).status == 404
    good = client.req('PUT', path, b'data',
                      {'ETag': hashlib.md5(b'data').hexdigest()})
    assert good.status == 201


def test_if_none_match_star(client, container):
    path = '/%s/once' % container
    assert client.req('PUT', path, b'1', {'If-None-Match': '*'}).status \
        == 201
    assert client.req('PUT', path, b'2', {'If-None-Match': '*'}).status \
        == 412
    assert client.req('GET', path).body == b'1'
    assert client.req('PUT', path, b'2', {'If-None-Match': 'x'}).status \
        == 400


def test_length_rules(client, container):
    path = client.base + '/%s/len' % container
    resp = client.raw('PUT', path, headers={'Content-Length': '-1'})
    assert resp.status == 400
    resp = client.raw('PUT', path, headers={'Content-Length': 'abc'})
    assert resp.status == 400
    resp = client.raw('PUT', path,
                      headers={'Content-Length': str(6 * 1024 ** 3)})
    assert resp.status == 413
    import http.client
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    conn.putrequest('PUT', path)
    conn.putheader('X-Auth-Token', client.token)
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()


def test_ranges_and_conditionals(client, container):
    path = '/%s/ranged' % container
    body = bytes(range(256)) * 4
    put = client.req('PUT', path, body)
    etag = put.hdrs['etag']
    one = client.req('GET', path, headers={'Range': 'bytes=10-19'})
    assert one.status == 206 and one.body == body[10:20]
    assert one.hdrs['content-range'] == 'bytes 10-19/1024'
    tail = client.req('GET', path, headers={'Range': 'bytes=-5'})
    assert tail.body == body[-5:]
    multi = client.req('GET', path, headers={'Range': 'bytes=0-1,5-6'})
    assert multi.status == 206
    assert multi.hdrs['content-type'].startswith('multipart/byteranges')
    assert body[0:2] in multi.body and body[5:7] in multi.body
    assert client.req('GET', path,
                      headers={'Range': 'bytes=5000-6000'}).status == 416
    assert client.req('GET', path,
                      headers={'If-None-Match': etag}).status == 304
    assert client.req('GET', path,
                      headers={'If-Match': '"nope"'}).status == 412
    assert client.req('GET', path, headers={'If-Match': etag}).status == 200
    assert client.req('GET', path, headers={
        'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT'}).status == 304
    assert client.req('GET', path, headers={
        'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT'}).status \
        == 412


def test_post_replaces_metadata(client, container):
    path = '/%s/meta' % container
    client.req('PUT', path, b'x', {'X-Object-Meta-One': '1'})
    assert client.req('POST', path, headers={
        'X-Object-Meta-Two': '2'}).status == 202
    head = client.req('HEAD', path)
    assert head.hdrs.get('x-object-meta-two') == '2'
    assert 'x-object-meta-one' not in head.hdrs
    assert client.req('POST', '/%s/missing' % container, headers={
        'X-Object-Meta-Two': '2'}).status == 404


def test_metadata_limits(client, container):
    path = '/%s/limits' % container
    long_name = {'X-Object-Meta-' + 'n' * 129: 'v'}
    assert client.req('PUT', path, b'', long_name).status == 400
    long_value = {'X-Object-Meta-Big': 'v' * 257}
    assert client.req('PUT', path, b'', long_value).status == 400
    too_many = dict(('X-Object-Meta-K%d' % i, 'v') for i in range(91))
    assert client.req('PUT', path, b'', too_many).status == 400
    assert client.req('POST', '/' + container, headers={
        'X-Container-Meta-' + 'n' * 129: 'v'}).status == 400
    assert client.req('POST', '', headers={
        'X-Account-Meta-Big': 'v' * 257}).status == 400
    # Swift's maximum: 90 keys, 4 KiB of names and values (more than the
    # ~4 KiB of xattr space an ext4 inode has; Swift answers 503 there).
    fine = dict(('X-Object-Meta-K%02d' % i, chr(97 + i % 26) * 42)
                for i in range(90))
    assert sum(len(k) - 14 + len(v) for k, v in fine.items()) <= 4096
    assert client.req('PUT', path, b'', fine).status == 201
    stored = client.req('HEAD', path).hdrs
    assert dict((k, stored[k.lower()]) for k in fine) == fine


def test_delete_at_and_after(client, container):
    path = '/%s/expiring' % container
    at = int(time.time()) + 3600
    assert client.req('PUT', path, b'x', {'X-Delete-At': str(at)}).status \
        == 201
    assert client.req('HEAD', path).hdrs['x-delete-at'] == str(at)
    assert client.req('POST', path, headers={
        'X-Delete-After': '100'}).status == 202
    value = int(client.req('HEAD', path).hdrs['x-delete-at'])
    assert abs(value - (time.time() + 100)) < 10
    assert client.req('PUT', path, b'x', {'X-Delete-At': '1'}).status == 400
    assert client.req('PUT', path, b'x', {'X-Delete-At': 'x'}).status == 400


def test_copy_from_and_copy_method(client, container):
    src = '/%s/src' % container
    client.req('PUT', src, b'payload', {
        'X-Object-Meta-Keep': 'k', 'Content-Type': 'application/x-src'})
    resp = client.req('PUT', '/%s/dst1' % container, b'', {
        'X-Copy-From': '%s/src' % container, 'X-Object-Meta-New': 'n'})
    assert resp.status == 201
    assert resp.hdrs['x-copied-from'] == '%s/src' % container
    head = client.req('HEAD', '/%s/dst1' % container)
    assert head.hdrs['x-object-meta-keep'] == 'k'
    assert head.hdrs['x-object-meta-new'] == 'n'
    assert head.hdrs['content-type'] == 'application/x-src'
    resp = client.req('COPY', src, headers={
        'Destination': '%s/dst2' % container, 'X-Fresh-Metadata': 'true',
        'X-Object-Meta-Only': 'o'})
    assert resp.status == 201
    got = client.req('GET', '/%s/dst2' % container)
    assert got.body == b'payload'
    assert got.hdrs['x-object-meta-only'] == 'o'
    assert 'x-object-meta-keep' not in got.hdrs
    assert client.req('COPY', src, headers={
        'Destination': 'nocontainerslash'}).status == 412
    assert client.req('PUT', '/%s/dst3' % container, b'', {
        'X-Copy-From': '%s/missing' % container}).status == 404


def test_listings_pass_parameters(client, container):
    for name in ('a/1', 'a/2', 'b/1', 'c'):
        assert client.req('PUT', '/%s/%s' % (container, name),
                          b'xx').status == 201
    def names(query):
        resp = client.raw('GET', client.base + '/%s?format=json&%s'
                          % (container, query))
        assert resp.status == 200, resp.body
        return [e.get('name', e.get('subdir')) for e in
                json.loads(resp.body)]
    assert names('') == ['a/1', 'a/2', 'b/1', 'c']
    assert names('prefix=a/') == ['a/1', 'a/2']
    assert names('delimiter=/') == ['a/', 'b/', 'c']
    assert names('marker=a/2') == ['b/1', 'c']
    assert names('end_marker=b') == ['a/1', 'a/2']
    assert names('limit=1') == ['a/1']
    assert names('reverse=true') == ['c', 'b/1', 'a/2', 'a/1']
    plain = client.req('GET', '/' + container)
    assert plain.body.decode().split() == ['a/1', 'a/2', 'b/1', 'c']
    head = client.req('HEAD', '/' + container)
    assert head.hdrs['x-container-object-count'] == '4'
    assert head.hdrs['x-container-bytes-used'] == '8'
    over = client.raw('GET', client.base + '/%s?limit=10001' % container)
    assert over.status == 412
    account = client.raw('GET', client.base + '?format=json&prefix=' +
                         container)
    assert [c['name'] for c in json.loads(account.body)] == [container]
    acc_head = client.req('HEAD', '')
    assert int(acc_head.hdrs['x-account-container-count']) >= 1


def test_container_lifecycle(client):
    name = 'life-%d' % int(time.time() * 1000)
    assert client.req('PUT', '/' + name).status == 201
    assert client.req('PUT', '/' + name).status == 202
    assert client.req('POST', '/' + name, headers={
        'X-Container-Meta-Color': 'red'}).status == 204
    assert client.req('HEAD', '/' + name).hdrs[
        'x-container-meta-color'] == 'red'
    client.req('PUT', '/%s/o' % name, b'x')
    assert client.req('DELETE', '/' + name).status == 409
    client.req('DELETE', '/%s/o' % name)
    assert client.req('DELETE', '/' + name).status == 204
    assert client.req('HEAD', '/' + name).status == 404
    assert client.req('PUT', '/%s/o' % name, b'x').status == 404


def test_account_autocreate_and_metadata(pcluster):
    other = Client(pcluster, 'test2:tester2', 'testing2')
    head = other.req('HEAD', '')
    assert head.status == 204
    assert head.hdrs['x-account-container-count'] == '0'
    assert other.req('POST', '', headers={
        'X-Account-Meta-Quota': '1'}).status == 204
    assert other.req('HEAD', '').hdrs['x-account-meta-quota'] == '1'
    assert other.req('PUT', '').status == 405


def test_info_lists_constraints_and_filters(pcluster):
    info = pcluster.info()
    swift = info['swift']
    assert swift['max_file_size'] == 5 * 1024 ** 3 + 2
    assert swift['max_object_name_length'] == 1024
    assert swift['container_listing_limit'] == 10000
    assert 'version' in swift
    assert 'tempauth' in info


def test_bad_paths_and_names(client, container):
    base = client.base
    assert client.raw('GET', base + '/%FF%FE').status == 412
    assert client.raw('GET', base + '/c/%00x').status == 412
    assert client.raw('PUT', base + '/' + container + '/' + 'o' * 1025,
                      b'x').status == 400
    assert client.raw('PUT', base + '/' + 'c' * 257).status == 400
    assert client.raw('GET', '/v2/AUTH_test').status in (400, 401)
    assert client.raw('PATCH', base + '/' + container).status == 405
    many = dict(('X-Foo-%d' % i, 'v') for i in range(300))
    assert client.req('HEAD', '/' + container, headers=many).status in (
        400, 431)
    resp = client.req('OPTIONS', '/%s/x' % container)
    assert resp.status == 200


def test_a_copy_with_a_range_copies_that_range(client, container):
    data = os.urandom(1024)
    assert client.req('PUT', '/%s/whole' % container, data).status == 201
    resp = client.req('PUT', '/%s/part' % container, b'', {
        'X-Copy-From': '%s/whole' % container, 'Range': 'bytes=100-200'})
    assert resp.status == 201
    got = client.req('GET', '/%s/part' % container)
    assert got.body == data[100:201]
    assert got.hdrs['etag'] == hashlib.md5(data[100:201]).hexdigest()
    resp = client.req('COPY', '/%s/whole' % container, headers={
        'Destination': '%s/tail' % container, 'Range': 'bytes=-24'})
    assert resp.status == 201
    assert client.req('GET', '/%s/tail' % container).body == data[-24:]


def test_a_copy_evaluates_conditions_on_its_source(client, container):
    assert client.req('PUT', '/%s/cond' % container, b'abc').status == 201
    resp = client.req('PUT', '/%s/cond-copy' % container, b'', {
        'X-Copy-From': '%s/cond' % container, 'If-Match': '"nope"'})
    assert resp.status == 412
    assert client.req('GET', '/%s/cond-copy' % container).status == 404


def test_an_unreadable_copy_source_is_refused_before_the_destination(
        client, pcluster, container):
    """The source is read first, so a caller who may not read it learns
    nothing about the destination (403, not 404)."""
    other = Client(pcluster, 'test2:tester2', 'testing2')
    private = 'private-%d' % int(time.time() * 1000000)
    assert other.req('PUT', '/' + private).status == 201
    assert other.req('PUT', '/%s/o' % private, b'x').status == 201
    account2 = other.base.split('/')[-1]
    for dest in ('/%s/copy' % container, '/no-such-container/copy'):
        resp = client.req('PUT', dest, b'', {
            'X-Copy-From': '%s/o' % private,
            'X-Copy-From-Account': account2})
        assert resp.status == 403, dest


@pytest.mark.parametrize('coding,status', [('gzip, chunked', 501),
                                           ('gzip,chunked', 501)])
def test_transfer_codings_other_than_chunked_are_refused(
        client, container, coding, status):
    resp = client.req('PUT', '/%s/coded' % container, b'0\r\n\r\n',
                      {'Transfer-Encoding': coding})
    assert resp.status == status
    assert client.req('GET', '/%s/coded' % container).status == 404


def test_an_unsatisfiable_range_still_advertises_byte_ranges(client,
                                                             container):
    assert client.req('PUT', '/%s/r416' % container, b'abc').status == 201
    resp = client.req('GET', '/%s/r416' % container,
                      headers={'Range': 'bytes=-0'})
    assert resp.status == 416
    assert resp.hdrs['accept-ranges'] == 'bytes'
    assert resp.hdrs['content-range'] == 'bytes */3'


def test_a_malformed_if_delete_at_is_400_and_deletes_nothing(client,
                                                             container):
    assert client.req('PUT', '/%s/keep' % container, b'x').status == 201
    resp = client.req('DELETE', '/%s/keep' % container,
                      headers={'X-If-Delete-At': 'bad'})
    assert resp.status == 400
    assert client.req('GET', '/%s/keep' % container).status == 200


def test_cors_headers_follow_the_containers_settings(client, container):
    assert client.req('POST', '/' + container, headers={
        'X-Container-Meta-Access-Control-Allow-Origin': 'http://ok.example',
    }).status == 204
    assert client.req('PUT', '/%s/page' % container, b'x', {
        'X-Object-Meta-Color': 'red'}).status == 201
    pre = client.raw('OPTIONS', client.base + '/%s/page' % container,
                     headers={'Origin': 'http://ok.example',
                              'Access-Control-Request-Method': 'GET'})
    assert pre.status == 200
    assert pre.hdrs['access-control-allow-origin'] == 'http://ok.example'
    denied = client.raw('OPTIONS', client.base + '/%s/page' % container,
                        headers={'Origin': 'http://evil.example',
                                 'Access-Control-Request-Method': 'GET'})
    assert denied.status == 401
    got = client.req('GET', '/%s/page' % container,
                     headers={'Origin': 'http://ok.example'})
    assert got.hdrs['access-control-allow-origin'] == 'http://ok.example'
    assert 'x-object-meta-color' in \
        got.hdrs['access-control-expose-headers'].split(', ')
    other = client.req('GET', '/%s/page' % container,
                       headers={'Origin': 'http://evil.example'})
    assert 'access-control-allow-origin' not in other.hdrs


def test_accounts_and_containers_show_when_they_were_last_modified(
        client, container):
    for path in ('', '/' + container):
        for method in ('HEAD', 'GET'):
            resp = client.req(method, path)
            assert resp.status in (200, 204)
            put_ts = float(resp.hdrs['x-put-timestamp'])
            when = email.utils.parsedate_to_datetime(
                resp.hdrs['last-modified']).timestamp()
            assert put_ts <= when < put_ts + 1
