"""slo filter logic against the in-memory Swift of test_dlo.py."""
import base64
import hashlib
import json

import eventlet

import pytest
from webob import Response

from middleware import slo
from middleware.copy import ServerSideCopy
from objproxy.common import registry
from tests.unit.middleware.test_dlo import FakeSwift, ListLogger, call

SEGS = {'/v1/a/s/one': b'1111111111', '/v1/a/s/two': b'2222222222',
        '/v1/a/s/three': b'333'}


@pytest.fixture
def swift():
    fake = FakeSwift()
    for path, body in SEGS.items():
        fake.put(path, body)
    return fake


@pytest.fixture
def logger():
    return ListLogger()


@pytest.fixture
def app(swift, logger):
    return slo.StaticLargeObject(swift, {}, logger=logger)


def etag_of(data):
    return hashlib.md5(data).hexdigest()


def seg(path, with_checks=True, **extra):
    item = {'path': path[len('/v1/a'):],
            'etag': etag_of(SEGS[path]) if with_checks else None,
            'size_bytes': len(SEGS[path]) if with_checks else None}
    item.update(extra)
    return item


def put_manifest(app, path, segments, headers=None):
    return call(app, path, 'PUT', headers or {}, json.dumps(segments).encode(),
                query='multipart-manifest=put')


@pytest.fixture
def manifest(app):
    resp = put_manifest(app, '/v1/a/c/big', [
        seg('/v1/a/s/one'), seg('/v1/a/s/two'), seg('/v1/a/s/three')],
        {'Content-Type': 'video/mp4', 'X-Object-Meta-Color': 'blue'})
    assert resp.status_int == 201, resp.body
    return resp


WHOLE = SEGS['/v1/a/s/one'] + SEGS['/v1/a/s/two'] + SEGS['/v1/a/s/three']
SLO_ETAG = etag_of(''.join(etag_of(SEGS[p]) for p in (
    '/v1/a/s/one', '/v1/a/s/two', '/v1/a/s/three')).encode())


def test_manifest_put_stores_sysmeta_and_answers_the_slo_etag(
        manifest, swift):
    assert manifest.headers['Etag'] == '"%s"' % SLO_ETAG
    stored, body = swift.objects['/v1/a/c/big']
    assert stored['x-static-large-object'] == 'True'
    assert stored['x-object-sysmeta-slo-etag'] == SLO_ETAG
    assert stored['x-object-sysmeta-slo-size'] == str(len(WHOLE))
    assert stored['content-type'] == 'video/mp4;swift_bytes=23'
    assert stored['x-object-meta-color'] == 'blue'
    entries = json.loads(body)
    assert [e['name'] for e in entries] == ['/s/one', '/s/two', '/s/three']
    assert entries[0]['hash'] == etag_of(SEGS['/v1/a/s/one'])
    heads = [c for c in swift.methods('HEAD')]
    assert len(heads) == 3 and all(c[3]['swift.source'] == 'SLO'
                                   for c in heads)


def test_get_and_head_serve_the_whole_object(app, manifest, swift):
    resp = call(app, '/v1/a/c/big')
    assert resp.status_int == 200 and resp.body == WHOLE
    assert resp.headers['Etag'] == '"%s"' % SLO_ETAG
    assert resp.headers['Content-Type'] == 'video/mp4'
    assert resp.headers['X-Static-Large-Object'] == 'True'
    assert not any(k.lower().startswith('x-object-sysmeta')
                   for k in resp.headers)
    gets = len(swift.methods('GET'))
    head = call(app, '/v1/a/c/big', 'HEAD')
    assert head.headers['Content-Length'] == str(len(WHOLE))
    assert head.headers['Etag'] == '"%s"' % SLO_ETAG
    # HEAD reads neither the manifest body nor any segment
    assert len(swift.methods('GET')) == gets


@pytest.mark.parametrize('spec,want', [
    ('bytes=8-12', WHOLE[8:13]), ('bytes=-5', WHOLE[-5:]),
    ('bytes=20-', WHOLE[20:]), ('bytes=0-0', WHOLE[:1])])
