"""Temporary URLs through the full default pipeline (real processes).

URLs made by python-swiftclient's ``swift tempurl`` work without a token;
tampered, expired or foreign ones get Swift's 401 (never a 5xx); a token
sent along never reaches the access log; a URL signed for an IP range
opens only from it; container keys sign only their container; the keys
are shown to the account's owners only.
"""
import hashlib
import hmac
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote, urlparse

import pytest

from tests.functional.test_pipeline import call

SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    account_path = urlparse(storage_url).path
    key = unique('key')
    status, _h, _b = call(cluster.proxy_url, 'POST', account_path, {
        'X-Auth-Token': token, 'X-Account-Meta-Temp-URL-Key': key})
    assert status == 204
    container = '%s/%s' % (account_path, unique('tu'))
    assert call(cluster.proxy_url, 'PUT', container,
                {'X-Auth-Token': token})[0] == 201
    assert call(cluster.proxy_url, 'PUT', container + '/obj',
                {'X-Auth-Token': token, 'X-Object-Meta-Secret': 's',
                 'X-Object-Meta-Public-Color': 'red'}, b'obj contents')[0] \
        == 201
    return {'url': cluster.proxy_url, 'account': account_path,
            'container': container, 'token': token, 'key': key}


def swift_tempurl(*args):
    result = subprocess.run([SWIFT, 'tempurl'] + list(args),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def sign(key, method, expires, path, digest=hashlib.sha256):
    message = '%s\n%d\n%s' % (method, expires, path)
    return hmac.new(key.encode(), message.encode(), digest).hexdigest()


def test_swift_cli_get_url_works_without_a_token(owner):
    url = swift_tempurl('GET', '600', owner['container'] + '/obj',
                        owner['key'])
    status, headers, body = call(owner['url'], 'GET', url)
    assert status == 200 and body == b'obj contents'
    assert headers['content-disposition'] == \
        "attachment; filename=\"obj\"; filename*=UTF-8''obj"
    assert 'expires' in headers
    # private metadata is not handed out; public-* is
    assert 'x-object-meta-secret' not in headers
    assert headers['x-object-meta-public-color'] == 'red'


def test_swift_cli_put_url_uploads_and_allows_head(owner):
    path = owner['container'] + '/uploaded'
    url = swift_tempurl('PUT', '600', path, owner['key'])
    assert call(owner['url'], 'PUT', url, {}, b'via tempurl')[0] == 201
    assert call(owner['url'], 'HEAD', url)[0] == 200
    status, _h, body = call(owner['url'], 'GET', path,
                            {'X-Auth-Token': owner['token']})
    assert status == 200 and body == b'via tempurl'


def test_swift_cli_iso8601_and_prefix_urls(owner):
    url = swift_tempurl('--iso8601', 'GET', '600',
                        owner['container'] + '/obj', owner['key'])
    assert 'temp_url_expires=20' in url
    assert call(owner['url'], 'GET', url)[0] == 200
    url = swift_tempurl('--prefix-based', 'GET', '600',
                        owner['container'] + '/ob', owner['key'])
    base, query = url.split('?', 1)
    assert call(owner['url'], 'GET', base + 'j?' + query)[0] == 200


@pytest.mark.parametrize('digest', ['sha1', 'sha256', 'sha512'])
def test_each_allowed_digest(owner, digest):
    expires = int(time.time()) + 600
    path = owner['container'] + '/obj'
    sig = sign(owner['key'], 'GET', expires, path, getattr(hashlib, digest))
    status, _h, body = call(owner['url'], 'GET', '%s?temp_url_sig=%s&'
                            'temp_url_expires=%d' % (path, sig, expires))
    assert status == 200 and body == b'obj contents'


@pytest.mark.parametrize('query', [
    'temp_url_sig=%s&temp_url_expires={expires}' % ('0' * 64),
    'temp_url_sig={sig}&temp_url_expires={past}',
    'temp_url_sig={sig}&temp_url_expires=not-a-time',
    'temp_url_sig=sha256:%%%%%%&temp_url_expires={expires}',
    'temp_url_sig={sig}',
    'temp_url_expires={expires}',
])
def test_bad_or_expired_urls_get_401_temp_url_invalid(owner, query):
    expires = int(time.time()) + 600
    path = owner['container'] + '/obj'
    query = query.format(expires=expires, past=int(time.time()) - 5,
                         sig=sign(owner['key'], 'GET', expires, path))
    status, headers, body = call(owner['url'], 'GET', path + '?' + query)
    assert status == 401
    assert body == b'401 Unauthorized: Temp URL invalid\n'
    assert headers['www-authenticate'].startswith('Swift realm=')


def test_a_url_signed_for_an_ip_range_works_only_from_it(owner):
    """``swift tempurl --ip-range``: the client's address (127.0.0.1 on
    loopback) must be in the signed range."""
    path = owner['container'] + '/obj'
    inside = swift_tempurl('--ip-range', '127.0.0.0/8', 'GET', '600', path,
                           owner['key'])
    assert 'temp_url_ip_range=' in inside
    status, _h, body = call(owner['url'], 'GET', inside)
    assert (status, body) == (200, b'obj contents')
    outside = swift_tempurl('--ip-range', '10.1.2.0/24', 'GET', '600',
                            path, owner['key'])
    assert call(owner['url'], 'GET', outside)[0] == 401


def test_url_for_one_object_does_not_open_another(owner):
    url = swift_tempurl('GET', '600', owner['container'] + '/obj',
                        owner['key'])
    other = url.replace('/obj?', '/uploaded?')
    assert call(owner['url'], 'GET', other)[0] == 401


def test_put_url_cannot_create_a_manifest(owner):
    path = owner['container'] + '/manifest'
    url = swift_tempurl('PUT', '600', path, owner['key'])
    status, _h, body = call(owner['url'], 'PUT', url, {
        'X-Object-Manifest': 'elsewhere/seg'}, b'')
    assert status == 400
    assert body == b"The header 'X-Object-Manifest' is not allowed in " \
        b"this tempurl"


def test_token_sent_with_a_tempurl_is_not_logged(cluster, owner):
    with cluster.extra_proxy('proxy-tempurl-log') as proxy:
        url = swift_tempurl('GET', '600', owner['container'] + '/obj',
                            owner['key'])
        status, _h, _b = call(proxy.url, 'GET', url,
                              {'X-Auth-Token': 'AUTH_tk' + 'f' * 32})
        assert status == 200
        deadline = time.time() + 10
        lines = []
        while time.time() < deadline:
            lines = [line for line in proxy.log_lines()
                     if 'temp_url_expires' in line]
            if lines:
                break
            time.sleep(0.05)
        assert lines
        assert not any('AUTH_tk' in line for line in lines)


def test_container_key_signs_only_its_container(owner):
    container_key = unique('ckey')
    token = {'X-Auth-Token': owner['token']}
    assert call(owner['url'], 'POST', owner['container'], dict(
        token, **{'X-Container-Meta-Temp-URL-Key': container_key}))[0] == 204
    other = '%s/%s' % (owner['account'], unique('other'))
    assert call(owner['url'], 'PUT', other, token)[0] == 201
    assert call(owner['url'], 'PUT', other + '/obj', token, b'x')[0] == 201
    url = swift_tempurl('GET', '600', owner['container'] + '/obj',
                        container_key)
    assert call(owner['url'], 'GET', url)[0] == 200
    url = swift_tempurl('GET', '600', other + '/obj', container_key)
    assert call(owner['url'], 'GET', url)[0] == 401


def test_container_key_does_not_open_dlo_segments_elsewhere(owner):
    token = {'X-Auth-Token': owner['token']}
    container_key = unique('ckey')
    assert call(owner['url'], 'POST', owner['container'], dict(
        token, **{'X-Container-Meta-Temp-URL-Key': container_key}))[0] == 204
    segs = '%s/%s' % (owner['account'], unique('segs'))
    assert call(owner['url'], 'PUT', segs, token)[0] == 201
    assert call(owner['url'], 'PUT', segs + '/s1', token, b'one')[0] == 201
    manifest = owner['container'] + '/dlo'
    assert call(owner['url'], 'PUT', manifest, dict(
        token, **{'X-Object-Manifest': segs.rsplit('/', 1)[1] + '/s'}),
        b'')[0] == 201
    url = swift_tempurl('GET', '600', manifest, container_key)
    assert call(owner['url'], 'GET', url)[0] == 401


def test_keys_are_shown_to_owners_only(cluster, owner):
    token = {'X-Auth-Token': owner['token']}
    assert call(owner['url'], 'POST', owner['container'], dict(
        token, **{'X-Container-Meta-Temp-URL-Key': 'ck',
                  'X-Container-Read': 'test:tester3'}))[0] == 204
    headers = call(owner['url'], 'HEAD', owner['container'], token)[1]
    assert headers['x-container-meta-temp-url-key'] == 'ck'
    assert call(owner['url'], 'HEAD', owner['account'], token)[1][
        'x-account-meta-temp-url-key'] == owner['key']
    _url, reader = cluster.token('test:tester3', 'testing3')
    status, headers, _b = call(owner['url'], 'HEAD', owner['container'],
                               {'X-Auth-Token': reader})
    assert status == 204
    assert 'x-container-meta-temp-url-key' not in headers


def test_utf8_names(owner):
    path = owner['container'] + '/' + quote(u'\u2603 sn\u00f8w')
    assert call(owner['url'], 'PUT', path, {'X-Auth-Token': owner['token']},
                b'snow')[0] == 201
    url = swift_tempurl('GET', '600',
                        owner['container'] + u'/\u2603 sn\u00f8w',
                        owner['key'])
    base, query = url.split('?', 1)
    prefix_len = len(owner['container']) + 1
    url = base[:prefix_len] + quote(base[prefix_len:]) + '?' + query
    status, headers, body = call(owner['url'], 'GET', url)
    assert status == 200 and body == b'snow'
    assert headers['content-disposition'].endswith(
        "filename*=UTF-8''%E2%98%83%20sn%C3%B8w")


def test_info_lists_tempurl_and_formpost(cluster):
    info = cluster.info()
    assert info['tempurl']['methods'] == ['GET', 'HEAD', 'PUT', 'POST',
                                          'DELETE']
    assert 'sha256' in info['tempurl']['allowed_digests']
    assert info['tempurl']['outgoing_remove_headers'] == ['x-object-meta-*']
    assert info['formpost']['allowed_digests'] == \
        info['tempurl']['allowed_digests']
