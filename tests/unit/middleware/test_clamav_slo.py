"""ManifestScanner: an SLO manifest PUT is judged on the joined bytes of
its segments, read as the client through the rest of the pipeline.

The filter is the real ClamavFilter talking to a real clamd (EICAR test
signature); the app behind it is a dict of objects that records every
request it sees, so the segment GETs and the manifest PUT can be checked.
"""
import base64
import io
import json
import logging

import pytest
from webob import Request

from middleware import clamav, clamav_slo
from middleware.clamav_slo import MAX_MANIFEST, read_body, segments
from objproxy.common.clamd import EICAR_TEST_FILE
from tests import clamd_fixture
from tests.unit.middleware.closing_body import ClosingBody
from tests.unit.middleware.fake_clamd import FakeClamd

clamd = clamd_fixture.clamd

HALF = len(EICAR_TEST_FILE) // 2


class Segments(object):
    """Objects by path; GETs answer (ranged when asked) in 7-byte pieces."""

    def __init__(self, objects=None):
        self.objects = dict(objects or {})
        self.requests = []
        self.closed = 0

    def __call__(self, env, start_response):
        self.requests.append(dict(env))
        if env['REQUEST_METHOD'] == 'PUT':
            self.requests[-1]['body'] = env['wsgi.input'].read()
            start_response('201 Created', [('Content-Length', '0')])
            return [b'']
        body = self.objects.get(env['PATH_INFO'])
        if body is None:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        status = '200 OK'
        if env.get('HTTP_RANGE'):
            first, last = env['HTTP_RANGE'].split('=')[1].split('-')
            body = body[int(first):int(last) + 1]
            status = '206 Partial Content'
        start_response(status, [('Content-Length', str(len(body)))])
        return ClosingBody(self, [body[i:i + 7]
                                  for i in range(0, len(body), 7)])

    def gets(self):
        return [r for r in self.requests if r['REQUEST_METHOD'] == 'GET']

    def put(self):
        puts = [r for r in self.requests if r['REQUEST_METHOD'] == 'PUT']
        assert len(puts) == 1
        return puts[0]


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def make_filter(socket_path, app, **options):
    logger = logging.getLogger('test.clamav_slo.%d' % id(app))
    lines = Lines()
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    conf = {'clamd_socket': socket_path, 'timeout': '5',
            'scan_timeout': '30'}
    conf.update(options)
    return clamav.ClamavFilter(app, conf, logger=logger), lines.lines


def put_manifest(filt, manifest, headers=None, chunked=False):
    body = manifest if isinstance(manifest, bytes) else \
        json.dumps(manifest).encode()
    req = Request.blank('/v1/AUTH_a/c/big?multipart-manifest=put',
                        environ={'REQUEST_METHOD': 'PUT',
                                 'HTTP_X_TRANS_ID': 'tx-slo-1'},
                        headers=headers or {}, body=body)
    if chunked:
        req.environ.pop('CONTENT_LENGTH')
        req.environ['HTTP_TRANSFER_ENCODING'] = 'chunked'
    return req.get_response(filt)


# --- the pure helpers -------------------------------------------------------

class Trickle(object):
    """A request body that hands out at most 3 bytes per read."""

    def __init__(self, data):
        self.data = data
        self.reads = 0

    def read(self, size):
        self.reads += 1
        piece, self.data = self.data[:min(size, 3)], self.data[min(size, 3):]
        return piece


def test_read_body_gathers_short_reads_until_the_end():
    source = Trickle(b'0123456789')
    assert read_body({'wsgi.input': source}, 100) == b'0123456789'


def test_read_body_stops_one_byte_past_the_limit():
    source = Trickle(b'x' * 50)
    got = read_body({'wsgi.input': source}, 10)
    assert got == b'x' * 11
    assert source.data == b'x' * 39


@pytest.mark.parametrize('body, expected', [
    (b'[{"path": "/c/o"}]', [{'path': '/c/o'}]),
    (b'[]', []),
    (b'not json', None),
    (b'{"path": "/c/o"}', None),
    (b'[{"path": "/c/o"}, "x"]', None),
    (b'[' * 100000 + b']' * 100000, None),
], ids=['list', 'empty', 'garbage', 'object', 'non-dict-entry', 'deep'])
def test_segments_accepts_only_a_list_of_objects(body, expected):
    assert segments(body) == expected


# --- verdicts on the joined content ------------------------------------------