def test_ranges_cross_segments(app, manifest, spec, want):
    resp = call(app, '/v1/a/c/big', headers={'Range': spec})
    assert (resp.status_int, resp.body) == (206, want)
    assert resp.headers['Content-Range'].endswith('/23')


def test_conditionals_use_the_slo_etag(app, manifest):
    assert call(app, '/v1/a/c/big', headers={
        'If-None-Match': '"%s"' % SLO_ETAG}).status_int == 304
    assert call(app, '/v1/a/c/big', headers={
        'If-Match': '"%s"' % SLO_ETAG}).body == WHOLE
    assert call(app, '/v1/a/c/big', headers={
        'If-Match': '"nope"'}).status_int == 412
    assert call(app, '/v1/a/c/big', 'HEAD', headers={
        'If-None-Match': SLO_ETAG}).status_int == 304


def test_nested_slo_with_segment_ranges(app, manifest, swift):
    resp = put_manifest(app, '/v1/a/c/outer', [
        {'path': '/c/big', 'etag': SLO_ETAG, 'size_bytes': 23,
         'range': '5-14'},
        seg('/v1/a/s/three', range='1-1')])
    assert resp.status_int == 201, resp.body
    entries = json.loads(swift.objects['/v1/a/c/outer'][1])
    assert entries[0]['sub_slo'] is True and entries[0]['bytes'] == 23
    expected = WHOLE[5:15] + b'3'
    resp = call(app, '/v1/a/c/outer')
    assert resp.body == expected
    assert resp.headers['Content-Length'] == str(len(expected))
    assert resp.headers['Etag'] == '"%s"' % etag_of((
        '%s:5-14;%s:1-1;' % (SLO_ETAG, etag_of(b'333'))).encode())
    resp = call(app, '/v1/a/c/outer', headers={'Range': 'bytes=3-7'})
    assert resp.body == expected[3:8]


def test_manifest_get_and_raw_format(app, manifest):
    resp = call(app, '/v1/a/c/big', query='multipart-manifest=get')
    assert resp.content_type == 'application/json'
    assert [e['name'] for e in json.loads(resp.body)][0] == '/s/one'
    resp = call(app, '/v1/a/c/big', query='multipart-manifest=get&format=raw')
    assert json.loads(resp.body)[1] == {
        'path': '/s/two', 'etag': etag_of(SEGS['/v1/a/s/two']),
        'size_bytes': 10}
    # the object's own content type, and the ETag of this very body
    assert resp.headers['Content-Type'] == 'video/mp4'
    assert resp.headers['Etag'] == etag_of(resp.body)


def test_validation_reports_each_bad_segment(app, swift):
    resp = call(app, '/v1/a/c/m', 'PUT', {'Accept': 'application/json'},
                json.dumps([
                    {'path': '/s/one', 'etag': 'f' * 32, 'size_bytes': 10},
                    {'path': '/s/two', 'etag': None, 'size_bytes': 9},
                    {'path': '/s/none', 'etag': None, 'size_bytes': None},
                    {'path': '/s/three', 'etag': None, 'size_bytes': None,
                     'range': '7-9'},
                ]).encode(), query='multipart-manifest=put')
    assert resp.status_int == 400
    assert dict(json.loads(resp.body)['Errors']) == {
        '/s/one': 'Etag Mismatch', '/s/two': 'Size Mismatch',
        '/s/none': '404 Not Found', '/s/three': 'Unsatisfiable Range'}
    assert '/v1/a/c/m' not in swift.objects


@pytest.mark.parametrize('body,status', [
    (b'{not json', 400), (b'{}', 400), (b'[]', 400),
    (b'[{"path": "/s/one", "bogus": 1}]', 400),
    (b'[{"path": "noslash"}]', 400),
    (b'[{"path": "/s/one", "size_bytes": "x"}]', 400),
])
def test_malformed_manifests_are_400(app, swift, body, status):
    resp = call(app, '/v1/a/c/m', 'PUT', body=body,
                query='multipart-manifest=put')
    assert resp.status_int == status
    assert not swift.methods('PUT')      # never stored as a plain object


