"""dlo filter logic against a small in-memory Swift (FakeSwift).

FakeSwift is reused by test_slo.py: objects and listings in a dict, the
real range/conditional rules (objproxy.common.ranges), an optional
``swift.authorize`` hook honoured like the proxy does, and fault injection
(fail before headers, break a body mid-stream, stale listings).
"""
import hashlib
import io
import json
import logging
from urllib.parse import parse_qs

import pytest
from webob import Request, Response

from middleware import dlo, large_objects
from middleware.copy import ServerSideCopy
from objproxy.common import constraints
from objproxy.common.paths import split_path
from objproxy.common import ranges

LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT'


class FakeSwift(object):
    def __init__(self, chunk=4):
        self.objects = {}   # path -> (headers, body)
        self.calls = []     # (method, path, query, env)
        self.fail_before_headers = {}   # path -> [status, ...]
        self.break_after = {}           # path -> bytes sent before error
        self.stale_hash = {}            # path -> hash the listing shows
        self.chunk = chunk

    def put(self, path, body=b'', **headers):
        stored = dict((k.lower().replace('_', '-'), v)
                      for k, v in headers.items())
        stored.setdefault('content-type', 'application/octet-stream')
        stored['etag'] = hashlib.md5(body).hexdigest()
        self.objects[path] = (stored, body)
        return stored['etag']

    def __call__(self, env, start_response):
        method = env['REQUEST_METHOD']
        path = env['PATH_INFO']
        query = env.get('QUERY_STRING', '')
        self.calls.append((method, path, query, env))
        authorize = env.get('swift.authorize')
        if authorize:
            denial = authorize(Request(env))
            if denial is not None:
                return denial(env, start_response)
        failures = self.fail_before_headers.get(path)
        if failures:
            status = failures.pop(0)
            return Response(status=status)(env, start_response)
        _v, _a, container, obj = split_path(path, 3, 4, True)
        if obj is None:
            return self.listing(env, path, query, start_response)
        handler = getattr(self, 'do_' + method)
        return handler(env, path, start_response)

    def listing(self, env, path, query, start_response):
        args = parse_qs(query)
        prefix = args.get('prefix', [''])[0]
        marker = args.get('marker', [''])[0]
        limit = constraints.LIMITS['container_listing_limit']
        names = sorted(p[len(path) + 1:] for p in self.objects
                       if p.startswith(path + '/'))
        names = [n for n in names if n.startswith(prefix) and n > marker]
        out = []
        for name in names[:limit]:
            headers, body = self.objects[path + '/' + name]
            out.append({'name': name, 'bytes': len(body),
                        'hash': self.stale_hash.get(path + '/' + name,
                                                    headers['etag']),
                        'content_type': headers['content-type']})
        body = json.dumps(out).encode()
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', str(len(body)))])
        return [body]

    def _headers(self, stored, body):
        out = [('Last-Modified', LAST_MODIFIED),
               ('X-Trans-Id', 'txfake')]
        for key, value in stored.items():
            out.append((key.title() if key != 'etag' else 'Etag', value))
        return out

    def do_HEAD(self, env, path, start_response):
        if path not in self.objects:
            return Response(status=404)(env, start_response)
        stored, body = self.objects[path]
        start_response('200 OK', self._headers(stored, body) + [
            ('Content-Length', str(len(body)))])
        return []

    def do_GET(self, env, path, start_response):
        if path not in self.objects:
            return Response(status=404)(env, start_response)
        stored, body = self.objects[path]
        headers = self._headers(stored, body)
        cond = ranges.evaluate_conditions(env, stored['etag'], 0, 'GET')
        if cond:
            start_response('%d Cond' % cond, headers[:1])
            return []
        wanted = ranges.parse_range(env.get('HTTP_RANGE'), len(body))
        status = '200 OK'
        if wanted == []:
            start_response('416 Bad Range', [])
            return []
        if wanted:
            first, stop = wanted[0]
            body = body[first:stop]
            status = '206 Partial Content'
            headers.append(('Content-Range', ranges.content_range(
                first, stop, len(self.objects[path][1]))))
        start_response(status, headers + [('Content-Length',
                                           str(len(body)))])
        return self._chunks(path, body)

    def _chunks(self, path, body):
        limit = self.break_after.get(path)
        for start in range(0, len(body), self.chunk):
            if limit is not None and start >= limit:
                raise IOError('node died')
            yield body[start:start + self.chunk]

    def do_PUT(self, env, path, start_response):
        length = env.get('CONTENT_LENGTH')
        data = env['wsgi.input'].read(int(length)) if length else \
            env['wsgi.input'].read()
        headers = {}
        for key, value in env.items():
            if key.startswith('HTTP_X_OBJECT_') or key in (
                    'HTTP_X_STATIC_LARGE_OBJECT',):
                headers[key[5:].lower().replace('_', '-')] = value
        if env.get('CONTENT_TYPE'):
            headers['content-type'] = env['CONTENT_TYPE']
        etag = hashlib.md5(data).hexdigest()
        if env.get('HTTP_ETAG') and env['HTTP_ETAG'].strip('"') != etag:
            return Response(status=422)(env, start_response)
        self.put(path, data, **headers)
        start_response('201 Created', [('Etag', etag),
                                       ('Content-Length', '0')])
        return []

    def do_DELETE(self, env, path, start_response):
        if self.objects.pop(path, None) is None:
            return Response(status=404)(env, start_response)
        start_response('204 No Content', [])
        return []

    def methods(self, method):
        return [c for c in self.calls if c[0] == method]


