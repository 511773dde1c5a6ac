"""Segment machinery shared by the dlo and slo filters.

Why a module of its own: both kinds of large object are served the same
way -- subrequests built from the client's environ (same token, same
``swift.authorize``, ``swift.source`` set) and sent down the rest of the
pipeline, segments streamed one after another in the proxy's chunks,
and ranges and conditional requests answered over the whole object --
and only the way the segments are found differs (a container listing for
DLO, a JSON manifest for SLO).
"""
import io
import time
from collections import namedtuple
from urllib.parse import parse_qs, quote

import eventlet

from objproxy.common.config import config_true_value
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.response import (
    Response, error_response, is_server_error, is_success)
from objproxy.common import ranges

# Environ keys a subrequest inherits from the client's request: identity
# and authorization, transaction id, caches, WSGI plumbing.
SUBREQUEST_ENV_KEYS = (
    'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'HTTP_HOST',
    'HTTP_USER_AGENT', 'HTTP_REFERER', 'HTTP_ORIGIN', 'REMOTE_ADDR',
    'REMOTE_USER', 'HTTP_X_AUTH_TOKEN', 'HTTP_X_STORAGE_TOKEN',
    'HTTP_X_SERVICE_TOKEN', 'HTTP_X_TRANS_ID_EXTRA', 'HTTP_X_USER_ID',
    'HTTP_X_PROJECT_ID', 'swift.trans_id', 'swift.authorize',
    'swift.authorize_override', 'swift.clean_acl', 'swift.cache',
    'swift.infocache', 'reseller_request', 'wsgi.version',
    'wsgi.url_scheme', 'wsgi.errors', 'wsgi.multithread',
    'wsgi.multiprocess', 'wsgi.run_once',
)
CONDITIONAL_ENV = ('HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH',
                   'HTTP_IF_MODIFIED_SINCE', 'HTTP_IF_UNMODIFIED_SINCE',
                   'HTTP_RANGE')
# Response headers recomputed for the whole object.
WHOLE_OBJECT_DROP = ('content-length', 'etag', 'content-range',
                     'transfer-encoding', 'accept-ranges')
LISTING_BODY_LIMIT = 64 * 1024 * 1024
# how deep SLO manifests may nest
MAX_NESTING = 10


class SegmentError(Exception):
    """A segment could not be served as the manifest describes it."""


class ListingError(Exception):
    """A container listing for a DLO failed; carries the status."""

    def __init__(self, status, body=b''):
        super().__init__('listing failed with %s' % status)
        self.status = status
        self.body = body


# A byte span of one segment: path (WSGI string), first byte, stop
# (exclusive), the segment's whole size (None: unknown) and its expected
# ETag (None: unchecked); or of bytes inlined in the manifest (data, with
# path None), which are served without a subrequest.
Piece = namedtuple('Piece', 'path first stop size etag data',
                   defaults=(None,))


def trans_id(env):
    return env.get('swift.trans_id') or env.get('HTTP_X_TRANS_ID') or '-'


def make_subrequest_env(env, method, path, query_string='', headers=None,
                        source='DLO', body=None, content_length=None):
    """A fresh environ for a subrequest made on behalf of ``env``'s client.

    ``path`` is a WSGI (latin-1) PATH_INFO; ``body`` a file-like object.
    """
    new = dict((key, env[key]) for key in SUBREQUEST_ENV_KEYS if key in env)
    new.update({
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'PATH_INFO': path,
        'QUERY_STRING': query_string,
        'swift.source': source,
        'wsgi.input': body if body is not None else io.BytesIO(b''),
    })
    if content_length is not None:
        new['CONTENT_LENGTH'] = str(content_length)
    elif body is None:
        new['CONTENT_LENGTH'] = '0'
    for key, value in (headers or {}).items():
        name = key.upper().replace('-', '_')
        if name not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            name = 'HTTP_' + name
        new[name] = value
    return new


