"""slo_put: ManifestUpload called directly, the slo filter around it only
as the app that segment HEADs go through (test_dlo's FakeSwift below)."""
import hashlib
import json

import pytest
from webob import Request

from middleware import slo
from middleware.large_objects import object_path
from middleware.slo_put import EXPLAIN, ManifestUpload
from tests.unit.middleware.test_dlo import FakeSwift, ListLogger

SEGS = {'/v1/a/s/one': b'1111', '/v1/a/s/two': b'22', '/v1/a/s/three': b'3'}
OVERRIDE = 'x-object-sysmeta-container-update-override-etag'


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def swift():
    fake = FakeSwift()
    for path, body in SEGS.items():
        fake.put(path, body)
    return fake


def make(swift, **conf):
    filt = slo.StaticLargeObject(swift, conf, logger=ListLogger())
    upload = ManifestUpload(filt)

    def app(env, start_response):
        return upload(env, start_response, object_path(env))
    return app


def seg(path, **extra):
    item = {'path': path[len('/v1/a'):], 'etag': md5(SEGS[path]),
            'size_bytes': len(SEGS[path])}
    item.update(extra)
    return item


def put(app, segments, path='/v1/a/c/big', query='multipart-manifest=put',
        **headers):
    body = segments if isinstance(segments, bytes) else \
        json.dumps(segments).encode()
    req = Request.blank(path + '?' + query, method='PUT', body=body,
                        headers=headers)
    return req.get_response(app)


def slo_etag_of(*paths):
    return md5(''.join(md5(SEGS[p]) for p in paths).encode())


def test_manifest_is_stored_with_sysmeta_and_answers_the_slo_etag(swift):
    resp = put(make(swift), [seg('/v1/a/s/one'), seg('/v1/a/s/two')],
               **{'Content-Type': 'video/mp4'})
    assert resp.status_int == 201
    etag = slo_etag_of('/v1/a/s/one', '/v1/a/s/two')
    assert resp.headers['Etag'] == '"%s"' % etag
    stored, body = swift.objects['/v1/a/c/big']
    entries = json.loads(body)
    assert [(e['name'], e['bytes'], e['hash']) for e in entries] == [
        ('/s/one', 4, md5(b'1111')), ('/s/two', 2, md5(b'22'))]
    assert stored['x-static-large-object'] == 'True'
    assert stored['content-type'] == 'video/mp4;swift_bytes=6'
    assert stored['x-object-sysmeta-slo-etag'] == etag
    assert stored['x-object-sysmeta-slo-size'] == '6'
    assert stored[OVERRIDE] == '%s; slo_etag=%s' % (md5(body), etag)


def test_segment_heads_are_made_once_per_path_as_the_client(swift):
    resp = put(make(swift), [seg('/v1/a/s/one'), seg('/v1/a/s/two'),
                             seg('/v1/a/s/one')],
               **{'X-Auth-Token': 'AUTH_tk'})
    assert resp.status_int == 201
    heads = swift.methods('HEAD')
    assert sorted(c[1] for c in heads) == ['/v1/a/s/one', '/v1/a/s/two']
    assert all(c[3]['HTTP_X_AUTH_TOKEN'] == 'AUTH_tk' for c in heads)
    assert all(c[3]['swift.source'] == 'SLO' for c in heads)


def test_content_type_is_guessed_when_the_client_sent_none(swift):
    req = Request.blank('/v1/a/c/movie.mp4?multipart-manifest=put',
                        method='PUT',
                        body=json.dumps([seg('/v1/a/s/one')]).encode())
    req.environ['CONTENT_TYPE'] = 'text/plain'     # eventlet's default
    req.environ['headers_raw'] = ()
    assert req.get_response(make(swift)).status_int == 201
    assert swift.objects['/v1/a/c/movie.mp4'][0]['content-type'] == \
        'video/mp4;swift_bytes=4'


def test_detect_content_type_overrides_the_sent_one(swift):
    resp = put(make(swift), [seg('/v1/a/s/one')], path='/v1/a/c/x.unknown',
               **{'Content-Type': 'text/plain',
                  'X-Detect-Content-Type': 'true'})
    assert resp.status_int == 201
    assert swift.objects['/v1/a/c/x.unknown'][0]['content-type'] == \
        'application/octet-stream;swift_bytes=4'


def test_an_override_etag_set_further_left_keeps_its_parameters(swift):
    resp = put(make(swift), [seg('/v1/a/s/one')], **{
        'X-Object-Sysmeta-Container-Update-Override-Etag':
            'abc; symlink_target=c/o'})
    assert resp.status_int == 201
    assert swift.objects['/v1/a/c/big'][0][OVERRIDE] == \
        'abc; symlink_target=c/o; slo_etag=%s' % slo_etag_of('/v1/a/s/one')