def test_limits(swift):
    three = [seg('/v1/a/s/one'), seg('/v1/a/s/two'), seg('/v1/a/s/three')]
    few = slo.StaticLargeObject(swift, {'max_manifest_segments': '2'})
    resp = put_manifest(few, '/v1/a/c/m', three)
    assert resp.status_int == 413 and b'segments' in resp.body
    tiny = slo.StaticLargeObject(swift, {'max_manifest_size': '200'})
    resp = put_manifest(tiny, '/v1/a/c/m', three)
    assert resp.status_int == 413 and b'Manifest File > 200' in resp.body
    app = slo.StaticLargeObject(swift, {'min_segment_size': '5'})
    small_first = [seg('/v1/a/s/three'), seg('/v1/a/s/one')]
    resp = put_manifest(app, '/v1/a/c/m', small_first)
    assert resp.status_int == 400 and b'Too small' in resp.body
    # the last segment may be smaller than min_segment_size
    ok = [seg('/v1/a/s/one'), seg('/v1/a/s/three')]
    assert put_manifest(app, '/v1/a/c/m', ok).status_int == 201


def test_client_etag_must_match(app):
    resp = put_manifest(app, '/v1/a/c/m', [seg('/v1/a/s/one')],
                        {'Etag': '"%s"' % ('0' * 32)})
    assert resp.status_int == 422


def test_reserved_header_without_manifest_put(app, swift):
    resp = call(app, '/v1/a/c/x', 'PUT', {'X-Static-Large-Object': 'true'},
                b'data')
    assert resp.status_int == 400 and not swift.methods('PUT')


def test_delete_removes_segments_and_manifest(app, manifest, swift):
    del swift.objects['/v1/a/s/two']
    resp = call(app, '/v1/a/c/big', 'DELETE',
                {'Accept': 'application/json'},
                query='multipart-manifest=delete')
    result = json.loads(resp.body)
    assert resp.status_int == 200
    assert result['Number Deleted'] == 3 and result['Number Not Found'] == 1
    assert result['Errors'] == [] and result['Response Status'] == '200 OK'
    assert not [p for p in swift.objects if p.startswith('/v1/a/s/') or
                p == '/v1/a/c/big']


def test_delete_reports_forbidden_segments_in_plain_text(app, manifest,
                                                        swift):
    def authorize(req):
        if req.method == 'DELETE' and req.path_info == '/v1/a/s/two':
            return Response(status=403)
        return None
    resp = call(app, '/v1/a/c/big', 'DELETE',
                query='multipart-manifest=delete',
                env={'swift.authorize': authorize})
    text = resp.body.decode()
    assert 'Number Deleted: 3' in text
    assert 'Response Status: 400 Bad Request' in text
    assert 'Errors:\n/s/two, 403 Forbidden' in text


def test_delete_of_a_plain_object_is_refused(app, swift):
    resp = call(app, '/v1/a/s/one', 'DELETE', {'Accept': 'application/json'},
                query='multipart-manifest=delete')
    assert json.loads(resp.body)['Errors'] == [['/s/one',
                                                'Not an SLO manifest']]
    assert '/v1/a/s/one' in swift.objects


def test_changed_segment_cuts_the_body(app, manifest, swift, logger):
    swift.put('/v1/a/s/two', b'XXXXXXXXXX')     # same size, new content
    resp = call(app, '/v1/a/c/big')
    assert resp.status_int == 200
    assert resp.body == SEGS['/v1/a/s/one']
    assert any('does not match' in line and 'tx-test' in line
               for line in logger.lines)


def test_copy_of_an_slo_is_a_plain_object(app, manifest, swift):
    """The copy filter reads the source through slo: the joined content."""
    resp = call(ServerSideCopy(app, {}), '/v1/a/c/big', 'COPY',
                {'Destination': 'c/flat'})
    assert resp.status_int == 201
    stored, body = swift.objects['/v1/a/c/flat']
    assert body == WHOLE
    assert 'x-static-large-object' not in stored
    assert not any(k.startswith('x-object-sysmeta-slo') for k in stored)
    assert stored['content-type'] == 'video/mp4'