class SubResponse(object):
    """Status, headers and body iterator of an in-process WSGI call."""

    def __init__(self, status, header_list, app_iter, closer):
        self.status = status
        self.status_int = int(status.split(' ', 1)[0])
        self.header_list = list(header_list)
        self.headers = dict((k.lower(), v) for k, v in self.header_list)
        self.app_iter = app_iter
        self._closer = closer

    @property
    def ok(self):
        return is_success(self.status_int)

    def read(self, limit):
        """The whole body, or ValueError when it exceeds ``limit``."""
        parts = []
        size = 0
        try:
            for chunk in self.app_iter:
                size += len(chunk)
                if size > limit:
                    raise ValueError('body larger than %d bytes' % limit)
                parts.append(chunk)
        finally:
            self.close()
        return b''.join(parts)

    def drain(self, limit=65536):
        """Read a small body we do not need (so the access log below us
        records the real status, not a client disconnect), then close."""
        try:
            size = 0
            for chunk in self.app_iter:
                size += len(chunk)
                if size > limit:
                    break
        except Exception:
            pass
        self.close()

    def close(self):
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


def call_app(app, env):
    """Call a WSGI app in-process; a SubResponse (body not yet read)."""
    state = {}

    def start_response(status, headers, exc_info=None):
        state['status'] = status
        state['headers'] = headers
        return _no_write

    body = app(env, start_response)
    closer = getattr(body, 'close', None) or (lambda: None)
    iterator = iter(body)
    first = []
    if 'status' not in state:
        for chunk in iterator:
            if chunk:
                first.append(chunk)
            if 'status' in state:
                break
    if 'status' not in state:
        closer()
        raise SegmentError('the app never started a response')

    def chained():
        for chunk in first:
            yield chunk
        for chunk in iterator:
            yield chunk
    return SubResponse(state['status'], state['headers'], chained(), closer)


def _no_write(data):
    raise NotImplementedError('write() is not supported in subrequests')


def unquote_etag(value):
    value = (value or '').strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def is_slo(headers):
    return config_true_value(headers.get('x-static-large-object'))


def has_conditions(env):
    return any(key in env for key in CONDITIONAL_ENV)


def multipart_manifest(env):
    query = parse_qs(env.get('QUERY_STRING', ''))
    return query.get('multipart-manifest', [''])[0]


def object_path(env):
    """(version, account, container, obj) as text, or None."""
    try:
        path = wsgi_to_str(env.get('PATH_INFO', ''))
        parts = split_path(path, 4, 4, True)
    except (PathError, ValueError):
        return None
    if not all(parts):
        return None
    return parts


def fetch_segment(app, env, piece, source):
    """GET one segment span; retried once if it fails before headers."""
    headers = {}
    if piece.first != 0 or piece.size is None or piece.stop != piece.size:
        headers['Range'] = 'bytes=%d-%d' % (piece.first, piece.stop - 1)
    resp = None
    failure = None
    for _attempt in range(2):
        sub = make_subrequest_env(env, 'GET', piece.path, headers=headers,
                                  source=source)
        try:
            resp = call_app(app, sub)
        except Exception as err:  # a failure before any header
            failure = err
            resp = None
            continue
        if not is_server_error(resp.status_int):
            return resp
        resp.drain()
    if resp is None:
        raise SegmentError('could not fetch %s: %s'
                           % (wsgi_to_str(piece.path), failure))
    return resp