def test_a_signature_split_over_a_segment_and_inline_data_is_refused(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': EICAR_TEST_FILE[:HALF]})
    filt, lines = make_filter(clamd.socket_path, app)
    tail = base64.b64encode(EICAR_TEST_FILE[HALF:]).decode()
    resp = put_manifest(filt, [{'path': '/segs/1'}, {'data': tail}])
    assert resp.status_int == 403
    assert b'large object' in resp.body
    assert b'Objproxy.Test.EICAR' in resp.body
    assert [r['REQUEST_METHOD'] for r in app.requests] == ['GET']
    infected = [line for line in lines if 'infected large object' in line]
    assert len(infected) == 1
    for part in ('txn=tx-slo-1', 'account=AUTH_a', 'container=c',
                 'object=big'):
        assert part in infected[0]
    assert filt.slots.balance == filt.max_concurrent_scans


def test_only_the_listed_range_of_a_segment_is_scanned(clamd):
    # the signature is in the stored segment but outside the listed range
    stored = b'harmless prefix ' + EICAR_TEST_FILE
    app = Segments({'/v1/AUTH_a/segs/x': stored})
    filt, _lines = make_filter(clamd.socket_path, app)
    resp = put_manifest(filt, [{'path': '/segs/x', 'range': '0-15'}])
    assert resp.status_int == 201
    assert app.gets()[0]['HTTP_RANGE'] == 'bytes=0-15'
    assert app.put()['HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == 'clean'


def test_a_clean_manifest_goes_on_unchanged_with_a_clean_label(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': b'hello ',
                    '/v1/AUTH_a/segs/2': b'world'})
    filt, _lines = make_filter(clamd.socket_path, app)
    manifest = [{'path': '/segs/1'}, {'path': 'segs/2'}]
    resp = put_manifest(filt, manifest, chunked=True)
    assert resp.status_int == 201
    put = app.put()
    assert put['body'] == json.dumps(manifest).encode()
    # the body was read whole, so it goes on with a length, not chunked
    assert put['CONTENT_LENGTH'] == str(len(put['body']))
    assert 'HTTP_TRANSFER_ENCODING' not in put
    assert put['HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == 'clean'
    assert put['HTTP_X_OBJECT_SYSMETA_AV_ENGINE'].startswith('ClamAV ')
    assert put['HTTP_X_OBJECT_SYSMETA_AV_SIGNATURES']
    assert [g['PATH_INFO'] for g in app.gets()] == [
        '/v1/AUTH_a/segs/1', '/v1/AUTH_a/segs/2']
    assert app.closed == 2


def test_segments_are_read_as_the_client_and_without_its_conditions(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': b'data'})
    filt, _lines = make_filter(clamd.socket_path, app)
    resp = put_manifest(filt, [{'path': '/segs/1'}], headers={
        'X-Auth-Token': 'tok', 'If-None-Match': '*', 'Range': 'bytes=0-1'})
    assert resp.status_int == 201
    get = app.gets()[0]
    assert get['HTTP_X_AUTH_TOKEN'] == 'tok'
    assert get['QUERY_STRING'] == ''
    assert get['swift.source'] == 'AV'
    assert 'HTTP_IF_NONE_MATCH' not in get and 'HTTP_RANGE' not in get


# --- manifests left to the slo filter -----------------------------------------

@pytest.mark.parametrize('manifest', [
    [{'path': '/segs/missing'}],
    [{'path': 'no-container'}],
    [{'path': '/'}],
    [{'path': 17}],
    [{'size_bytes': 5}],
    [{'data': 'not base64!'}],
], ids=['missing', 'no-container', 'root', 'not-a-string', 'no-path',
        'bad-base64'])
def test_an_unreadable_segment_passes_the_manifest_on_without_a_verdict(
        clamd, manifest):
    app = Segments()
    filt, _lines = make_filter(clamd.socket_path, app)
    resp = put_manifest(filt, manifest)
    assert resp.status_int == 201
    put = app.put()
    assert put['body'] == json.dumps(manifest).encode()
    assert 'HTTP_X_OBJECT_SYSMETA_AV_VERDICT' not in put
    assert filt.slots.balance == filt.max_concurrent_scans


def test_a_manifest_that_is_not_a_list_is_passed_on_without_a_scan(tmp_path):
    # no clamd at all: nothing may try to reach it
    app = Segments()
    filt, _lines = make_filter(str(tmp_path / 'none.sock'), app)
    resp = put_manifest(filt, b'{"not": "a list"}')
    assert resp.status_int == 201
    assert app.put()['body'] == b'{"not": "a list"}'
    assert 'HTTP_X_OBJECT_SYSMETA_AV_VERDICT' not in app.put()


def test_a_manifest_past_the_size_limit_is_passed_on_unparsed(tmp_path):
    app = Segments()
    filt, _lines = make_filter(str(tmp_path / 'none.sock'), app)
    big = b'[' + b' ' * MAX_MANIFEST + b']'
    resp = put_manifest(filt, big)
    assert resp.status_int == 201
    put = app.put()
    # reading stopped just past the limit: enough for slo to refuse it
    assert put['body'] == big[:MAX_MANIFEST + 1]
    assert put['CONTENT_LENGTH'] == str(MAX_MANIFEST + 1)
    assert app.gets() == []


def test_a_manifest_just_under_the_size_limit_is_still_scanned(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': EICAR_TEST_FILE})
    filt, _lines = make_filter(clamd.socket_path, app)
    listing = b'[{"path": "/segs/1"}]'
    padded = listing + b' ' * (MAX_MANIFEST - 1 - len(listing))
    resp = put_manifest(filt, padded)
    assert resp.status_int == 403
    assert len(app.gets()) == 1


# --- size, clamd and slot failures ---------------------------------------------

def test_an_oversize_slo_is_refused_before_its_last_segment(clamd):
    app = Segments({'/v1/AUTH_a/segs/%d' % i: b'x' * 600 for i in range(3)})
    filt, _lines = make_filter(clamd.socket_path, app, max_scan_size='1000')
    resp = put_manifest(filt, [{'path': '/segs/%d' % i} for i in range(3)])
    assert resp.status_int == 413
    assert len(app.gets()) == 2
    assert app.closed == 2
    assert filt.slots.balance == filt.max_concurrent_scans


def test_an_oversize_slo_allowed_is_stored_labelled_oversize(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': b'x' * 600})
    filt, _lines = make_filter(clamd.socket_path, app, max_scan_size='1000',
                               oversize='allow')
    resp = put_manifest(filt, [{'path': '/segs/1'}] * 2)
    assert resp.status_int == 201
    assert app.put()['HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == \
        clamav.LABEL_OVERSIZE


def test_clamd_unreachable_refuses_the_manifest(tmp_path):
    app = Segments({'/v1/AUTH_a/segs/1': b'abc'})
    filt, lines = make_filter(str(tmp_path / 'none.sock'), app)
    resp = put_manifest(filt, [{'path': '/segs/1'}])
    assert resp.status_int == 503
    assert b'scanner is unavailable' in resp.body
    assert app.requests == []
    assert any('refusing manifest' in line and 'tx-slo-1' in line
               for line in lines)
    assert filt.slots.balance == filt.max_concurrent_scans


def test_clamd_unreachable_allowed_stores_the_manifest_unscanned(tmp_path):
    app = Segments({'/v1/AUTH_a/segs/1': EICAR_TEST_FILE})
    filt, _lines = make_filter(str(tmp_path / 'none.sock'), app,
                               on_error='allow')
    resp = put_manifest(filt, [{'path': '/segs/1'}])
    assert resp.status_int == 201
    assert app.gets() == []
    assert app.put()['HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == \
        clamav.LABEL_UNAVAILABLE


@pytest.mark.parametrize('on_error', ['refuse', 'allow'])
def test_a_scan_that_fails_after_starting_is_refused(tmp_path, on_error):
    fake = FakeClamd(str(tmp_path / 'fake.sock'), instream='close')
    try:
        app = Segments({'/v1/AUTH_a/segs/1': b'abc'})
        filt, lines = make_filter(fake.socket_path, app, on_error=on_error)
        resp = put_manifest(filt, [{'path': '/segs/1'}])
    finally:
        fake.close()
    assert resp.status_int == 503
    assert b'could not be completed' in resp.body
    assert [r['REQUEST_METHOD'] for r in app.requests] == ['GET']
    assert any('scan of manifest failed' in line for line in lines)


def test_no_free_scan_slot_answers_503_without_reading_segments(clamd):
    app = Segments({'/v1/AUTH_a/segs/1': b'abc'})
    filt, lines = make_filter(clamd.socket_path, app,
                              max_concurrent_scans='1',
                              scan_queue_timeout='0')
    assert filt.slots.acquire(blocking=False)
    try:
        resp = put_manifest(filt, [{'path': '/segs/1'}])
    finally:
        filt.slots.release()
    assert resp.status_int == 503
    assert app.requests == []
    assert any('no free scan slot for manifest' in line for line in lines)


def test_the_scanner_is_what_the_filter_uses_for_manifests(clamd):
    filt, _lines = make_filter(clamd.socket_path, Segments())
    assert isinstance(filt.manifests, clamav_slo.ManifestScanner)
    assert filt.manifests.f is filt


def test_the_manifest_body_stays_readable_by_the_app(clamd):
    # what the scanner read must be handed on, not consumed
    app = Segments({'/v1/AUTH_a/segs/1': b'abc'})
    filt, _lines = make_filter(clamd.socket_path, app)
    env = Request.blank('/v1/AUTH_a/c/big', environ={
        'REQUEST_METHOD': 'PUT',
        'QUERY_STRING': 'multipart-manifest=put',
        'wsgi.input': Trickle(b'[{"path": "/segs/1"}]')}).environ
    env['CONTENT_LENGTH'] = '21'
    seen = []
    filt(env, lambda status, headers, exc=None: seen.append(status))
    assert seen == ['201 Created']
    assert isinstance(env['wsgi.input'], io.BytesIO)
    assert app.put()['body'] == b'[{"path": "/segs/1"}]'
