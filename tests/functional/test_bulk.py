"""Bulk delete and extract-archive through a real cluster.

python-swiftclient's CLI deletes through ``?bulk-delete`` once ``/info``
lists it; archive members are streamed through the virus scanner one by
one, so an infected member is refused alone; every subrequest is judged
as the client.
"""
import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from urllib.parse import quote, urlparse

import pytest

from tests.functional.test_pipeline import call

EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!'
         b'$H+H*')
SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')


@pytest.fixture(scope='module')
def proxy(cluster):
    """A proxy of its own (the configured pipeline), for its access log."""
    with cluster.extra_proxy('proxy-bulk') as extra:
        yield extra


@pytest.fixture(scope='module')
def owner(cluster, proxy):
    storage_url, token = cluster.token('test:tester', 'testing')
    return urlparse(storage_url).path, {'X-Auth-Token': token}


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def swift(proxy, *args):
    cmd = [SWIFT, '-A', proxy.url + '/auth/v1.0', '-U', 'test:tester',
           '-K', 'testing'] + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def fill(proxy, account, auth, container, names):
    assert call(proxy.url, 'PUT', '%s/%s' % (account, container),
                auth)[0] == 201
    for name in names:
        path = '%s/%s/%s' % (account, container, quote(name))
        assert call(proxy.url, 'PUT', path, auth, b'data')[0] == 201


def exists(proxy, path, auth):
    status = call(proxy.url, 'HEAD', path, auth)[0]
    assert status in (200, 204, 404), status
    return status != 404


def bulk_log_lines(proxy, container):
    return [line for line in proxy.log_lines()
            if 'bulk-delete' in line or (' BD ' in line and container in line)]


def test_info_advertises_bulk_with_swifts_defaults(proxy):
    _s, _h, body = call(proxy.url, 'GET', '/info')
    info = json.loads(body)
    assert info['bulk_delete'] == {'max_deletes_per_request': 10000,
                                   'max_failed_deletes': 1000}
    assert info['bulk_upload'] == {'max_containers_per_extraction': 10000,
                                   'max_failed_extractions': 1000}


def test_swift_delete_of_a_container_goes_through_bulk_delete(proxy, owner):
    """swiftclient bulk-deletes when a container holds more than twice
    --object-threads (10) objects."""
    account, auth = owner
    container = unique('bulkcli')
    names = ['o%02d' % i for i in range(22)] + ['dir/x', 'sp ace']
    fill(proxy, account, auth, container, names)
    swift(proxy, 'delete', container)
    assert not exists(proxy, '%s/%s' % (account, container), auth)
    lines = bulk_log_lines(proxy, container)
    assert any('bulk-delete' in line for line in lines), lines
    # each object went as a BD subrequest through the pipeline
    assert sum(1 for line in lines if ' BD ' in line) >= len(names), lines


def test_swift_delete_of_named_objects_uses_bulk_delete(proxy, owner):
    """Named objects go in one bulk request once they outnumber twice
    --object-threads (two names never do: swiftclient deletes those one
    by one whatever the cluster offers)."""
    account, auth = owner
    container = unique('bulkobjs')
    fill(proxy, account, auth, container, ['obj1', 'obj2', 'obj3', 'obj4'])
    swift(proxy, 'delete', '--object-threads', '1', container,
          'obj1', 'obj2', 'obj3')
    base = '%s/%s/' % (account, container)
    for name in ('obj1', 'obj2', 'obj3'):
        assert not exists(proxy, base + name, auth)
    assert exists(proxy, base + 'obj4', auth)
    lines = bulk_log_lines(proxy, container)
    assert sum(1 for line in lines if ' BD ' in line) == 3, lines


def bulk_delete(proxy, account, auth, body, accept='application/json'):
    headers = dict(auth, **{'Accept': accept, 'Content-Type': 'text/plain'})
    status, _h, data = call(proxy.url, 'POST', account + '?bulk-delete',
                            headers, body)
    assert status == 200
    return json.loads(data)


def test_bulk_delete_reports_a_container_that_is_not_empty(proxy, owner):
    account, auth = owner
    container = unique('bulk409')
    fill(proxy, account, auth, container, ['stays', 'goes'])
    body = ('/%s\n/%s/goes\n/%s/never-there\n' % ((container,) * 3)).encode()
    result = bulk_delete(proxy, account, auth, body)
    assert result['Number Deleted'] == 1
    assert result['Number Not Found'] == 1
    assert result['Errors'] == [['/' + container, '409 Conflict']]
    assert result['Response Status'] == '400 Bad Request'
    assert exists(proxy, '%s/%s/stays' % (account, container), auth)


