"""The segment machinery dlo and slo share (middleware/large_objects.py),
tested on its own: segment streaming, range arithmetic over segments,
rate limiting, and what happens when a segment fails."""
import hashlib
import logging

import pytest
from webob import Request

from middleware import large_objects as lo
from middleware.large_objects import Piece, SegmentStreamer


class Segments(object):
    """A WSGI app serving named byte strings, honouring single ranges;
    records every request it gets."""

    def __init__(self, objects, fail=None):
        self.objects = objects
        self.fail = fail or {}     # path -> status to answer instead
        self.calls = []

    def __call__(self, env, start_response):
        path = env['PATH_INFO']
        self.calls.append((env['REQUEST_METHOD'], path, env.get('HTTP_RANGE'),
                           env.get('swift.source')))
        if path in self.fail:
            start_response('%d Failed' % self.fail[path], [])
            return [b'']
        data = self.objects.get(path)
        if data is None:
            start_response('404 Not Found', [('Content-Length', '0')])
            return [b'']
        etag = hashlib.md5(data).hexdigest()
        rng = env.get('HTTP_RANGE')
        if rng:
            first, last = rng.split('=')[1].split('-')
            body = data[int(first):int(last) + 1]
            start_response('206 Partial Content', [
                ('Etag', '"%s"' % etag), ('Content-Length', str(len(body)))])
        else:
            body = data
            start_response('200 OK', [('Etag', etag),
                                      ('Content-Length', str(len(body)))])
        # in small chunks: the streamer must stitch them
        return [body[i:i + 3] for i in range(0, len(body), 3)]


def md5(data):
    return hashlib.md5(data).hexdigest()


SEGS = {'/v1/a/c/s1': b'0123456789', '/v1/a/c/s2': b'abcdefghij',
        '/v1/a/c/s3': b'KLMNO'}
ENTRIES = [(path, len(data), md5(data)) for path, data in sorted(
    SEGS.items())]


def stream(app, pieces, **kwargs):
    streamer = SegmentStreamer(app, {'swift.trans_id': 'tx1'}, pieces,
                               logging.getLogger('test'), 'SLO', '/v1/a/c/m',
                               **kwargs)
    return streamer, b''.join(streamer)


# -- range arithmetic over segments ---------------------------------------

def test_window_inside_one_segment():
    assert list(lo.pieces_in_window(ENTRIES, 12, 15)) == [
        Piece('/v1/a/c/s2', 2, 5, 10, md5(SEGS['/v1/a/c/s2']))]


def test_window_across_segment_boundaries():
    pieces = list(lo.pieces_in_window(ENTRIES, 8, 22))
    assert [(p.path, p.first, p.stop) for p in pieces] == [
        ('/v1/a/c/s1', 8, 10), ('/v1/a/c/s2', 0, 10), ('/v1/a/c/s3', 0, 2)]


def test_whole_object_window_and_empty_segments_skipped():
    entries = [('/e', 0, None)] + ENTRIES
    pieces = list(lo.pieces_in_window(entries, 0, 25))
    assert [(p.path, p.first, p.stop) for p in pieces] == [
        ('/v1/a/c/s1', 0, 10), ('/v1/a/c/s2', 0, 10), ('/v1/a/c/s3', 0, 5)]


def test_window_stops_reading_entries_once_covered():
    seen = []

    def entries():
        for entry in ENTRIES:
            seen.append(entry[0])
            yield entry
    list(lo.pieces_in_window(entries(), 0, 10))
    assert seen == ['/v1/a/c/s1']


# -- streaming -------------------------------------------------------------

def test_streams_whole_segments_in_order_without_range_headers():
    app = Segments(SEGS)
    streamer, body = stream(app, lo.pieces_in_window(ENTRIES, 0, 25))
    assert body == b'0123456789abcdefghijKLMNO'
    assert streamer.failed is None
    assert [(c[1], c[2], c[3]) for c in app.calls] == [
        ('/v1/a/c/s1', None, 'SLO'), ('/v1/a/c/s2', None, 'SLO'),
        ('/v1/a/c/s3', None, 'SLO')]