class SegmentStreamer(object):
    """Stream pieces of segments in order; stop cleanly on any problem."""

    def __init__(self, app, env, pieces, logger, source, what,
                 max_get_time=86400, rate_limit_after=10,
                 rate_per_sec=1.0, rate_limit_under_size=None):
        self.app = app
        self.env = env
        self.pieces = pieces
        self.logger = logger
        self.source = source
        self.what = what
        self.max_get_time = max_get_time
        self.rate_limit_after = rate_limit_after
        self.rate_per_sec = rate_per_sec
        # only segments smaller than this count (None: every segment)
        self.rate_limit_under_size = rate_limit_under_size
        self.failed = None
        self._gen = self._run()
        self._peeked = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._peeked is not None:
            chunk, self._peeked = self._peeked, None
            return chunk
        return next(self._gen)

    def first_segment_ok(self):
        """Read the first bytes before any header is sent.

        A first segment that cannot be read (gone, forbidden to this
        client, changed) is then a 409, as in Swift, instead of a 200 whose
        body stops at byte 0; later segments can only cut the body short.
        """
        if self._peeked is None and self.failed is None:
            try:
                self._peeked = next(self._gen)
            except StopIteration:
                pass
        return self.failed is None

    def close(self):
        """Client gone: release the segment being read at once."""
        self._gen.close()

    def _run(self):
        started = time.time()
        count = 0
        try:
            for piece in self.pieces:
                if piece.data is not None:
                    # already in memory: no subrequest, no rate limit
                    if piece.stop > piece.first:
                        yield piece.data[piece.first:piece.stop]
                    continue
                under = self.rate_limit_under_size
                if under is None or piece.size is None or piece.size < under:
                    count += 1
                now = time.time()
                if now - started > self.max_get_time:
                    raise SegmentError('max_get_time of %ss exceeded'
                                       % self.max_get_time)
                if self.rate_per_sec > 0 and count > self.rate_limit_after:
                    due = started + (count - self.rate_limit_after) / \
                        self.rate_per_sec
                    if due > now:
                        eventlet.sleep(due - now)
                for chunk in self._stream(piece):
                    yield chunk
        except SegmentError as err:
            self.failed = str(err)
            self.logger.error('%s %s: %s; body cut short (txn %s)',
                              self.source, self.what, err,
                              trans_id(self.env))

    def _stream(self, piece):
        resp = fetch_segment(self.app, self.env, piece, self.source)
        name = wsgi_to_str(piece.path)
        try:
            if not resp.ok:
                raise SegmentError('segment %s: %s' % (name, resp.status))
            etag = unquote_etag(resp.headers.get('etag'))
            if piece.etag and etag != piece.etag:
                raise SegmentError('segment %s: ETag %s does not match %s'
                                   % (name, etag, piece.etag))
            want = piece.stop - piece.first
            if resp.status_int == 200 and piece.first != 0:
                raise SegmentError('segment %s: range not honoured' % name)
            sent = 0
            try:
                for chunk in resp.app_iter:
                    if sent + len(chunk) > want:
                        chunk = chunk[:want - sent]
                    sent += len(chunk)
                    if chunk:
                        yield chunk
                    if sent >= want:
                        break
            except SegmentError:
                raise
            except Exception as err:
                raise SegmentError('segment %s: read failed after %d bytes:'
                                   ' %s' % (name, sent,
                                            err or type(err).__name__))
            if sent < want:
                raise SegmentError('segment %s: %d bytes short'
                                   % (name, want - sent))
        finally:
            resp.close()


def header_items(header_list, drop=()):
    return [(k, v) for k, v in header_list if k.lower() not in drop]


def respond(start_response, status, body=b'', headers=None,
            content_type='text/plain; charset=UTF-8'):
    """A whole answer built here (an error, a 304 ...), through the
    common Response; Content-Type is sent even with an empty body."""
    headers = [('Content-Type', content_type)] + list(headers or [])
    return Response(status, headers=headers, body=body)({}, start_response)


def pass_on(resp, start_response):
    start_response(resp.status, resp.header_list)
    return ClosingIter(resp.app_iter, resp.close)


class ClosingIter(object):
    """A WSGI body whose close() also closes what it was built from."""

    def __init__(self, iterable, closer):
        self._iter = iter(iterable)
        self._iterable = iterable
        self._closer = closer

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iter)

    def close(self):
        close = getattr(self._iterable, 'close', None)
        if close is not None:
            close()
        if self._closer is not None:
            self._closer()


def pieces_in_window(entries, start, stop):
    """Pieces covering [start, stop) of a sequence of whole segments.

    ``entries`` yields (path, size, etag) per segment in order.
    """
    offset = 0
    for path, size, etag in entries:
        seg_end = offset + size
        if seg_end > start and offset < stop and size > 0:
            first = max(start, offset) - offset
            last = min(stop, seg_end) - offset
            yield Piece(path, first, last, size, etag)
        offset = seg_end
        if offset >= stop:
            return