class ListLogger(logging.Logger):
    def __init__(self):
        super().__init__('test')
        self.lines = []

    def _log(self, level, msg, args, **kwargs):
        self.lines.append(msg % args)


def call(app, path, method='GET', headers=None, body=None, query='',
         env=None):
    req = Request.blank(path, method=method, headers=headers or {},
                        environ=dict(env or {}))
    if query:
        req.query_string = query
    req.environ.setdefault('swift.trans_id', 'tx-test')
    if body is not None:
        req.body = body
    status, headers, body_iter = req.call_application(app)
    try:
        body = b''.join(body_iter)
    finally:
        close = getattr(body_iter, 'close', None)
        if close:
            close()
    # a short body (a failed segment) is what the client would see
    resp = Response(status=status, body=body)
    resp.headerlist = list(headers)
    return resp


@pytest.fixture
def swift():
    fake = FakeSwift()
    fake.put('/v1/a/c/man', b'', x_object_manifest='segs/p/')
    fake.put('/v1/a/segs/p/1', b'aaaaa')
    fake.put('/v1/a/segs/p/2', b'bbbbbbb')
    fake.put('/v1/a/segs/p/3', b'ccc')
    fake.put('/v1/a/segs/other', b'NOT PART')
    return fake


@pytest.fixture
def logger():
    return ListLogger()


@pytest.fixture
def app(swift, logger):
    return dlo.DynamicLargeObject(swift, {}, logger=logger)


WHOLE = b'aaaaabbbbbbbccc'


def dlo_etag(swift):
    return hashlib.md5(''.join(
        swift.objects['/v1/a/segs/p/%d' % i][0]['etag']
        for i in (1, 2, 3)).encode()).hexdigest()


def test_get_joins_segments_with_whole_etag_and_length(app, swift):
    resp = call(app, '/v1/a/c/man')
    assert resp.status_int == 200
    assert resp.body == WHOLE
    assert resp.headers['Content-Length'] == str(len(WHOLE))
    assert resp.headers['Etag'] == '"%s"' % dlo_etag(swift)
    assert resp.headers['X-Object-Manifest'] == 'segs/p/'
    head = call(app, '/v1/a/c/man', 'HEAD')
    assert head.headers['Content-Length'] == str(len(WHOLE))
    assert head.headers['Etag'] == resp.headers['Etag']


def test_subrequests_act_as_the_client(app, swift):
    seen = []

    def authorize(req):
        seen.append((req.path_info, req.environ.get('swift.source')))
        return None
    call(app, '/v1/a/c/man', headers={'X-Auth-Token': 'tok'},
         env={'swift.authorize': authorize})
    subs = [c for c in swift.calls if c[3].get('swift.source') == 'DLO']
    assert subs and all(c[3]['HTTP_X_AUTH_TOKEN'] == 'tok' and
                        c[3]['swift.trans_id'] == 'tx-test' for c in subs)
    assert ('/v1/a/segs', 'DLO') in seen
    assert ('/v1/a/segs/p/2', 'DLO') in seen


def test_unreadable_segment_container_is_403(app, swift):
    def authorize(req):
        if req.path_info.startswith('/v1/a/segs'):
            return Response(status=403, body=b'Forbidden')
        return None
    resp = call(app, '/v1/a/c/man', env={'swift.authorize': authorize})
    assert resp.status_int == 403
    assert WHOLE not in resp.body


