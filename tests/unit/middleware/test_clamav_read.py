"""The clamav filter's SLO-manifest and scan-on-read paths (real clamd).

The app behind the filter is a small object store in a dict: GET answers
with the stored body (and verdict sysmeta), in small chunks so the
hold-back of the last chunk can be seen; PUT stores the body and the
verdict headers it carries.  Verdict updates to the nodes are captured
by replacing ``update_replicas``.
"""
import json
import logging

import eventlet
import pytest
from webob import Request

from tests.clamd_fixture import clamd  # noqa: F401

from middleware import clamav, clamav_read, clamav_verdict
from middleware.clamav_read import ScanAborted
from objproxy.common.clamd import EICAR_TEST_FILE


class Store(object):
    """Objects by path; GETs are served 10 bytes at a time."""

    object_ring = 'ring'
    pool = 'pool'
    conn_timeout = node_timeout = 1

    def __init__(self):
        self.objects = {}
        self.puts = []

    def __call__(self, env, start_response):
        path = env['PATH_INFO']
        if env['REQUEST_METHOD'] == 'PUT':
            body = env['wsgi.input'].read()
            meta = dict((k, v) for k, v in env.items()
                        if k.startswith('HTTP_X_OBJECT_SYSMETA_AV_'))
            self.objects[path] = (body, meta)
            self.puts.append(path)
            start_response('201 Created', [('Content-Length', '0')])
            return [b'']
        if path not in self.objects:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        body, meta = self.objects[path]
        headers = [('Content-Length', str(len(body)))]
        headers += [(k[5:].replace('_', '-').title(), v)
                    for k, v in meta.items()]
        rng = env.get('HTTP_RANGE')
        if rng:
            start, end = rng.split('=')[1].split('-')
            body = body[int(start):int(end) + 1]
            headers[0] = ('Content-Length', str(len(body)))
            start_response('206 Partial Content', headers)
        else:
            start_response('200 OK', headers)
        return [body[i:i + 10] for i in range(0, len(body), 10)]


@pytest.fixture
def setup(clamd, monkeypatch):
    updates = []

    def fake_update(pool, ring, account, container, obj, headers, *a):
        updates.append(((account, container, obj), headers))
        return 3
    monkeypatch.setattr(clamav_verdict, 'update_replicas', fake_update)
    monkeypatch.setattr(eventlet, 'spawn_n', lambda fn, *a: fn(*a))
    store = Store()
    logger = logging.getLogger('test.clamav.reads')
    filt = clamav.ClamavFilter(store, {
        'clamd_socket': clamd.socket_path, 'timeout': '5',
        'scan_timeout': '30'}, logger=logger)
    filt._pipeline_final_app = store     # as the pipeline loader sets it
    return filt, store, updates


def request(filt, method, path, body=b'', query='', headers=None):
    req = Request.blank(path + ('?' + query if query else ''),
                        environ={'REQUEST_METHOD': method},
                        headers=headers or {},
                        body=body.encode() if isinstance(body, str) else body)
    return req.get_response(filt)


def stream_get(filt, path, headers=None):
    """GET through the filter as a server would: (status, bytes got,
    whether the body ended in an abort)."""
    env = Request.blank(path, headers=headers or {}).environ
    seen = []
    body = filt(env, lambda status, hdrs, exc=None: seen.append(status))
    got = b''
    try:
        for piece in body:
            got += piece
    except ScanAborted:
        return seen[0], got, True
    return seen[0], got, False


def test_a_signature_split_across_slo_segments_is_caught(setup):
    filt, store, _updates = setup
    for i in range(0, len(EICAR_TEST_FILE), 10):
        store.objects['/v1/a/segs/%03d' % i] = (EICAR_TEST_FILE[i:i + 10],
                                                {})
    manifest = [{'path': '/segs/%03d' % i}
                for i in range(0, len(EICAR_TEST_FILE), 10)]
    resp = request(filt, 'PUT', '/v1/a/c/eicar', json.dumps(manifest),
                   'multipart-manifest=put')
    assert resp.status_int == 403
    assert b'large object' in resp.body and b'EICAR' in resp.body
    assert '/v1/a/c/eicar' not in store.objects


