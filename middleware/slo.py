"""slo: Static Large Objects.

Why: a DLO is only as reliable as a container listing (eventually
consistent, any object under the prefix joins in).  An SLO manifest names
its segments exactly -- path, ETag, size and an optional byte range, or
small inline data -- and is validated when uploaded, so what a client gets
back is exactly what it assembled; manifests may nest (a segment may
itself be an SLO).

* ``PUT ?multipart-manifest=put``: ``middleware.slo_put`` (validation,
  ``?heartbeat=on``); the format itself is ``middleware.slo_manifest``.
  Every such PUT is handled there, so a manifest body is never stored as
  a plain object (clamav lets manifests through unscanned; their segments
  were scanned when they were uploaded, inline data is a few bytes of the
  manifest itself).
* ``GET``/``HEAD`` stream the segments (ranges across segments, nested
  SLOs, per-segment ranges, inline data) with the SLO ETag -- the quoted
  MD5 of the parts' ETags, as Swift -- conditional requests evaluated
  against it, and the manifest's own ETag as ``X-Manifest-Etag``.
  ``?part-number=N`` answers part N (a top-level entry of the manifest)
  as a ``206`` with ``X-Parts-Count``.  ``?multipart-manifest=get``
  returns the stored manifest (``&format=raw``: in the upload format, with
  the object's own content type, ready to upload again).
* ``DELETE ?multipart-manifest=delete``: ``middleware.slo_delete``.
* Copies are the ``copy`` filter's (left of this one): it GETs the source
  through here, so a copy holds the joined content (``?part-number=``
  picks one part), and with ``?multipart-manifest=get`` it reads the
  manifest in the upload format and PUTs it with
  ``?multipart-manifest=put``, so the segments are checked again at the
  destination, as the client.
* Container listings in JSON show an SLO's ETag as ``slo_etag`` next to
  the manifest's own ``hash``.

The filter sits right of gatekeeper, so the sysmeta it sets reaches the
proxy and the sysmeta the proxy returns is read here before gatekeeper
strips it.  Streaming and failure handling are ``middleware.large_objects``'
(SegmentStreamer): O(chunk) memory, a bad or missing segment cuts the body
short and is logged; a first segment that cannot be read is a 409.

Config (Swift's options)::

    [filter:slo]
    use = egg:objproxy#slo
    max_manifest_segments = 1000
    max_manifest_size = 8388608
    min_segment_size = 1
    rate_limit_after_segment = 10
    rate_limit_segments_per_sec = 1
    # ... counting only segments smaller than this (bytes)
    rate_limit_under_size = 1048576
    max_get_time = 86400
    # segment HEADs (PUT) and DELETEs run this many at a time
    concurrency = 2
    delete_concurrency = 2
    # seconds between the whitespace of a ?heartbeat=on upload
    yield_frequency = 10
"""
import hashlib
import json
from urllib.parse import parse_qs

from objproxy.common.config import check_options, get_float, get_int
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, str_to_wsgi, \
    wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.response import error_response, status_line
from middleware.large_objects import (
    manifest_query,
    LISTING_BODY_LIMIT, MAX_NESTING, ClosingIter, Piece,
    SegmentError, SegmentStreamer, call_app, conditional_response,
    first_window_readable, has_conditions, header_items, is_slo,
    make_subrequest_env, object_path, pass_on, probe_manifest,
    ranged_response, respond, strip_swift_bytes, trans_id, unquote_etag,
    WHOLE_OBJECT_DROP)
from middleware.slo_delete import ManifestDeleter
from middleware.slo_manifest import (
    SLO_ETAG, SLO_SIZE, UPDATE_OVERRIDE_ETAG, decode_data, entry_length,
    load_manifest, raw_manifest, segment_span, slo_etag, slo_size)
from middleware.slo_put import ManifestUpload

SECTION = 'filter:slo'
KNOWN_OPTIONS = ('max_manifest_segments', 'max_manifest_size',
                 'min_segment_size', 'rate_limit_after_segment',
                 'rate_limit_segments_per_sec', 'rate_limit_under_size',
                 'max_get_time', 'concurrency', 'delete_concurrency',
                 'yield_frequency')
BAD_PART = b'Part number must be an integer greater than 0'


class BadPart(ValueError):
    """An unusable ?part-number=; the 400's body."""


def part_number(env, query):
    """The requested part (int), None when not asked; BadPart if bad."""
    values = query.get('part-number')
    if not values:
        return None
    try:
        number = int(values[0])
    except ValueError:
        raise BadPart(BAD_PART)
    if number <= 0:
        raise BadPart(BAD_PART)
    if env.get('HTTP_RANGE'):
        raise BadPart(b'Range requests are not supported with part number '
                      b'queries')
    return number