def test_plain_objects_pass_through_untouched(app, swift):
    resp = call(app, '/v1/a/segs/other', headers={'Range': 'bytes=1-2'})
    assert (resp.status_int, resp.body) == (206, b'OT')
    assert len(swift.calls) == 1


def test_multipart_manifest_get_returns_the_manifest(app, swift):
    resp = call(app, '/v1/a/c/man', query='multipart-manifest=get')
    assert (resp.status_int, resp.body) == (200, b'')
    assert resp.headers['Etag'] == hashlib.md5(b'').hexdigest()


@pytest.mark.parametrize('spec,status,body', [
    ('bytes=3-8', 206, WHOLE[3:9]),        # crosses a segment boundary
    ('bytes=-4', 206, WHOLE[-4:]),
    ('bytes=12-', 206, WHOLE[12:]),
    ('bytes=5-11', 206, WHOLE[5:12]),       # exactly one segment
    ('bytes=99-', 416, None),
    ('bytes=x-y', 200, WHOLE),             # malformed: ignored
])
def test_ranges_over_the_whole_object(app, spec, status, body):
    resp = call(app, '/v1/a/c/man', headers={'Range': spec})
    assert resp.status_int == status
    if body is not None:
        assert resp.body == body
    if status == 206:
        assert resp.headers['Content-Range'].endswith('/%d' % len(WHOLE))
    if status == 416:
        assert resp.headers['Content-Range'] == 'bytes */%d' % len(WHOLE)


@pytest.mark.parametrize('spec', ['bytes=0-1,10-13', 'bytes=90-91,95-'])
def test_multiple_ranges_get_the_whole_object(app, spec):
    resp = call(app, '/v1/a/c/man', headers={'Range': spec})
    assert (resp.status_int, resp.body) == (200, WHOLE)
    assert 'Content-Range' not in resp.headers


def test_conditional_requests_use_the_dlo_etag(app, swift):
    etag = '"%s"' % dlo_etag(swift)
    assert call(app, '/v1/a/c/man',
                headers={'If-None-Match': etag}).status_int == 304
    assert call(app, '/v1/a/c/man',
                headers={'If-Match': '"other"'}).status_int == 412
    resp = call(app, '/v1/a/c/man', headers={'If-Match': etag})
    assert (resp.status_int, resp.body) == (200, WHOLE)
    # the manifest's own (empty-body) ETag is not the object's
    manifest_etag = hashlib.md5(b'').hexdigest()
    resp = call(app, '/v1/a/c/man', headers={'If-Match': manifest_etag})
    assert resp.status_int == 412


def test_listing_pages_past_the_limit(app, swift, monkeypatch):
    monkeypatch.setitem(constraints.LIMITS, 'container_listing_limit', 2)
    for i in range(4, 8):
        swift.put('/v1/a/segs/p/%d' % i, b'%d' % i)
    resp = call(app, '/v1/a/c/man')
    assert resp.body == WHOLE + b'4567'
    assert resp.headers['Content-Length'] == str(len(WHOLE) + 4)
    listings = [c for c in swift.calls if c[1] == '/v1/a/segs']
    # pass 1 for length/ETag, pass 2 while streaming: 4 pages each
    assert len(listings) == 8
    assert 'marker=p%2F2' in listings[1][2]


def test_changed_segment_cuts_the_body_and_logs(app, swift, logger):
    swift.stale_hash['/v1/a/segs/p/2'] = 'f' * 32
    resp = call(app, '/v1/a/c/man')
    assert resp.status_int == 200
    assert resp.body == b'aaaaa'       # stops before the changed segment
    assert any('ETag' in line and 'tx-test' in line
               for line in logger.lines)


def test_missing_segment_cuts_the_body(app, swift, logger):
    req = Request.blank('/v1/a/c/man')
    req.environ['swift.trans_id'] = 'tx-gone'
    status, headers, body_iter = req.call_application(app)
    del swift.objects['/v1/a/segs/p/2']   # deleted after the listing
    assert b''.join(body_iter) == b'aaaaa'
    assert any('404' in line and 'tx-gone' in line for line in logger.lines)


def test_segment_failing_before_headers_is_retried_once(app, swift):
    swift.fail_before_headers['/v1/a/segs/p/2'] = [503]
    assert call(app, '/v1/a/c/man').body == WHOLE
    swift.fail_before_headers['/v1/a/segs/p/2'] = [503, 503]
    assert call(app, '/v1/a/c/man').body == b'aaaaa'