def test_a_clean_slo_manifest_goes_on_labelled_with_its_body(setup):
    filt, store, _updates = setup
    store.objects['/v1/a/segs/1'] = (b'hello ', {})
    manifest = json.dumps([{'path': '/segs/1'},
                           {'data': 'd29ybGQ='}]).encode()
    resp = request(filt, 'PUT', '/v1/a/c/m', manifest,
                   'multipart-manifest=put')
    assert resp.status_int == 201
    body, meta = store.objects['/v1/a/c/m']
    assert body == manifest
    assert meta['HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == 'clean'
    assert meta['HTTP_X_OBJECT_SYSMETA_AV_SIGNATURES']


def test_a_ranged_segment_is_scanned_as_listed(setup):
    filt, store, _updates = setup
    store.objects['/v1/a/segs/x'] = (b'pad' + EICAR_TEST_FILE + b'pad', {})
    manifest = [{'path': '/segs/x', 'range': '0-9'}]
    resp = request(filt, 'PUT', '/v1/a/c/m', json.dumps(manifest),
                   'multipart-manifest=put')
    assert resp.status_int == 201       # the listed bytes are harmless


def test_an_oversize_slo_follows_the_oversize_policy(setup):
    filt, store, _updates = setup
    filt.max_scan_size = 10
    store.objects['/v1/a/segs/1'] = (b'x' * 8, {})
    manifest = json.dumps([{'path': '/segs/1'}] * 2)
    resp = request(filt, 'PUT', '/v1/a/c/m', manifest,
                   'multipart-manifest=put')
    assert resp.status_int == 413
    filt.oversize = 'allow'
    resp = request(filt, 'PUT', '/v1/a/c/m', manifest,
                   'multipart-manifest=put')
    assert resp.status_int == 201
    assert store.objects['/v1/a/c/m'][1][
        'HTTP_X_OBJECT_SYSMETA_AV_VERDICT'] == 'unscanned; oversize'


def test_a_manifest_naming_a_missing_segment_is_left_to_slo(setup):
    filt, store, _updates = setup
    resp = request(filt, 'PUT', '/v1/a/c/m', json.dumps([
        {'path': '/segs/none'}]), 'multipart-manifest=put')
    assert resp.status_int == 201     # the store stands in for slo here
    assert 'HTTP_X_OBJECT_SYSMETA_AV_VERDICT' not in \
        store.objects['/v1/a/c/m'][1]


def test_an_unscanned_infected_object_is_cut_off_and_marked(setup):
    filt, store, updates = setup
    data = b'z' * 25 + EICAR_TEST_FILE
    store.objects['/v1/a/c/old'] = (data, {})
    status, got, aborted = stream_get(filt, '/v1/a/c/old')
    assert status.startswith('200')
    assert aborted and len(got) < len(data)
    assert updates[0][0] == ('a', 'c', 'old')
    assert updates[0][1]['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    assert 'EICAR' in updates[0][1]['X-Object-Sysmeta-Av-Found']


def test_an_unscanned_clean_object_is_served_whole_and_recorded(setup):
    filt, store, updates = setup
    store.objects['/v1/a/c/old'] = (b'q' * 95, {})
    status, got, aborted = stream_get(filt, '/v1/a/c/old')
    assert not aborted and got == b'q' * 95
    assert updates[0][1]['X-Object-Sysmeta-Av-Verdict'] == 'clean'
    assert updates[0][1]['X-Object-Sysmeta-Av-Signatures']


def test_a_current_verdict_is_not_rescanned_and_head_never_scans(setup):
    filt, store, updates = setup
    store.objects['/v1/a/c/ok'] = (b'fine', {
        'HTTP_X_OBJECT_SYSMETA_AV_VERDICT': 'clean'})
    assert stream_get(filt, '/v1/a/c/ok')[1] == b'fine'
    store.objects['/v1/a/c/new'] = (b'never scanned', {})
    assert request(filt, 'HEAD', '/v1/a/c/new').status_int == 200
    assert updates == []


def test_stale_policy_rescans_verdicts_of_older_signatures(setup):
    filt, store, updates = setup
    filt.scan_on_read = 'stale'
    store.objects['/v1/a/c/ok'] = (b'fine', {
        'HTTP_X_OBJECT_SYSMETA_AV_VERDICT': 'clean',
        'HTTP_X_OBJECT_SYSMETA_AV_SIGNATURES': 'db:0000'})
    assert stream_get(filt, '/v1/a/c/ok')[1] == b'fine'
    assert len(updates) == 1


def test_a_ranged_read_of_an_unscanned_object_needs_a_full_scan(setup):
    filt, store, updates = setup
    store.objects['/v1/a/c/bad'] = (b'x' * 30 + EICAR_TEST_FILE, {})
    resp = request(filt, 'GET', '/v1/a/c/bad', headers={'Range': 'bytes=0-9'})
    assert resp.status_int == 403
    assert updates[0][1]['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    store.objects['/v1/a/c/good'] = (b'y' * 40, {})
    resp = request(filt, 'GET', '/v1/a/c/good',
                   headers={'Range': 'bytes=0-9'})
    assert resp.status_int == 206 and resp.body == b'y' * 10


def test_an_object_marked_infected_is_refused(setup):
    filt, store, _updates = setup
    store.objects['/v1/a/c/bad'] = (b'whatever', {
        'HTTP_X_OBJECT_SYSMETA_AV_VERDICT': 'infected',
        'HTTP_X_OBJECT_SYSMETA_AV_FOUND': 'Test.Sig'})
    resp = request(filt, 'GET', '/v1/a/c/bad')
    assert resp.status_int == 403 and b'Test.Sig' in resp.body
    filt.deny_infected_reads = False
    assert request(filt, 'GET', '/v1/a/c/bad').body == b'whatever'


@pytest.mark.parametrize('verdict,signatures,policy,expected', [
    (None, None, 'missing', True),
    ('unscanned; oversize', None, 'missing', True),
    ('clean', 'db:1', 'missing', False),
    ('clean', 'db:1', 'stale', True),
    ('clean', 'db:2', 'stale', False),
    ('infected', 'db:1', 'always', True),
    (None, None, 'never', False),
])
def test_which_verdicts_need_a_scan(verdict, signatures, policy, expected):
    assert clamav_verdict.needs_scan(verdict, signatures, 'db:2',
                                     policy) is expected


def test_subrequests_keep_the_clients_identity():
    env = {'REQUEST_METHOD': 'PUT', 'PATH_INFO': '/v1/a/c/o',
           'HTTP_X_AUTH_TOKEN': 't', 'swift.authorize': len,
           'HTTP_RANGE': 'bytes=1-2', 'QUERY_STRING': 'x=1'}
    sub = clamav_read.subrequest_env(env, path='/v1/a/s/1')
    assert sub['HTTP_X_AUTH_TOKEN'] == 't' and sub['swift.authorize'] is len
    assert 'HTTP_RANGE' not in sub and sub['QUERY_STRING'] == ''
    assert sub['REQUEST_METHOD'] == 'GET'


class FakeStatsd(object):
    def __init__(self):
        self.sent = []

    def increment(self, name):
        self.sent.append((name, 1))

    def update_stats(self, name, amount):
        self.sent.append((name, amount))

    def timing(self, name, ms):
        self.sent.append((name, 'ms'))


def test_scans_are_counted_and_timed(setup):
    filt, store, _updates = setup
    statsd = FakeStatsd()
    filt.metrics = clamav_verdict.Metrics(statsd)
    assert request(filt, 'PUT', '/v1/a/c/x', b'hello').status_int == 201
    assert request(filt, 'PUT', '/v1/a/c/y', EICAR_TEST_FILE).status_int \
        == 403
    assert ('scanned', 1) in statsd.sent and ('clean', 1) in statsd.sent
    assert ('infected', 1) in statsd.sent and ('bytes', 5) in statsd.sent
    assert ('scan_time', 'ms') in statsd.sent


def test_statsd_uses_swifts_option_names():
    client = clamav_verdict.statsd_from_conf({
        'log_statsd_host': '127.0.0.1', 'log_statsd_port': '8125',
        'log_statsd_metric_prefix': 'proxy01'})
    assert client.prefix == 'proxy01.clamav.'
    assert clamav_verdict.statsd_from_conf({}) is None


def test_a_verdict_is_not_recorded_on_the_wrong_object(setup):
    """A symlink's target or an old version is scanned on read, but its
    verdict is not written onto the object the path names."""
    filt, store, updates = setup
    store.objects['/v1/a/c/old'] = (b'q' * 30, {})
    env = Request.blank('/v1/a/c/old?version-id=1700000000.00000').environ
    body = filt(env, lambda *args: None)
    assert b''.join(body) == b'q' * 30
    assert updates == []