class StaticLargeObject(object):
    """The ``slo`` filter."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='slo')
        self.max_manifest_segments = get_int(
            conf, 'max_manifest_segments', 1000, SECTION, minimum=1)
        self.max_manifest_size = get_int(
            conf, 'max_manifest_size', 8 * 1024 * 1024, SECTION, minimum=2)
        self.min_segment_size = get_int(conf, 'min_segment_size', 1,
                                        SECTION, minimum=1)
        self.rate_limit_after = get_int(conf, 'rate_limit_after_segment', 10,
                                        SECTION, minimum=0)
        self.rate_per_sec = get_float(conf, 'rate_limit_segments_per_sec', 1,
                                      SECTION, minimum=0)
        self.rate_limit_under_size = get_int(
            conf, 'rate_limit_under_size', 1024 * 1024, SECTION, minimum=0)
        self.max_get_time = get_float(conf, 'max_get_time', 86400, SECTION,
                                      minimum=1)
        self.concurrency = get_int(conf, 'concurrency', 2, SECTION,
                                   minimum=1, maximum=10)
        self.delete_concurrency = get_int(conf, 'delete_concurrency', 2,
                                          SECTION, minimum=1, maximum=10)
        self.yield_frequency = get_float(conf, 'yield_frequency', 10,
                                         SECTION, minimum=0.01)
        # a stored manifest may predate a lower limit: read generously
        self.manifest_read_limit = max(self.max_manifest_size,
                                       8 * 1024 * 1024) * 4
        self.deleter = ManifestDeleter(app, self.delete_concurrency,
                                       self.manifest_read_limit)
        self.uploader = ManifestUpload(self)

    # ----------------------------------------------------------- routing
    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        parts = object_path(env)
        if parts is None:
            if method == 'GET' and is_container_path(env):
                return self.handle_listing(env, start_response)
            return self.app(env, start_response)
        query = parse_qs(env.get('QUERY_STRING', ''))
        mm = query.get('multipart-manifest', [''])[0]
        if method == 'PUT' and mm == 'put':
            return self.uploader(env, start_response, parts)
        if method == 'PUT' and 'HTTP_X_STATIC_LARGE_OBJECT' in env:
            return respond(start_response, 400,
                           b'X-Static-Large-Object is a reserved header. To '
                           b'create a static large object add query param '
                           b'multipart-manifest=put.')
        if method == 'DELETE' and mm == 'delete':
            return self.deleter(env, start_response, parts)
        if method in ('GET', 'HEAD'):
            if mm == 'get':
                return self.handle_manifest_get(env, start_response, query)
            return self.handle_read(env, start_response, parts, query)
        return self.app(env, start_response)

    # -------------------------------------------------------------- reads
    def handle_read(self, env, start_response, parts, query):
        method = env['REQUEST_METHOD']
        resp = call_app(self.app, env)
        if not is_slo(resp.headers):
            if resp.status_int in (304, 412, 416) and has_conditions(env):
                probe = probe_manifest(self.app, env, env['PATH_INFO'],
                                       'SLO')
                if probe is not None and is_slo(probe.headers):
                    resp.close()
                    return self.serve(env, start_response, parts, query,
                                      probe)
            return pass_on(resp, start_response)
        if resp.status_int == 200:
            return self.serve(env, start_response, parts, query, resp,
                              body=resp if method == 'GET' else None)
        resp.close()
        probe = probe_manifest(self.app, env, env['PATH_INFO'], 'SLO')
        if probe is None or not is_slo(probe.headers):
            return respond(start_response, 503, b'Manifest vanished')
        return self.serve(env, start_response, parts, query, probe)

    def serve(self, env, start_response, parts, query, head, body=None):
        """Answer a GET/HEAD of an SLO given its manifest's headers (and
        its open body when we already have it)."""
        method = env['REQUEST_METHOD']
        manifest = None
        try:
            part = part_number(env, query)
        except BadPart as err:
            if body is not None:
                body.close()
            return respond(start_response, 400,
                           err.args[0] if method == 'GET' else b'')
        try:
            etag = head.headers.get(SLO_ETAG)
            size = head.headers.get(SLO_SIZE)
            if etag is None or size is None or method == 'GET' or part:
                manifest = self._manifest_entries(env, env['PATH_INFO'],
                                                  body)
                body = None
                etag = slo_etag(manifest)
                size = slo_size(manifest)
            size = int(size)
        except (SegmentError, ValueError) as err:
            self.logger.error('SLO %s: unreadable manifest: %s (txn %s)',
                              '/'.join(parts[1:]), err, trans_id(env))
            return respond(start_response, 500, b'Unreadable manifest')
        finally:
            if body is not None:
                body.close()
        ctype = strip_swift_bytes(head.headers.get(
            'content-type', 'application/octet-stream'))
        headers = header_items(
            head.header_list, WHOLE_OBJECT_DROP + (
                'content-type', SLO_ETAG, SLO_SIZE, 'x-static-large-object',
                'x-manifest-etag', UPDATE_OVERRIDE_ETAG.lower()))
        headers += [('Content-Type', ctype), ('Etag', '"%s"' % etag),
                    ('X-Static-Large-Object', 'True'),
                    ('X-Manifest-Etag',
                     unquote_etag(head.headers.get('etag')))]
        cond = conditional_response(env, start_response, method, etag,
                                    head.headers.get('last-modified'),
                                    headers)
        if cond is not None:
            return cond
        version, account = parts[0], parts[1]
        what = '/'.join(parts[1:])

        def body_for_window(first, stop):
            # the top manifest is level 1 of Swift's MAX_NESTING
            pieces = self._pieces(env, version, account, manifest, first,
                                  stop, 1)
            return SegmentStreamer(
                self.app, env, pieces, self.logger, 'SLO', what,
                self.max_get_time, self.rate_limit_after, self.rate_per_sec,
                self.rate_limit_under_size)
        if part is not None:
            return self.serve_part(env, start_response, manifest, part, size,
                                   headers, body_for_window)
        return ranged_response(env, start_response, method, headers, size,
                               ctype, body_for_window)

    def serve_part(self, env, start_response, manifest, part, size, headers,
                   body_for_window):
        """``?part-number=``: one top-level entry of the manifest, 206."""
        method = env['REQUEST_METHOD']
        headers = headers + [('X-Parts-Count', str(len(manifest)))]
        if part > len(manifest):
            body = b'The requested part number is not satisfiable' \
                if method == 'GET' else b''
            return respond(start_response, 416, body, headers + [
                ('Content-Range', 'bytes */%d' % size)],
                content_type=dict((k.lower(), v) for k, v in headers)
                ['content-type'])
        first = sum(entry_length(e) for e in manifest[:part - 1])
        stop = first + entry_length(manifest[part - 1])
        headers = [(k, v) for k, v in headers
                   if k.lower() != 'content-type'] + [
            ('Content-Type', dict((k.lower(), v) for k, v in headers)
             ['content-type']),
            ('Accept-Ranges', 'bytes'),
            ('Content-Length', str(stop - first)),
            ('Content-Range', 'bytes %d-%d/%d' % (first, stop - 1, size))]
        if method == 'HEAD':
            start_response(status_line(206), headers)
            return []
        body = body_for_window(first, stop)
        if not first_window_readable(body):
            # Swift's HTML Conflict page
            return error_response(409)(env, start_response)
        start_response(status_line(206), headers)
        return body

    def _manifest_entries(self, env, path, resp=None, expect_etag=None):
        """The parsed manifest at ``path`` (raw GET unless ``resp``)."""
        if resp is None:
            sub = make_subrequest_env(env, 'GET', path,
                                      query_string=manifest_query(env, path),
                                      source='SLO')
            resp = call_app(self.app, sub)
        try:
            if not resp.ok or not is_slo(resp.headers):
                raise SegmentError('manifest %s: %s%s' % (
                    wsgi_to_str(path), resp.status,
                    '' if not resp.ok else ' (no longer an SLO)'))
            if expect_etag is not None and \
                    resp.headers.get(SLO_ETAG, expect_etag) != expect_etag:
                raise SegmentError('sub-manifest %s changed (ETag %s, '
                                   'expected %s)' % (
                                       wsgi_to_str(path),
                                       resp.headers.get(SLO_ETAG),
                                       expect_etag))
            data = resp.read(self.manifest_read_limit)
        finally:
            resp.close()
        try:
            return load_manifest(data)
        except ValueError as err:
            raise SegmentError('manifest %s is corrupt: %s'
                               % (wsgi_to_str(path), err))

    def _pieces(self, env, version, account, entries, start, stop, depth):
        """Leaf pieces for [start, stop) of a manifest's bytes."""
        offset = 0
        for entry in entries:
            if 'data' in entry:
                data = decode_data(entry['data'])
                first, last, length = 0, len(data), len(data)
            else:
                data = None
                first, last = segment_span(entry)
                length = last - first
            end = offset + length
            if end > start and offset < stop and length > 0:
                lo = max(start, offset) - offset + first
                hi = min(stop, end) - offset + first
                if data is not None:
                    yield Piece(None, lo, hi, length, None, data)
                    offset = end
                    continue
                path = str_to_wsgi('/%s/%s/%s' % (
                    version, account, entry['name'].lstrip('/')))
                if entry.get('sub_slo'):
                    if depth >= MAX_NESTING:
                        raise SegmentError('max recursion depth exceeded')
                    sub = self._manifest_entries(
                        env, path, expect_etag=entry['hash'])
                    for piece in self._pieces(env, version, account, sub,
                                              lo, hi, depth + 1):
                        yield piece
                else:
                    yield Piece(path, lo, hi, int(entry['bytes']),
                                entry['hash'])
            offset = end
            if offset >= stop:
                return

    def handle_manifest_get(self, env, start_response, query):
        raw = query.get('format', [''])[0] == 'raw'
        if raw and env['REQUEST_METHOD'] == 'HEAD':
            sub = dict(env, REQUEST_METHOD='GET')
            resp = call_app(self.app, sub)
        else:
            resp = call_app(self.app, env)
        if not resp.ok or not is_slo(resp.headers):
            return pass_on(resp, start_response)
        if not raw:
            headers = header_items(resp.header_list,
                                   ('content-type', SLO_ETAG, SLO_SIZE))
            headers.append(('Content-Type',
                            'application/json; charset=utf-8'))
            start_response(resp.status, headers)
            return ClosingIter(resp.app_iter, resp.close)
        try:
            body = raw_manifest(load_manifest(
                resp.read(self.manifest_read_limit)))
        except ValueError as err:
            return respond(start_response, 500,
                           'Unreadable manifest: %s' % err)
        headers = header_items(resp.header_list, (
            'content-type', 'content-length', 'etag', SLO_ETAG, SLO_SIZE))
        headers += [('Content-Type', strip_swift_bytes(
                        resp.headers.get('content-type',
                                         'application/octet-stream'))),
                    ('Content-Length', str(len(body))),
                    ('Etag', hashlib.md5(body).hexdigest())]
        start_response(resp.status, headers)
        return [body] if env['REQUEST_METHOD'] == 'GET' else []

    # ----------------------------------------------------------- listings
    def handle_listing(self, env, start_response):
        """Split ``; slo_etag=`` out of each JSON listing row's hash."""
        resp = call_app(self.app, env)
        ctype = resp.headers.get('content-type', '').split(';')[0].strip()
        try:
            length = int(resp.headers.get('content-length'))
        except (TypeError, ValueError):
            length = None
        if resp.status_int != 200 or ctype != 'application/json' or \
                length is None or length > LISTING_BODY_LIMIT:
            return pass_on(resp, start_response)
        body = resp.read(LISTING_BODY_LIMIT)
        try:
            listing = json.loads(body) if b'slo_etag=' in body else None
        except ValueError:
            listing = None
        if isinstance(listing, list) and split_listing_etags(listing):
            body = json.dumps(listing).encode('utf-8')
        headers = header_items(resp.header_list, ('content-length',))
        start_response(resp.status, headers + [
            ('Content-Length', str(len(body)))])
        return [body]


def split_listing_etags(listing):
    """Move the SLO ETag parameter of listing rows to ``slo_etag``;
    whether any row changed."""
    changed = False
    for item in listing:
        value = item.get('hash') if isinstance(item, dict) else None
        if not isinstance(value, str) or 'slo_etag=' not in value:
            continue
        params = [p.strip() for p in value.split(';')]
        kept = [params[0]]
        for param in params[1:]:
            key, sep, val = param.partition('=')
            if sep and key.strip().lower() == 'slo_etag':
                item['slo_etag'] = '"%s"' % val.strip()
                changed = True
            else:
                kept.append(param)
        item['hash'] = '; '.join(kept)
    return changed


def is_container_path(env):
    try:
        parts = split_path(wsgi_to_str(env.get('PATH_INFO', '')), 3, 3)
    except (PathError, ValueError):
        return False
    return all(parts)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    settings = StaticLargeObject(None, conf, logger=object())
    register_info('slo',
                  max_manifest_segments=settings.max_manifest_segments,
                  max_manifest_size=settings.max_manifest_size,
                  min_segment_size=settings.min_segment_size,
                  yield_frequency=int(settings.yield_frequency))

    def factory(app):
        return StaticLargeObject(app, conf)
    return factory