def test_plain_reads_pass_through(app, swift):
    resp = call(app, '/v1/a/s/one', headers={'Range': 'bytes=2-3'})
    assert (resp.status_int, resp.body) == (206, b'11')
    assert len(swift.calls) == 1


def test_filter_factory_registers_info():
    registry.clear_info()
    slo.filter_factory({}, max_manifest_segments='50')
    assert registry.get_info()['slo'] == {
        'max_manifest_segments': 50, 'max_manifest_size': 8 * 1024 * 1024,
        'min_segment_size': 1, 'yield_frequency': 10}


def test_only_small_segments_are_rate_limited(swift, monkeypatch):
    from middleware import large_objects
    sleeps = []
    monkeypatch.setattr(large_objects.eventlet, 'sleep', sleeps.append)
    app = slo.StaticLargeObject(swift, {
        'rate_limit_after_segment': '0', 'rate_limit_under_size': '5'})
    put_manifest(app, '/v1/a/c/big', [seg('/v1/a/s/one'), seg('/v1/a/s/two'),
                                      seg('/v1/a/s/three')])
    assert call(app, '/v1/a/c/big').body == WHOLE
    assert len(sleeps) == 1            # just the 3-byte segment


# ------------------------------------------------------ inline data segments
def b64(data):
    return base64.b64encode(data).decode('ascii')


def test_inline_data_segments_are_stored_and_served(app, swift):
    resp = put_manifest(app, '/v1/a/c/mixed', [
        {'data': b64(b'HEAD')}, seg('/v1/a/s/one'), {'data': b64(b'TAIL')}])
    assert resp.status_int == 201, resp.body
    whole = b'HEAD' + SEGS['/v1/a/s/one'] + b'TAIL'
    etag = etag_of((etag_of(b'HEAD') + etag_of(SEGS['/v1/a/s/one']) +
                    etag_of(b'TAIL')).encode())
    assert resp.headers['Etag'] == '"%s"' % etag
    stored = json.loads(swift.objects['/v1/a/c/mixed'][1])
    assert stored[0] == {'data': b64(b'HEAD')}
    got = call(app, '/v1/a/c/mixed')
    assert (got.body, got.headers['Etag']) == (whole, '"%s"' % etag)
    ranged = call(app, '/v1/a/c/mixed', headers={'Range': 'bytes=2-15'})
    assert (ranged.status_int, ranged.body) == (206, whole[2:16])
    # inline bytes cost no subrequest: one manifest GET, one segment GET
    assert len([c for c in swift.methods('GET') if 's/one' in c[1]]) == 2
    raw = call(app, '/v1/a/c/mixed', query='multipart-manifest=get&'
                                           'format=raw')
    assert json.loads(raw.body)[2] == {'data': b64(b'TAIL')}


def test_nested_manifest_with_inline_data(app, swift):
    put_manifest(app, '/v1/a/c/mixed', [{'data': b64(b'HEAD')},
                                        seg('/v1/a/s/two')])
    resp = put_manifest(app, '/v1/a/c/outer', [{'path': '/c/mixed'}])
    assert resp.status_int == 201, resp.body
    assert call(app, '/v1/a/c/outer', headers={
        'Range': 'bytes=1-5'}).body == b'EAD22'


@pytest.mark.parametrize('manifest,message', [
    ([{'data': b64(b'x')}], b'at least one object-backed segment'),
    ([{'data': '!!not base64'}, {'path': '/s/one'}], b'valid base64'),
    ([{'data': ''}, {'path': '/s/one'}], b'too small'),
    ([{'data': b64(b'x'), 'etag': None}, {'path': '/s/one'}],
     b'extraneous keys "etag"'),
    ([{'etag': None}], b"one of 'data' or 'path'"),
    ([{'path': '/c/self'}], b'must not include itself'),
    ([{'path': '/s/one', 'range': '1-2,4-5'}], b'multiple ranges'),
])
def test_bad_segments_are_400_with_the_reason(app, swift, manifest, message):
    resp = put_manifest(app, '/v1/a/c/self', manifest)
    assert resp.status_int == 400 and message in resp.body, resp.body
    assert '/v1/a/c/self' not in swift.objects