def test_copy_of_a_manifest_put_is_405(swift):
    resp = put(make(swift), [seg('/v1/a/s/one')],
               **{'X-Copy-From': 'c/other'})
    assert resp.status_int == 405
    assert '/v1/a/c/big' not in swift.objects


def test_too_many_object_segments_is_413(swift):
    resp = put(make(swift, max_manifest_segments='1'),
               [seg('/v1/a/s/one'), seg('/v1/a/s/two')])
    assert resp.status_int == 413
    assert resp.body == b'Number of object-backed segments must be <= 1'


def test_bad_manifest_document_is_400(swift):
    resp = put(make(swift), b'{"path": "/s/one"}')
    assert (resp.status_int, resp.body) == (400, b'Manifest must be a list.\n')


def test_every_bad_segment_is_listed_in_the_accepted_format(swift):
    resp = put(make(swift), [
        seg('/v1/a/s/one', size_bytes=5), {'path': '/s/missing'},
        seg('/v1/a/s/two', etag='0' * 32)],
        **{'Accept': 'application/json'})
    assert resp.status_int == 400
    assert resp.content_type == 'application/json'
    assert json.loads(resp.body)['Errors'] == [
        ['/s/one', 'Size Mismatch'], ['/s/missing', '404 Not Found'],
        ['/s/two', 'Etag Mismatch']]
    assert '/v1/a/c/big' not in swift.objects


def test_segments_below_min_segment_size_except_the_last(swift):
    app = make(swift, min_segment_size='3')
    resp = put(app, [seg('/v1/a/s/two'), seg('/v1/a/s/one')])
    assert resp.status_int == 400
    assert b'/s/two, Too small; each segment must be at least 3 bytes.' in \
        resp.body
    assert put(app, [seg('/v1/a/s/one'), seg('/v1/a/s/three')]) \
        .status_int == 201


def test_client_etag_must_be_the_slo_etag(swift):
    app = make(swift)
    resp = put(app, [seg('/v1/a/s/one')], Etag='"%s"' % ('0' * 32))
    assert resp.status_int == 422
    assert resp.body == EXPLAIN[422].encode()
    good = put(app, [seg('/v1/a/s/one')],
               Etag='"%s"' % slo_etag_of('/v1/a/s/one'))
    assert good.status_int == 201


def test_a_failed_store_passes_the_backends_status_on(swift):
    swift.fail_before_headers['/v1/a/c/big'] = [503]
    resp = put(make(swift), [seg('/v1/a/s/one')])
    assert resp.status_int == 503
    assert 'Etag' not in resp.headers


def test_nested_manifest_is_described_with_its_whole_size(swift):
    app = make(swift)
    assert put(app, [seg('/v1/a/s/one'), seg('/v1/a/s/two')],
               path='/v1/a/s/inner').status_int == 201
    inner_etag = slo_etag_of('/v1/a/s/one', '/v1/a/s/two')
    resp = put(app, [{'path': '/s/inner'}, seg('/v1/a/s/three')],
               path='/v1/a/c/outer')
    assert resp.status_int == 201
    entries = json.loads(swift.objects['/v1/a/c/outer'][1])
    assert entries[0]['name'] == '/s/inner'
    assert entries[0]['bytes'] == 6
    assert entries[0]['hash'] == inner_etag
    assert entries[0]['sub_slo'] is True


def test_inline_data_segments_are_kept_and_counted(swift):
    resp = put(make(swift), [{'data': 'aGVhZA'}, seg('/v1/a/s/one')])
    assert resp.status_int == 201
    stored, body = swift.objects['/v1/a/c/big']
    assert json.loads(body)[0] == {'data': 'aGVhZA=='}
    assert stored['x-object-sysmeta-slo-size'] == '8'


def test_heartbeat_answers_202_then_the_outcome(swift):
    resp = put(make(swift), [seg('/v1/a/s/one')],
               query='multipart-manifest=put&heartbeat=on',
               **{'Accept': 'application/json'})
    assert resp.status_int == 202
    assert resp.body.startswith(b' ')
    head, _, tail = resp.body.partition(b'\r\n\r\n')
    assert head.strip() == b''
    result = json.loads(tail)
    assert result['Response Status'] == '201 Created'
    assert result['Etag'] == '"%s"' % slo_etag_of('/v1/a/s/one')
    # the fake store's PUT answer carries no Last-Modified to show
    assert result['Last Modified'] == ''
    assert result['Errors'] == []


def test_heartbeat_reports_bad_segments_in_the_body(swift):
    resp = put(make(swift), [{'path': '/s/missing'}],
               query='multipart-manifest=put&heartbeat=on',
               **{'Accept': 'application/json'})
    assert resp.status_int == 202
    result = json.loads(resp.body.partition(b'\r\n\r\n')[2])
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == EXPLAIN[400]
    assert result['Errors'] == [['/s/missing', '404 Not Found']]