def test_partial_segments_are_fetched_with_a_range():
    app = Segments(SEGS)
    streamer, body = stream(app, lo.pieces_in_window(ENTRIES, 8, 22))
    assert body == b'89abcdefghijKL'
    assert [c[2] for c in app.calls] == ['bytes=8-9', None, 'bytes=0-1']


def test_inline_data_needs_no_subrequest():
    app = Segments(SEGS)
    pieces = [Piece(None, 1, 4, 5, None, b'hello'),
              Piece('/v1/a/c/s3', 0, 5, 5, None)]
    _streamer, body = stream(app, pieces)
    assert body == b'ellKLMNO'
    assert len(app.calls) == 1


def test_first_segment_problem_is_known_before_headers():
    app = Segments(SEGS)
    pieces = [Piece('/v1/a/c/gone', 0, 5, 5, None)]
    streamer = SegmentStreamer(app, {}, pieces, logging.getLogger('t'),
                               'DLO', '/v1/a/c/m')
    assert streamer.first_segment_ok() is False
    assert 'gone' in streamer.failed


def test_peeked_first_chunk_is_not_lost():
    app = Segments(SEGS)
    streamer = SegmentStreamer(app, {}, list(lo.pieces_in_window(
        ENTRIES, 0, 10)), logging.getLogger('t'), 'DLO', '/v1/a/c/m')
    assert streamer.first_segment_ok() is True
    assert b''.join(streamer) == b'0123456789'


# -- errors ---------------------------------------------------------------

def test_etag_mismatch_cuts_the_body_short(caplog):
    app = Segments(SEGS)
    pieces = [Piece('/v1/a/c/s1', 0, 10, 10, md5(b'0123456789')),
              Piece('/v1/a/c/s2', 0, 10, 10, 'not-the-etag')]
    streamer, body = stream(app, pieces)
    assert body == b'0123456789'
    assert 'does not match' in streamer.failed
    assert 'body cut short (txn tx1)' in caplog.text


def test_short_segment_is_an_error():
    app = Segments(SEGS)
    # the manifest says 12 bytes, the segment has 10
    streamer, body = stream(app, [Piece('/v1/a/c/s1', 0, 12, None, None)])
    assert body == b'0123456789'
    assert streamer.failed.endswith('2 bytes short')


def test_range_not_honoured_is_an_error():
    class NoRanges(Segments):
        def __call__(self, env, start_response):
            env.pop('HTTP_RANGE', None)
            return super().__call__(env, start_response)
    streamer, body = stream(NoRanges(SEGS),
                            [Piece('/v1/a/c/s1', 2, 4, 10, None)])
    assert body == b''
    assert 'range not honoured' in streamer.failed


def test_server_error_is_retried_once_then_reported():
    app = Segments(SEGS, fail={'/v1/a/c/s2': 503})
    streamer, body = stream(app, lo.pieces_in_window(ENTRIES, 0, 25))
    assert body == b'0123456789'
    assert [c[1] for c in app.calls] == [
        '/v1/a/c/s1', '/v1/a/c/s2', '/v1/a/c/s2']
    assert '503' in streamer.failed


def test_client_error_is_not_retried():
    app = Segments(SEGS, fail={'/v1/a/c/s1': 403})
    streamer, body = stream(app, lo.pieces_in_window(ENTRIES, 0, 25))
    assert body == b''
    assert len(app.calls) == 1
    assert '403' in streamer.failed


def test_read_failure_mid_segment_is_reported_with_the_offset():
    def broken(env, start_response):
        start_response('200 OK', [])

        def body():
            yield b'abc'
            raise IOError('disk gone')
        return body()
    streamer, body = stream(broken, [Piece('/x', 0, 10, 10, None)])
    assert body == b'abc'
    assert 'read failed after 3 bytes: disk gone' in streamer.failed


def test_max_get_time_stops_the_stream(monkeypatch):
    # the start, the first segment, then the second one, much later
    times = [100.0, 100.0]
    monkeypatch.setattr(lo.time, 'time',
                        lambda: times.pop(0) if times else 200.0)
    streamer, body = stream(Segments(SEGS),
                            lo.pieces_in_window(ENTRIES, 0, 25),
                            max_get_time=50)
    assert body == b'0123456789'
    assert 'max_get_time of 50s exceeded' in streamer.failed