def test_bulk_delete_is_authorised_as_the_client(cluster, proxy, owner):
    account, auth = owner
    container = unique('bulkauthz')
    fill(proxy, account, auth, container, ['mine'])
    _url, other = cluster.token('test2:tester2', 'testing2')
    result = bulk_delete(proxy, account, {'X-Auth-Token': other},
                         ('/%s/mine' % container).encode())
    assert result['Errors'] == [['/%s/mine' % container, '403 Forbidden']]
    assert exists(proxy, '%s/%s/mine' % (account, container), auth)


def test_too_many_names_is_413_in_the_body(cluster, owner):
    account, auth = owner
    container = unique('bulk413')
    overrides = {'filter:bulk': {'max_deletes_per_request': 2}}
    with cluster.extra_proxy('proxy-bulk-small',
                             overrides=overrides) as small:
        fill(small, account, auth, container, ['1', '2', '3'])
        body = '\n'.join('/%s/%d' % (container, i) for i in (1, 2, 3))
        result = bulk_delete(small, account, auth, body.encode())
        assert result['Response Status'] == '413 Request Entity Too Large'
        assert exists(small, '%s/%s/1' % (account, container), auth)
        info = json.loads(call(small.url, 'GET', '/info')[2])
        assert info['bulk_delete']['max_deletes_per_request'] == 2


def archive(members, mode='w:gz'):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def extract(proxy, path, auth, body, kind='tar.gz'):
    headers = dict(auth, Accept='application/json')
    status, _h, data = call(proxy.url, 'PUT',
                            '%s?extract-archive=%s' % (path, kind),
                            headers, body)
    assert status == 200
    return json.loads(data)


def test_extract_archive_scans_each_member(proxy, owner):
    account, auth = owner
    container = unique('untar')
    payload = os.urandom(200 * 1024)
    body = archive([(container + '/big.bin', payload),
                    (container + '/eicar.com', EICAR),
                    (container + '/sub/small.txt', b'hello')])
    result = extract(proxy, account, auth, body)
    assert result['Number Files Created'] == 2
    assert result['Errors'] == [[container + '/eicar.com', '403 Forbidden']]
    base = '%s/%s/' % (account, container)
    status, headers, data = call(proxy.url, 'GET', base + 'big.bin', auth)
    assert status == 200 and data == payload
    assert headers['x-object-av-verdict'] == 'clean'
    assert call(proxy.url, 'GET', base + 'sub/small.txt', auth)[2] == \
        b'hello'
    assert not exists(proxy, base + 'eicar.com', auth)


def test_extract_into_a_container_path(proxy, owner):
    account, auth = owner
    container = unique('untar-into')
    assert call(proxy.url, 'PUT', '%s/%s' % (account, container),
                auth)[0] == 201
    body = archive([('top.txt', b'1'), ('dir/nested.txt', b'2')], 'w')
    result = extract(proxy, '%s/%s/pre' % (account, container), auth, body,
                     'tar')
    assert result['Number Files Created'] == 2
    listing = call(proxy.url, 'GET', '%s/%s' % (account, container),
                   auth)[2].decode().split()
    assert listing == ['pre/dir/nested.txt', 'pre/top.txt']


def test_a_malformed_archive_is_invalid_tar_file(proxy, owner):
    account, auth = owner
    result = extract(proxy, account, auth, b'definitely not gzip' * 100)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File')
    truncated = archive([(unique('cut') + '/x', os.urandom(100000))])[:20000]
    result = extract(proxy, account, auth, truncated)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File')


def test_a_chunked_archive_upload_is_extracted(proxy, owner):
    """No Content-Length: the archive is read to the end of the chunked
    body, a piece at a time."""
    account, auth = owner
    container = unique('untar-chunked')
    body = archive([(container + '/a', b'A' * 70000),
                    (container + '/b', b'B')])
    pieces = [body[i:i + 8192] for i in range(0, len(body), 8192)]
    parsed = urlparse(proxy.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=30)
    try:
        conn.request('PUT', account + '?extract-archive=tar.gz',
                     body=iter(pieces), encode_chunked=True,
                     headers=dict(auth, Accept='application/json'))
        resp = conn.getresponse()
        assert resp.status == 200
        result = json.loads(resp.read())
    finally:
        conn.close()
    assert result['Number Files Created'] == 2, result
    assert call(proxy.url, 'GET', '%s/%s/a' % (account, container),
                auth)[2] == b'A' * 70000