def test_upload_sets_the_listing_etag_override(manifest, swift):
    stored, body = swift.objects['/v1/a/c/big']
    assert stored['x-object-sysmeta-container-update-override-etag'] == \
        '%s; slo_etag=%s' % (etag_of(body), SLO_ETAG)


def test_json_listings_show_the_slo_etag(app, manifest, swift):
    swift.stale_hash['/v1/a/c/big'] = 'abc; slo_etag=%s' % SLO_ETAG
    listing = json.loads(call(app, '/v1/a/c', query='format=json').body)
    assert listing[0]['hash'] == 'abc'
    assert listing[0]['slo_etag'] == '"%s"' % SLO_ETAG


# ---------------------------------------------------------- part numbers
def test_part_number_answers_one_part(app, manifest):
    resp = call(app, '/v1/a/c/big', query='part-number=2')
    assert (resp.status_int, resp.body) == (206, SEGS['/v1/a/s/two'])
    assert resp.headers['Content-Range'] == 'bytes 10-19/23'
    assert resp.headers['X-Parts-Count'] == '3'
    assert resp.headers['Etag'] == '"%s"' % SLO_ETAG
    assert resp.headers['X-Manifest-Etag'] == manifest_md5(app)
    head = call(app, '/v1/a/c/big', 'HEAD', query='part-number=3')
    assert head.status_int == 206
    assert head.headers['Content-Length'] == '3'
    assert head.headers['Content-Range'] == 'bytes 20-22/23'


def manifest_md5(app):
    return call(app, '/v1/a/c/big', 'HEAD',
                query='multipart-manifest=get').headers['Etag']


def test_part_number_out_of_range_or_invalid(app, manifest):
    resp = call(app, '/v1/a/c/big', query='part-number=4')
    assert resp.status_int == 416
    assert resp.body == b'The requested part number is not satisfiable'
    assert resp.headers['Content-Range'] == 'bytes */23'
    assert resp.headers['X-Parts-Count'] == '3'
    head = call(app, '/v1/a/c/big', 'HEAD', query='part-number=4')
    assert (head.status_int, head.body) == (416, b'')
    bad = call(app, '/v1/a/c/big', query='part-number=0')
    assert bad.status_int == 400
    assert bad.body == b'Part number must be an integer greater than 0'
    assert call(app, '/v1/a/c/big', 'HEAD',
                query='part-number=x').status_int == 400
    assert call(app, '/v1/a/c/big', query='part-number=1',
                headers={'Range': 'bytes=0-1'}).status_int == 400


def test_copy_with_part_number_copies_that_part(app, manifest, swift):
    resp = call(ServerSideCopy(app, {}), '/v1/a/c/big', 'COPY',
                {'Destination': 'c/part'}, query='part-number=2')
    assert resp.status_int == 201
    assert swift.objects['/v1/a/c/part'][1] == SEGS['/v1/a/s/two']


# ---------------------------------------------------------- manifest copies
def test_manifest_copy_is_uploaded_again_at_the_destination(app, manifest,
                                                            swift):
    copier = ServerSideCopy(app, {})
    resp = call(copier, '/v1/a/c/big', 'COPY', {
        'Destination': 'c/copy', 'Content-Type': 'image/jpeg'},
        query='multipart-manifest=get')
    assert resp.status_int == 201, resp.body
    assert resp.headers['X-Copied-From'] == 'c/big'
    stored, body = swift.objects['/v1/a/c/copy']
    assert body == swift.objects['/v1/a/c/big'][1]
    assert stored['content-type'] == 'image/jpeg;swift_bytes=23'
    assert stored['x-object-meta-color'] == 'blue'
    # another account: the segments are looked for there, as the client
    resp = call(copier, '/v1/a/c/big', 'COPY', {
        'Destination': 'c/copy', 'Destination-Account': 'b',
        'Accept': 'application/json'}, query='multipart-manifest=get')
    assert resp.status_int == 400
    assert [e[1] for e in json.loads(resp.body)['Errors']] == \
        ['404 Not Found'] * 3


