"""Large objects end to end: DLO and SLO through the real cluster and swiftclient.

The proxy config written by the all-in-one cluster does not name ``slo``
or ``dlo``: these tests also prove the proxy inserts them itself.
"""
import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import uuid
from urllib.parse import urlparse

import pytest

EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!'
         b'$H+H*')
SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')
MIB = 1024 * 1024


def swift(cluster, *args, cwd=None, user='test:tester', key='testing'):
    cmd = [SWIFT, '-A', cluster.auth_url, '-U', user, '-K', key] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def settle(cluster):
    """Run every node's updater once.

    Under a burst of concurrent segment writes some object servers fail to
    update the container replicas directly and leave async pendings; the
    updater is what delivers them (and a DLO is only as complete as its
    container listing, exactly as in Swift).
    """
    bindir = os.path.dirname(sys.executable)
    procs = [subprocess.Popen([os.path.join(bindir, 'objproxy-updater'),
                               cluster.aio.layout.node_conf(i), '--once'],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for i in range(len(cluster.nodes))]
    for proc in procs:
        proc.wait(60)


def listing(cluster, container):
    return ok(swift(cluster, 'list', container)).split()


def listing_empties(cluster, container):
    if listing(cluster, container) == []:
        return True
    settle(cluster)
    return listing(cluster, container) == []


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class Client(object):
    """Raw HTTP as one user: status, lower-cased headers, body."""

    def __init__(self, cluster, user='test:tester', key='testing'):
        storage_url, self.token = cluster.token(user, key)
        parsed = urlparse(storage_url)
        self.host, self.port, self.account = (parsed.hostname, parsed.port,
                                              parsed.path)

    def call(self, method, path, headers=None, body=None, query=''):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            hdrs = {'X-Auth-Token': self.token}
            hdrs.update(headers or {})
            url = self.account + path + ('?' + query if query else '')
            conn.request(method, url, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return (resp.status,
                    dict((k.lower(), v) for k, v in resp.getheaders()),
                    data)
        finally:
            conn.close()

    def put(self, path, body=b'', headers=None, query=''):
        status, headers, data = self.call('PUT', path, headers, body, query)
        assert status in (201, 202), (status, data)
        return headers


@pytest.fixture(scope='module')
def owner(cluster):
    return Client(cluster)


@pytest.fixture(scope='module')
def payload(tmp_path_factory):
    path = tmp_path_factory.mktemp('lo') / 'big.bin'
    data = os.urandom(20 * MIB) + b'tail'
    path.write_bytes(data)
    return path, data


def test_info_lists_both_filters(cluster):
    info = cluster.info()
    assert info['slo']['max_manifest_segments'] == 1000
    assert info['slo']['max_manifest_size'] == 8 * MIB
    assert info['slo']['min_segment_size'] == 1
    assert info['dlo']['max_get_time'] == 86400


@pytest.mark.parametrize('mode', ['--use-dlo', '--use-slo'])
def test_segmented_upload_round_trip(cluster, owner, payload, tmp_path,
                                     mode):
    src, data = payload
    container = unique('big')
    out = ok(swift(cluster, 'upload', '--segment-size', '1M', mode,
                   container, src.name, cwd=str(src.parent)))
    assert src.name in out
    settle(cluster)
    assert len(listing(cluster, container + '_segments')) == 21
    stat = ok(swift(cluster, 'stat', container, src.name))
    if mode == '--use-dlo':
        assert 'Manifest: %s_segments/' % container in stat
    status, headers, _ = owner.call('HEAD', '/%s/%s' % (container,
                                                         src.name))
    assert status == 200
    assert int(headers['content-length']) == len(data)
    etags = ''.join(hashlib.md5(data[i:i + MIB]).hexdigest()
                    for i in range(0, len(data), MIB))
    assert headers['etag'] == '"%s"' % hashlib.md5(
        etags.encode()).hexdigest()
    if mode == '--use-slo':
        assert headers['x-static-large-object'] == 'True'
        assert not any(k.startswith('x-object-sysmeta') for k in headers)

    ok(swift(cluster, 'download', container, src.name, cwd=str(tmp_path)))
    assert (tmp_path / src.name).read_bytes() == data

    # a range spanning a segment boundary, and several ranges
    path = '/%s/%s' % (container, src.name)
    status, headers, body = owner.call('GET', path, {
        'Range': 'bytes=%d-%d' % (MIB - 10, 3 * MIB + 9)})
    assert status == 206
    assert body == data[MIB - 10:3 * MIB + 10]
    assert headers['content-range'] == 'bytes %d-%d/%d' % (
        MIB - 10, 3 * MIB + 9, len(data))
    status, _, body = owner.call('GET', path, {'Range': 'bytes=-6'})
    assert (status, body) == (206, data[-6:])
    status, headers, body = owner.call('GET', path, {
        'Range': 'bytes=0-1,%d-%d' % (2 * MIB - 1, 2 * MIB)})
    if mode == '--use-slo':
        assert status == 206
        assert headers['content-type'].startswith('multipart/byteranges')
        assert data[2 * MIB - 1:2 * MIB + 1] in body and data[:2] in body
    else:   # as Swift: a DLO answers several ranges with the whole object
        assert (status, body) == (200, data)
    status, _, _ = owner.call('GET', path, {
        'Range': 'bytes=%d-' % len(data)})
    assert status == 416
    # conditional requests use the large object's ETag
    etag = owner.call('HEAD', path)[1]['etag']
    assert owner.call('GET', path, {'If-None-Match': etag})[0] == 304
    assert owner.call('GET', path, {'If-Match': '"nope"'})[0] == 412
    status, _, body = owner.call('GET', path, {'If-Match': etag,
                                               'Range': 'bytes=5-9'})
    assert (status, body) == (206, data[5:10])

    ok(swift(cluster, 'delete', container, src.name))
    assert owner.call('HEAD', path)[0] == 404
    assert listing_empties(cluster, container)
    assert listing_empties(cluster, container + '_segments')


def put_segments(client, container, pieces):
    client.put('/' + container)
    etags = []
    for index, piece in enumerate(pieces):
        headers = client.put('/%s/seg%02d' % (container, index), piece)
        etags.append(headers['etag'].strip('"'))
    return etags


def test_slo_manifest_nested_ranges_and_raw(owner):
    container = unique('slo')
    pieces = [os.urandom(1000) for _ in range(3)]
    etags = put_segments(owner, container, pieces)
    inner = [{'path': '/%s/seg%02d' % (container, i), 'etag': etags[i],
              'size_bytes': 1000} for i in range(3)]
    owner.put('/%s/inner' % container, json.dumps(inner),
              query='multipart-manifest=put')
    inner_etag = owner.call('HEAD', '/%s/inner' % container)[1]['etag']
    outer = [
        {'path': '/%s/inner' % container, 'etag': inner_etag.strip('"'),
         'range': '500-2499'},
        {'path': '/%s/seg00' % container, 'etag': None, 'size_bytes': None,
         'range': '-10'},
    ]
    headers = owner.put('/%s/outer' % container, json.dumps(outer),
                        query='multipart-manifest=put')
    expected = b''.join(pieces)[500:2500] + pieces[0][-10:]
    status, got, body = owner.call('GET', '/%s/outer' % container)
    assert status == 200 and body == expected
    assert got['etag'] == headers['etag']
    status, _, body = owner.call('GET', '/%s/outer' % container,
                                 {'Range': 'bytes=400-1600'})
    assert (status, body) == (206, expected[400:1601])

    status, got, body = owner.call('GET', '/%s/outer' % container,
                                   query='multipart-manifest=get')
    assert status == 200
    assert got['content-type'] == 'application/json; charset=utf-8'
    stored = json.loads(body)
    assert stored[0]['sub_slo'] is True and stored[1]['range'] == '990-999'
    status, _, body = owner.call('GET', '/%s/outer' % container,
                                 query='multipart-manifest=get&format=raw')
    raw = json.loads(body)
    assert raw[0] == {'path': '/%s/inner' % container,
                      'etag': inner_etag.strip('"'), 'size_bytes': 3000,
                      'range': '500-2499'}
    # the raw form uploads again as an identical SLO
    owner.put('/%s/again' % container, json.dumps(raw),
              query='multipart-manifest=put')
    assert owner.call('GET', '/%s/again' % container)[2] == expected

    # COPY makes a plain object of the content; ?multipart-manifest=get
    # copies the manifest itself
    status, _, _ = owner.call('COPY', '/%s/outer' % container,
                              {'Destination': '%s/flat' % container})
    assert status == 201
    status, got, body = owner.call('GET', '/%s/flat' % container)
    assert body == expected and 'x-static-large-object' not in got
    status, _, _ = owner.call('COPY', '/%s/outer' % container,
                              {'Destination': '%s/man2' % container},
                              query='multipart-manifest=get')
    assert status == 201
    status, got, body = owner.call('GET', '/%s/man2' % container)
    assert body == expected and got['x-static-large-object'] == 'True'


def test_slo_manifest_validation(owner):
    container = unique('bad')
    etags = put_segments(owner, container, [b'a' * 10, b'b' * 10])
    path = '/%s/man' % container
    bad = [{'path': '/%s/seg00' % container, 'etag': 'f' * 32,
            'size_bytes': 10},
           {'path': '/%s/missing' % container, 'etag': None,
            'size_bytes': None},
           {'path': '/%s/seg01' % container, 'etag': etags[1],
            'size_bytes': 11}]
    status, headers, body = owner.call('PUT', path, {
        'Accept': 'application/json'}, json.dumps(bad),
        'multipart-manifest=put')
    assert status == 400
    errors = dict(json.loads(body)['Errors'])
    assert errors == {'/%s/seg00' % container: 'Etag Mismatch',
                      '/%s/missing' % container: '404 Not Found',
                      '/%s/seg01' % container: 'Size Mismatch'}
    for body, want in ((b'not json', 400), (b'[]', 400),
                       (b'[{"path": "nocontainer"}]', 400),
                       (json.dumps([{'path': '/%s/seg00' % container}] *
                                   1001), 413)):
        assert owner.call('PUT', path, body=body,
                          query='multipart-manifest=put')[0] == want
    status, _, _ = owner.call('PUT', path, {'X-Static-Large-Object': 'True'},
                              b'x')
    assert status == 400
    assert owner.call('HEAD', path)[0] == 404


def test_slo_delete_reports_per_segment(cluster, owner):
    container = unique('del')
    etags = put_segments(owner, container, [b'x' * 5, b'y' * 5])
    manifest = [{'path': '/%s/seg%02d' % (container, i), 'etag': etags[i],
                 'size_bytes': 5} for i in range(2)]
    owner.put('/%s/man' % container, json.dumps(manifest),
              query='multipart-manifest=put')
    owner.call('DELETE', '/%s/seg01' % container)
    status, headers, body = owner.call(
        'DELETE', '/%s/man' % container, {'Accept': 'application/json'},
        query='multipart-manifest=delete')
    assert status == 200
    result = json.loads(body)
    assert result['Number Deleted'] == 2          # seg00 and the manifest
    assert result['Number Not Found'] == 1        # seg01, already gone
    assert result['Errors'] == [] and result['Response Status'] == '200 OK'
    assert listing_empties(cluster, container)
    status, _, body = owner.call('DELETE', '/%s/man' % container,
                                 query='multipart-manifest=delete')
    assert status == 200 and b'Number Not Found: 1' in body


def test_infected_segment_refused_and_manifest_fails(cluster, owner,
                                                     tmp_path):
    container = unique('eicar')
    data = os.urandom(MIB) + EICAR + os.urandom(MIB)
    (tmp_path / 'mixed.bin').write_bytes(data)
    result = swift(cluster, 'upload', '--segment-size', '1M', '--use-slo',
                   container, 'mixed.bin', cwd=str(tmp_path))
    assert result.returncode != 0
    assert '403' in result.stdout + result.stderr
    assert owner.call('HEAD', '/%s/mixed.bin' % container)[0] == 404
    # by hand: the infected segment is refused, so a manifest naming it
    # cannot be stored either
    owner.put('/' + container)
    status, _, body = owner.call('PUT', '/%s/virus' % container, body=EICAR)
    assert status == 403 and b'EICAR' in body
    manifest = [{'path': '/%s/virus' % container, 'etag': None,
                 'size_bytes': None}]
    status, _, body = owner.call('PUT', '/%s/man' % container,
                                 body=json.dumps(manifest),
                                 query='multipart-manifest=put')
    assert status == 400 and b'404 Not Found' in body
    assert owner.call('HEAD', '/%s/man' % container)[0] == 404


def test_dlo_segments_need_read_access(cluster, owner):
    reader = Client(cluster, 'test:tester3', 'testing3')
    segs, public = unique('segs'), unique('pub')
    owner.put('/' + segs)
    owner.put('/' + public, headers={'X-Container-Read': 'test:tester3'})
    owner.put('/%s/part/1' % segs, b'hello ')
    owner.put('/%s/part/2' % segs, b'world')
    owner.put('/%s/man' % public, headers={
        'X-Object-Manifest': '%s/part/' % segs})
    assert owner.call('GET', '/%s/man' % public)[2] == b'hello world'
    status, _, _ = reader.call('GET', '/%s/man' % public)
    assert status == 403
    status, _, body = reader.call('GET', '/%s/man' % public,
                                  query='multipart-manifest=get')
    assert (status, body) == (200, b'')
    # readable segments: the same user reads the whole object
    owner.call('POST', '/' + segs, {'X-Container-Read': 'test:tester3'})
    status, _, body = reader.call('GET', '/%s/man' % public)
    assert (status, body) == (200, b'hello world')
    # another account's user cannot read it at all
    other = Client(cluster, 'test2:tester2', 'testing2')
    conn_path = '%s/%s/man' % (owner.account, public)
    conn = http.client.HTTPConnection(other.host, other.port, timeout=30)
    conn.request('GET', conn_path, headers={'X-Auth-Token': other.token})
    assert conn.getresponse().status == 403
    conn.close()


def test_dlo_copy_and_bad_header(owner):
    container = unique('dcopy')
    owner.put('/' + container)
    for i in range(3):
        owner.put('/%s/s/%d' % (container, i), str(i).encode() * 4)
    owner.put('/%s/man' % container,
              headers={'X-Object-Manifest': '%s/s/' % container})
    status, _, _ = owner.call('PUT', '/%s/copy' % container, {
        'X-Copy-From': '%s/man' % container})
    assert status == 201
    status, headers, body = owner.call('GET', '/%s/copy' % container)
    assert body == b'000011112222' and 'x-object-manifest' not in headers
    status, _, _ = owner.call('COPY', '/%s/man' % container, {
        'Destination': '%s/man2' % container},
        query='multipart-manifest=get')
    assert status == 201
    status, headers, body = owner.call('GET', '/%s/man2' % container)
    assert body == b'000011112222' and 'x-object-manifest' in headers
    status, _, _ = owner.call('PUT', '/%s/bad' % container, {
        'X-Object-Manifest': 'no-slash'})
    assert status == 400


def test_slo_inline_data_part_numbers_and_heartbeat(owner):
    container = unique('inline')
    pieces = [os.urandom(2000), os.urandom(1000)]
    put_segments(owner, container, pieces)
    manifest = [
        {'data': base64.b64encode(b'<head>').decode()},
        {'path': '/%s/seg00' % container},
        {'path': '/%s/seg01' % container},
        {'data': base64.b64encode(b'<tail>').decode()},
    ]
    # ?heartbeat=on: 202 at once, chunked, whitespace then the outcome
    conn = http.client.HTTPConnection(owner.host, owner.port, timeout=60)
    try:
        conn.request('PUT', '%s/%s/mixed?multipart-manifest=put&heartbeat=on'
                     % (owner.account, container), body=json.dumps(manifest),
                     headers={'X-Auth-Token': owner.token,
                              'Accept': 'application/json'})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 202, body
        assert resp.getheader('Transfer-Encoding') == 'chunked'
    finally:
        conn.close()
    lead, _, outcome = body.partition(b'\r\n\r\n')
    assert not lead.strip()
    outcome = json.loads(outcome)
    assert outcome['Response Status'] == '201 Created', outcome
    whole = b'<head>' + pieces[0] + pieces[1] + b'<tail>'
    status, got, body = owner.call('GET', '/%s/mixed' % container)
    assert (status, body) == (200, whole)
    assert got['etag'] == outcome['Etag']
    status, got, body = owner.call('GET', '/%s/mixed' % container,
                                   {'Range': 'bytes=3-10'})
    assert (status, body) == (206, whole[3:11])
    # parts are the manifest's entries, inline ones included
    status, got, body = owner.call('GET', '/%s/mixed' % container,
                                   query='part-number=2')
    assert (status, body) == (206, pieces[0])
    assert got['content-range'] == 'bytes 6-2005/%d' % len(whole)
    assert got['x-parts-count'] == '4'
    status, got, _ = owner.call('HEAD', '/%s/mixed' % container,
                                query='part-number=9')
    assert status == 416 and got['content-range'] == 'bytes */%d' % len(
        whole)