def test_segment_failing_mid_stream_ends_cleanly(app, swift, logger):
    swift.break_after['/v1/a/segs/p/2'] = 4
    resp = call(app, '/v1/a/c/man')
    assert resp.body == b'aaaaabbbb'
    assert any('read failed' in line for line in logger.lines)


def test_body_is_streamed_lazily_past_the_first_segment(app, swift):
    """Only the first segment is opened (and one chunk of it read) before
    the status goes out, so an unreadable first segment can still be a
    409; the rest streams as the client reads."""
    status, headers, body_iter = Request.blank(
        '/v1/a/c/man').call_application(app)
    gets_before = [c[1] for c in swift.methods('GET')]
    assert '/v1/a/segs/p/1' in gets_before
    assert '/v1/a/segs/p/2' not in gets_before
    first = next(iter(body_iter))
    assert first == b'aaaa'        # one backend chunk, not a segment
    got = [c[1] for c in swift.methods('GET')]
    assert '/v1/a/segs/p/1' in got and '/v1/a/segs/p/2' not in got
    body_iter.close()


def test_put_with_a_bad_manifest_header_is_400(app, swift):
    resp = call(app, '/v1/a/c/x', 'PUT', {'X-Object-Manifest': 'nocontainer'},
                b'')
    assert resp.status_int == 400
    assert not swift.methods('PUT')
    resp = call(app, '/v1/a/c/x', 'PUT', {'X-Object-Manifest': 'c/pre'}, b'')
    assert resp.status_int == 201


def test_copy_of_a_manifest_copies_the_content(app, swift):
    """The copy filter reads the source through dlo: the joined content."""
    app = ServerSideCopy(app, {})
    resp = call(app, '/v1/a/c/man', 'COPY', {'Destination': 'c/flat'})
    assert resp.status_int == 201
    assert resp.headers['X-Copied-From'] == 'c/man'
    stored, body = swift.objects['/v1/a/c/flat']
    assert body == WHOLE and 'x-object-manifest' not in stored
    resp = call(app, '/v1/a/c/copy2', 'PUT', {'X-Copy-From': '/c/man'}, b'')
    assert swift.objects['/v1/a/c/copy2'][1] == WHOLE
    # ?multipart-manifest=get copies the manifest object itself
    resp = call(app, '/v1/a/c/man', 'COPY', {'Destination': 'c/m2'},
                query='multipart-manifest=get')
    assert resp.status_int == 201
    stored, body = swift.objects['/v1/a/c/m2']
    assert body == b'' and stored['x-object-manifest'] == 'segs/p/'


def test_empty_prefix_is_an_empty_object(app, swift):
    swift.put('/v1/a/c/empty', b'', x_object_manifest='segs/nothing')
    resp = call(app, '/v1/a/c/empty')
    assert (resp.status_int, resp.body) == (200, b'')
    assert resp.headers['Etag'] == '"%s"' % hashlib.md5(b'').hexdigest()


def test_filter_factory_registers_info():
    from objproxy.common import registry
    registry.clear_info()
    dlo.filter_factory({}, max_get_time='600')
    assert registry.get_info()['dlo'] == {'max_get_time': 600}
    from objproxy.common.exceptions import ConfigError
    with pytest.raises(ConfigError):
        dlo.filter_factory({}, bogus='1')


def test_make_subrequest_env_copies_identity_not_body():
    env = Request.blank('/v1/a/c/o', method='PUT', headers={
        'X-Auth-Token': 't', 'X-Object-Meta-A': 'b'}).environ
    env['swift.authorize'] = object()
    env['wsgi.input'] = io.BytesIO(b'secret')
    sub = large_objects.make_subrequest_env(env, 'GET', '/v1/a/c2/o2', source='SLO')
    assert sub['HTTP_X_AUTH_TOKEN'] == 't'
    assert sub['swift.authorize'] is env['swift.authorize']
    assert sub['swift.source'] == 'SLO'
    assert 'HTTP_X_OBJECT_META_A' not in sub
    assert sub['wsgi.input'].read() == b''


def test_rate_limit_after_some_segments(swift, monkeypatch):
    sleeps = []
    monkeypatch.setattr(large_objects.eventlet, 'sleep', sleeps.append)
    app = dlo.DynamicLargeObject(swift, {
        'rate_limit_after_segment': '1', 'rate_limit_segments_per_sec': '2'})
    assert call(app, '/v1/a/c/man').body == WHOLE
    assert len(sleeps) == 2 and all(0 < s <= 1.0 for s in sleeps)