# -- rate limiting ---------------------------------------------------------

def rate_limited(monkeypatch, pieces, **kwargs):
    slept = []
    monkeypatch.setattr(lo.time, 'time', lambda: 1000.0)
    monkeypatch.setattr(lo.eventlet, 'sleep', slept.append)
    stream(Segments({'/s': b'x' * 10, '/big': b'y' * 100}), pieces,
           **kwargs)
    return slept


def test_segments_after_the_first_n_are_paced(monkeypatch):
    pieces = [Piece('/s', 0, 10, 10, None)] * 5
    slept = rate_limited(monkeypatch, pieces, rate_limit_after=2,
                         rate_per_sec=2.0)
    # segments 3, 4, 5 are due 0.5, 1.0 and 1.5 s after the start
    assert slept == [0.5, 1.0, 1.5]


def test_no_pacing_when_rate_is_zero(monkeypatch):
    pieces = [Piece('/s', 0, 10, 10, None)] * 5
    assert rate_limited(monkeypatch, pieces, rate_limit_after=0,
                        rate_per_sec=0) == []


def test_only_small_segments_count_towards_the_limit(monkeypatch):
    pieces = [Piece('/big', 0, 100, 100, None)] * 4 + \
        [Piece('/s', 0, 10, 10, None)] * 2
    slept = rate_limited(monkeypatch, pieces, rate_limit_after=1,
                         rate_per_sec=1.0, rate_limit_under_size=50)
    assert slept == [1.0]


# -- answers built over the whole object -----------------------------------

def whole_object(env_extra=None, method='GET'):
    data = b'0123456789abcdefghijKLMNO'
    env = Request.blank('/v1/a/c/m', environ=dict(
        {'REQUEST_METHOD': method}, **(env_extra or {}))).environ
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = status
        out['headers'] = dict(headers)

    class Body(list):
        def close(self):
            pass

    def body_for_window(start, stop):
        return Body([data[start:stop]])
    body = b''.join(lo.ranged_response(
        env, start_response, method, [('Content-Type', 'text/plain')],
        len(data), 'text/plain', body_for_window))
    return out['status'], out['headers'], body


def test_ranged_response_single_range():
    status, headers, body = whole_object({'HTTP_RANGE': 'bytes=8-11'})
    assert status == '206 Partial Content'
    assert body == b'89ab'
    assert headers['Content-Range'] == 'bytes 8-11/25'
    assert headers['Content-Length'] == '4'


def test_ranged_response_unsatisfiable_range():
    status, headers, _body = whole_object({'HTTP_RANGE': 'bytes=30-40'})
    assert status == '416 Requested Range Not Satisfiable'
    assert headers['Content-Range'] == 'bytes */25'


def test_ranged_response_head_has_the_whole_length_and_no_body():
    status, headers, body = whole_object(method='HEAD')
    assert status == '200 OK'
    assert headers['Content-Length'] == '25'
    assert body == b''


def test_ranged_response_several_ranges_are_multipart():
    status, headers, body = whole_object({'HTTP_RANGE': 'bytes=0-1,20-21'})
    assert status == '206 Partial Content'
    assert headers['Content-Type'].startswith('multipart/byteranges')
    assert b'01' in body and b'KL' in body
    assert len(body) == int(headers['Content-Length'])


@pytest.mark.parametrize('header,status', [
    ({'HTTP_IF_NONE_MATCH': '"abc"'}, '304 Not Modified'),
    ({'HTTP_IF_MATCH': '"other"'}, '412 Precondition Failed')])
def test_conditional_response(header, status):
    env = Request.blank('/v1/a/c/m', environ=header).environ
    out = {}

    def start_response(status, headers, exc_info=None):
        out['status'] = status
    body = lo.conditional_response(
        env, start_response, 'GET', 'abc', 'Thu, 01 Jan 1970 00:00:10 GMT',
        [('Content-Type', 'text/plain'), ('ETag', '"abc"')])
    assert body is not None
    b''.join(body)
    assert out['status'] == status


def test_no_conditions_no_answer():
    env = Request.blank('/v1/a/c/m').environ
    assert lo.conditional_response(
        env, None, 'GET', 'abc', 'Thu, 01 Jan 1970 00:00:10 GMT', []) is None
