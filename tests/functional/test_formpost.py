"""Form uploads through the full default pipeline (real clamd).

Each file of a signed form is streamed into an object PUT that goes on
through the clamav filter: clean files are stored, an infected one is
never committed on any node and the answer names it; limits, bad
signatures and expired forms get Swift's 4xx, never a 5xx.
"""
import hashlib
import hmac
import os
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

from tests.functional.test_pipeline import call

EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!'
         b'$H+H*')
BOUNDARY = '----objproxyFormBoundary7MA4YWxkTrZu0gW'


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    account_path = urlparse(storage_url).path
    key = 'fp-%s' % uuid.uuid4().hex[:8]
    assert call(cluster.proxy_url, 'POST', account_path, {
        'X-Auth-Token': token, 'X-Account-Meta-Temp-URL-Key': key})[0] == 204
    container = 'fp-%s' % uuid.uuid4().hex[:8]
    assert call(cluster.proxy_url, 'PUT', '%s/%s' % (account_path,
                                                     container),
                {'X-Auth-Token': token})[0] == 201
    return {'url': cluster.proxy_url, 'account': account_path,
            'account_name': account_path.split('/')[2],
            'container': container, 'token': token, 'key': key}


def form_body(owner, files, path=None, redirect='', max_file_size=1 << 20,
              max_file_count=10, expires=None, key=None, sig=None):
    path = path or '%s/%s' % (owner['account'], owner['container'])
    expires = expires or int(time.time()) + 600
    message = '%s\n%s\n%s\n%s\n%s' % (path, redirect, max_file_size,
                                      max_file_count, expires)
    sig = sig or hmac.new((key or owner['key']).encode(), message.encode(),
                          hashlib.sha256).hexdigest()
    fields = [('redirect', redirect), ('max_file_size', max_file_size),
              ('max_file_count', max_file_count), ('expires', expires),
              ('signature', sig)]
    out = b''
    for name, value in fields:
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n'
                '%s\r\n' % (BOUNDARY, name, value)).encode()
    for index, (filename, data) in enumerate(files):
        out += ('--%s\r\nContent-Disposition: form-data; name="file%d"; '
                'filename="%s"\r\nContent-Type: application/octet-stream'
                '\r\n\r\n' % (BOUNDARY, index, filename)).encode()
        out += data + b'\r\n'
    out += ('--%s--\r\n' % BOUNDARY).encode()
    return path, out


def post_form(owner, path, body):
    return call(owner['url'], 'POST', path, {
        'Content-Type': 'multipart/form-data; boundary=%s' % BOUNDARY,
        'Content-Length': str(len(body))}, body)


def read_object(owner, name):
    return call(owner['url'], 'GET', '%s/%s/%s' % (
        owner['account'], owner['container'], name),
        {'X-Auth-Token': owner['token']})


def test_files_are_stored_and_redirected(owner):
    path, body = form_body(owner, [('a.txt', b'alpha'),
                                   ('b.bin', os.urandom(3000))],
                           redirect='https://example.com/done')
    status, headers, _b = post_form(owner, path, body)
    assert status == 303
    assert headers['location'] == \
        'https://example.com/done?status=201&message='
    status, headers, data = read_object(owner, 'a.txt')
    assert status == 200 and data == b'alpha'
    assert headers['x-object-av-verdict'] == 'clean'
    assert read_object(owner, 'b.bin')[0] == 200


def test_prefix_form_and_plain_answer(owner):
    path = '%s/%s/up_' % (owner['account'], owner['container'])
    path, body = form_body(owner, [('x.txt', b'prefixed')], path=path)
    status, _h, answer = post_form(owner, path, body)
    assert status == 201 and answer == b'201 Created'
    assert read_object(owner, 'up_x.txt')[2] == b'prefixed'


def test_big_file_streams_through(owner):
    data = os.urandom(6 * 1024 * 1024)
    path, body = form_body(owner, [('big.bin', data)],
                           max_file_size=len(data))
    status, _h, _b = post_form(owner, path, body)
    assert status == 201
    status, _h, stored = read_object(owner, 'big.bin')
    assert status == 200 and stored == data


def test_infected_file_is_never_committed_and_named(cluster, owner):
    name = 'eicar-%s.com' % uuid.uuid4().hex[:6]
    path, body = form_body(owner, [('clean.txt', b'fine'),
                                   (name, b'pad' * 1000 + EICAR)],
                           redirect='https://example.com/r')
    status, headers, _b = post_form(owner, path, body)
    assert status == 303
    query = parse_qs(urlparse(headers['location']).query)
    assert query['status'] == ['403']
    assert query['message'][0].startswith(name + ': ')
    assert 'Eicar' in query['message'][0] or 'EICAR' in query['message'][0]
    assert read_object(owner, name)[0] == 404
    assert cluster.object_files(owner['account_name'], owner['container'],
                                name) == {}
    assert read_object(owner, 'clean.txt')[2] == b'fine'


def test_infected_file_without_redirect(owner):
    name = 'virus-%s.txt' % uuid.uuid4().hex[:6]
    path, body = form_body(owner, [(name, EICAR)])
    status, _h, answer = post_form(owner, path, body)
    assert status == 403
    assert answer.startswith(('403 Forbidden\r\nFormPost: %s: '
                              % name).encode())
    assert read_object(owner, name)[0] == 404


def test_oversize_file_is_400_and_not_stored(cluster, owner):
    path, body = form_body(owner, [('huge.bin', b'z' * 5000)],
                           max_file_size=1000)
    status, _h, answer = post_form(owner, path, body)
    assert status == 400
    assert answer == b'FormPost: max_file_size exceeded'
    assert read_object(owner, 'huge.bin')[0] == 404
    assert cluster.object_files(owner['account_name'], owner['container'],
                                'huge.bin') == {}


def test_too_many_files(owner):
    path, body = form_body(owner, [('one', b'1'), ('two', b'2')],
                           max_file_count=1)
    status, _h, answer = post_form(owner, path, body)
    assert status == 400
    assert answer == b'400 Bad Request\r\nFormPost: Max File Count Exceeded'


@pytest.mark.parametrize('case', ['bad-signature', 'expired', 'no-key'])
def test_unauthorised_forms_get_401(owner, case):
    kwargs = {'bad-signature': {'sig': 'ab' * 32},
              'expired': {'expires': int(time.time()) - 1},
              'no-key': {'key': 'not-the-key'}}[case]
    path, body = form_body(owner, [('nope.txt', b'x')], **kwargs)
    status, _h, answer = post_form(owner, path, body)
    assert status == 401
    assert answer in (b'FormPost: Invalid Signature',
                      b'FormPost: Form Expired')
    assert read_object(owner, 'nope.txt')[0] == 404


def test_malformed_forms_get_400(owner):
    path = '%s/%s' % (owner['account'], owner['container'])
    status, _h, answer = post_form(owner, path, b'not a form at all')
    assert status == 400
    assert answer == b'FormPost: invalid starting boundary'
    _p, body = form_body(owner, [('cut.txt', b'data' * 100)])
    status, _h, _a = post_form(owner, path, body[:-200])
    assert status == 400
    assert read_object(owner, 'cut.txt')[0] == 404