# -------------------------------------------------------------- heartbeat
def heartbeat_put(app, segments, headers=None):
    return call(app, '/v1/a/c/hb', 'PUT', headers or {},
                json.dumps(segments).encode(),
                query='multipart-manifest=put&heartbeat=on')


def test_heartbeat_upload_answers_202_then_the_outcome(app, swift):
    resp = heartbeat_put(app, [seg('/v1/a/s/one')],
                         {'Accept': 'application/json'})
    assert resp.status_int == 202
    assert resp.content_type == 'application/json'
    assert resp.body.startswith(b' ') and b'\r\n\r\n' in resp.body
    outcome = json.loads(resp.body.split(b'\r\n\r\n', 1)[1])
    assert outcome['Response Status'] == '201 Created'
    assert outcome['Errors'] == [] and 'Last Modified' in outcome
    assert outcome['Etag'] == '"%s"' % etag_of(
        etag_of(SEGS['/v1/a/s/one']).encode())
    assert '/v1/a/c/hb' in swift.objects


def test_heartbeat_upload_reports_problems_in_plain_text(app, swift):
    resp = heartbeat_put(app, [seg('/v1/a/s/one'), {'path': 'no/such'}])
    assert resp.status_int == 202
    lines = resp.body.split(b'\r\n\r\n', 1)[1].decode().split('\n')
    assert 'Response Status: 400 Bad Request' in lines
    assert 'Response Body: Bad Request' in lines
    assert lines[-3:] == ['Errors:', 'no/such, 404 Not Found', '']
    assert '/v1/a/c/hb' not in swift.objects
    resp = heartbeat_put(app, [seg('/v1/a/s/one')],
                         {'Etag': 'wrong', 'Accept': 'application/json'})
    outcome = json.loads(resp.body.split(b'\r\n\r\n', 1)[1])
    assert outcome['Response Status'] == '422 Unprocessable Entity'


def test_heartbeat_whitespace_while_segments_are_checked(swift,
                                                        monkeypatch):
    app = slo.StaticLargeObject(swift, {'yield_frequency': '0.01'})
    real = app.uploader._head

    def slow_head(*args):
        eventlet.sleep(0.05)
        return real(*args)
    monkeypatch.setattr(app.uploader, '_head', slow_head)
    resp = heartbeat_put(app, [seg('/v1/a/s/one')])
    assert resp.body.index(b'\r\n\r\n') > 2      # several spaces first
    assert b'Response Status: 201 Created' in resp.body


def test_copy_from_header_with_raw_utf8(app, swift):
    put_manifest(app, '/v1/a/c/%C3%A9t%C3%A9', [seg('/v1/a/s/one')])
    # X-Copy-From's UTF-8 bytes reach the WSGI environ as latin-1
    resp = call(ServerSideCopy(app, {}), '/v1/a/c/flat', 'PUT', body=b'',
                env={'HTTP_X_COPY_FROM': 'c/\xc3\xa9t\xc3\xa9'})
    assert resp.status_int == 201, resp.body
    assert swift.objects['/v1/a/c/flat'][1] == SEGS['/v1/a/s/one']


def test_ten_levels_of_manifests_are_read_and_an_eleventh_is_409(
        app, manifest):
    """Swift counts the manifest asked for as level 1 of 10."""
    inner, inner_etag = '/c/big', SLO_ETAG
    for level in range(2, 12):
        path = '/v1/a/c/level%d' % level
        resp = put_manifest(app, path, [
            {'path': inner, 'etag': inner_etag, 'size_bytes': 23}])
        assert resp.status_int == 201, resp.body
        head = call(app, path, 'HEAD')
        inner, inner_etag = path[len('/v1/a'):], \
            head.headers['Etag'].strip('"')
    # level10 holds 9 manifests below it, 10 with itself: readable
    assert call(app, '/v1/a/c/level10').body == WHOLE
    assert call(app, '/v1/a/c/level11').status_int == 409