def ranged_response(env, start_response, method, headers, length,
                    content_type, body_for_window, multirange=True):
    """Answer GET/HEAD for a whole object assembled from segments.

    ``headers`` are the response headers (no Content-Length/Range);
    ``body_for_window(start, stop)`` yields the bytes of that window.
    Without ``multirange``, a request for several ranges gets the whole
    object (200), as Swift's DLO answers.
    """
    headers = list(headers) + [('Accept-Ranges', 'bytes')]
    wanted = None
    if method == 'GET':
        wanted = ranges.parse_range(env.get('HTTP_RANGE'), length)
        if not multirange and wanted is not None and \
                len(env['HTTP_RANGE'].split(',')) > 1:
            wanted = None
    if wanted == []:
        return respond(start_response, 416, b'', headers + [
            ('Content-Range', 'bytes */%d' % length)])
    if method == 'HEAD':
        return Response(200, headers=headers + [
            ('Content-Length', str(length))], app_iter=[])(
                env, start_response)
    first_window = (0, length) if wanted is None else wanted[0]
    first_body = body_for_window(*first_window)
    if not first_window_readable(first_body):
        # Swift's HTML Conflict page
        return error_response(409)(env, start_response)
    if wanted is None:
        return Response(200, headers=headers + [
            ('Content-Length', str(length))], app_iter=first_body)(
                env, start_response)
    if len(wanted) == 1:
        first, stop = wanted[0]
        return Response(206, headers=headers + [
            ('Content-Length', str(stop - first)),
            ('Content-Range', ranges.content_range(first, stop, length))],
            app_iter=first_body)(env, start_response)
    boundary = ranges.new_boundary()
    parts, closing, total = ranges.multipart_parts(
        wanted, length, content_type, boundary)
    headers = [(k, v) for k, v in headers if k.lower() != 'content-type']
    headers += [
        ('Content-Type', 'multipart/byteranges;boundary=%s' % boundary),
        ('Content-Length', str(total))]

    def multipart():
        try:
            for index, (head, first, stop) in enumerate(parts):
                yield head
                body = first_body if index == 0 else \
                    body_for_window(first, stop)
                for chunk in body:
                    yield chunk
                yield b'\r\n'
            yield closing
        finally:
            first_body.close()
    return Response(206, headers=headers, app_iter=multipart())(
        env, start_response)


def first_window_readable(body):
    """False when the body's first segment already failed (then closed)."""
    check = getattr(body, 'first_segment_ok', None)
    if check is None or check():
        return True
    body.close()
    return False


def conditional_response(env, start_response, method, etag, last_modified,
                         headers):
    """304/412 answer the conditional headers demand, else None."""
    modified = ranges.parse_http_date(last_modified)
    status = ranges.evaluate_conditions(
        env, etag, int(modified) if modified is not None else 0, method)
    if status is None:
        return None
    keep = [(k, v) for k, v in headers
            if k.lower() not in ('content-type', 'content-length')]
    if status == 304:
        return Response(304, headers=keep + [('Content-Length', '0')],
                        app_iter=[])(env, start_response)
    return respond(start_response, 412, b'Precondition Failed', keep)


def strip_swift_bytes(content_type):
    parts = [p for p in content_type.split(';')
             if not p.strip().lower().startswith('swift_bytes=')]
    return ';'.join(parts).strip()


def version_query(env, path):
    """``version-id=<id>`` when ``path`` is the client's own object and it
    asked for one version of it (object versioning, on our right, then
    reaches that version), else ''; Swift's slo keeps it the same way."""
    version = parse_qs(env.get('QUERY_STRING', '')).get('version-id')
    if version and path == env.get('PATH_INFO'):
        return 'version-id=' + quote(version[0], safe='')
    return ''


def manifest_query(env, path):
    """The query of a raw read of the manifest at ``path``."""
    version = version_query(env, path)
    return 'multipart-manifest=get' + ('&' + version if version else '')


def probe_manifest(app, env, path, source):
    """HEAD ``path`` raw (no conditions, no expansion): headers or None."""
    sub = make_subrequest_env(env, 'HEAD', path,
                              query_string=manifest_query(env, path),
                              source=source)
    try:
        resp = call_app(app, sub)
    except SegmentError:
        return None
    resp.drain()
    return resp if resp.ok else None
