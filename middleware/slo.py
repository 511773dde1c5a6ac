"""slo: Static Large Objects.

Why: a DLO is only as reliable as a container listing (eventually
consistent, any object under the prefix joins in).  An SLO manifest names
its segments exactly -- path, ETag, size and an optional byte range -- and
is validated when uploaded, so what a client gets back is exactly what it
assembled; manifests may nest (a segment may itself be an SLO).

* ``PUT ?multipart-manifest=put`` with a JSON list of
  ``{"path", "etag", "size_bytes", "range"}``: every segment is HEADed as
  the client and checked; the manifest is stored with
  ``X-Static-Large-Object: True``, the SLO ETag and size as sysmeta
  (``X-Object-Sysmeta-Slo-Etag``/``-Size``) and ``;swift_bytes=<size>`` on
  its content type.  Every such PUT is handled here, so a manifest body is
  never stored as a plain object (clamav lets manifests through unscanned;
  their segments were scanned when they were uploaded).
* ``GET``/``HEAD`` stream the segments (ranges across segments, nested
  SLOs, per-segment ranges) with the SLO ETag -- the quoted MD5 of the
  segments' ETags, as Swift -- and conditional requests evaluated against
  it.  ``?multipart-manifest=get`` returns the manifest
  (``&format=raw``: in the PUT format, ready to upload again).
* ``DELETE ?multipart-manifest=delete`` removes the segments (recursively)
  and the manifest, reporting in the bulk-delete format (JSON, XML or
  plain text per ``Accept``).
* ``COPY`` (or ``PUT`` with ``X-Copy-From``) of a manifest copies the
  content unless ``?multipart-manifest=get``.

The filter sits right of gatekeeper, so the sysmeta it sets reaches the
proxy and the sysmeta the proxy returns is read here before gatekeeper
strips it.  Streaming and failure handling are ``middleware.dlo``'s
(SegmentStreamer): O(chunk) memory, a bad or missing segment cuts the body
short and is logged.

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
"""
import datetime
import hashlib
import io
import json
import mimetypes
import socket
from urllib.parse import parse_qs

from eventlet import GreenPool

from objproxy.common.config import (
    check_options, config_true_value, get_float, get_int)
from objproxy.common.logs import get_logger
from objproxy.common.paths import str_to_wsgi, wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.storage import ranges
from middleware.large_objects import (
    COPY_CHECKED, MAX_NESTING, ClosingIter, Piece, SegmentError,
    SegmentStreamer, call_app, conditional_response, copy_source,
    copy_whole_object, has_conditions, header_items, is_copy, is_slo,
    make_subrequest_env, multipart_manifest, object_path, pass_on,
    probe_manifest, ranged_response, respond, strip_swift_bytes, trans_id,
    unquote_etag, WHOLE_OBJECT_DROP)
from middleware.slo_delete import ManifestDeleter, results_body

SECTION = 'filter:slo'
KNOWN_OPTIONS = ('max_manifest_segments', 'max_manifest_size',
                 'min_segment_size', 'rate_limit_after_segment',
                 'rate_limit_segments_per_sec', 'rate_limit_under_size',
                 'max_get_time',
                 'concurrency', 'delete_concurrency')
SLO_ETAG = 'x-object-sysmeta-slo-etag'
SLO_SIZE = 'x-object-sysmeta-slo-size'
SEGMENT_KEYS = ('path', 'etag', 'size_bytes', 'range')
READ_CHUNK = 65536


def segment_span(entry):
    """(first, stop) of the bytes an entry contributes, in its segment."""
    if entry.get('range'):
        first, _, last = entry['range'].partition('-')
        return int(first), int(last) + 1
    return 0, int(entry['bytes'])


def slo_etag(entries):
    md5 = hashlib.md5()
    for entry in entries:
        if entry.get('range'):
            md5.update(('%s:%s;' % (entry['hash'], entry['range'])).encode())
        else:
            md5.update(entry['hash'].encode())
    return md5.hexdigest()


def slo_size(entries):
    return sum(stop - first for first, stop in map(segment_span, entries))


def iso_last_modified(http_date):
    seconds = ranges.parse_http_date(http_date)
    if seconds is None:
        return None
    when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return when.strftime('%Y-%m-%dT%H:%M:%S.%f')


class BadManifest(ValueError):
    """The uploaded manifest is malformed; status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def read_client(source, size):
    """One read of the client's body; a broken body is the client's 4xx."""
    try:
        return source.read(size)
    except socket.timeout:
        raise BadManifest(408, 'Timed out reading the manifest')
    except ValueError as err:      # eventlet's ChunkReadError and kin
        raise BadManifest(400, 'Invalid chunked body: %s' % err)
    except (OSError, EOFError):
        raise BadManifest(499, 'Client disconnected')


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
        # a stored manifest may predate a lower limit: read generously
        self.manifest_read_limit = max(self.max_manifest_size,
                                       8 * 1024 * 1024) * 4
        self.deleter = ManifestDeleter(app, self.delete_concurrency,
                                       self.manifest_read_limit)

    # ----------------------------------------------------------- routing
    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        parts = object_path(env)
        if parts is None:
            return self.app(env, start_response)
        query = parse_qs(env.get('QUERY_STRING', ''))
        mm = multipart_manifest(env)
        if method == 'PUT' and 'put' in query.get('multipart-manifest', ()):
            return self.handle_manifest_put(env, start_response, parts)
        if method == 'PUT' and 'HTTP_X_STATIC_LARGE_OBJECT' in env:
            return respond(start_response, 400,
                           b'X-Static-Large-Object is a reserved header. To '
                           b'create a static large object add query param '
                           b'multipart-manifest=put.')
        if is_copy(env) and mm != 'get':
            return self.handle_copy(env, start_response, parts)
        if method == 'DELETE' and mm == 'delete':
            return self.deleter(env, start_response, parts)
        if method in ('GET', 'HEAD'):
            if mm == 'get':
                return self.handle_manifest_get(env, start_response, query)
            return self.handle_read(env, start_response, parts)
        return self.app(env, start_response)

    # -------------------------------------------------------------- reads
    def handle_read(self, env, start_response, parts):
        method = env['REQUEST_METHOD']
        resp = call_app(self.app, env)
        if not is_slo(resp.headers):
            if resp.status_int in (304, 412, 416) and has_conditions(env):
                probe = probe_manifest(self.app, env, env['PATH_INFO'],
                                       'SLO')
                if probe is not None and is_slo(probe.headers):
                    resp.close()
                    return self.serve(env, start_response, parts, probe)
            return pass_on(resp, start_response)
        if resp.status_int == 200:
            return self.serve(env, start_response, parts, resp,
                              body=resp if method == 'GET' else None)
        resp.close()
        probe = probe_manifest(self.app, env, env['PATH_INFO'], 'SLO')
        if probe is None or not is_slo(probe.headers):
            return respond(start_response, 503, b'Manifest vanished')
        return self.serve(env, start_response, parts, probe)

    def serve(self, env, start_response, parts, head, body=None):
        """Answer a GET/HEAD of an SLO given its manifest's headers (and
        its open body when we already have it)."""
        method = env['REQUEST_METHOD']
        manifest = None
        try:
            etag = head.headers.get(SLO_ETAG)
            size = head.headers.get(SLO_SIZE)
            if etag is None or size is None or method == 'GET':
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
                'content-type', SLO_ETAG, SLO_SIZE, 'x-static-large-object'))
        headers += [('Content-Type', ctype), ('Etag', '"%s"' % etag),
                    ('X-Static-Large-Object', 'True')]
        cond = conditional_response(env, start_response, method, etag,
                                    head.headers.get('last-modified'),
                                    headers)
        if cond is not None:
            return cond
        version, account = parts[0], parts[1]
        what = '/'.join(parts[1:])

        def body_for_window(first, stop):
            pieces = self._pieces(env, version, account, manifest, first,
                                  stop, 0)
            return SegmentStreamer(
                self.app, env, pieces, self.logger, 'SLO', what,
                self.max_get_time, self.rate_limit_after, self.rate_per_sec,
                self.rate_limit_under_size)
        return ranged_response(env, start_response, method, headers, size,
                               ctype, body_for_window)

    def _manifest_entries(self, env, path, resp=None, expect_etag=None):
        """The parsed manifest at ``path`` (raw GET unless ``resp``)."""
        if resp is None:
            sub = make_subrequest_env(env, 'GET', path,
                                      query_string='multipart-manifest=get',
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
            entries = json.loads(data)
            if not isinstance(entries, list):
                raise ValueError('not a list')
            for entry in entries:
                segment_span(entry)
                entry['name'], entry['hash']
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise SegmentError('manifest %s is corrupt: %s'
                               % (wsgi_to_str(path), err))
        return entries

    def _pieces(self, env, version, account, entries, start, stop, depth):
        """Leaf segment pieces for [start, stop) of a manifest's bytes."""
        offset = 0
        for entry in entries:
            first, last = segment_span(entry)
            length = last - first
            end = offset + length
            if end > start and offset < stop and length > 0:
                lo = max(start, offset) - offset + first
                hi = min(stop, end) - offset + first
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
        resp = call_app(self.app, env)
        if not resp.ok or not is_slo(resp.headers):
            return pass_on(resp, start_response)
        headers = header_items(resp.header_list,
                               ('content-type', SLO_ETAG, SLO_SIZE))
        headers.append(('Content-Type', 'application/json; charset=utf-8'))
        raw = query.get('format', [''])[0] == 'raw'
        if not raw or env['REQUEST_METHOD'] != 'GET':
            start_response(resp.status, headers)
            return pass_on_body(resp)
        try:
            entries = json.loads(resp.read(self.manifest_read_limit))
            out = []
            for entry in entries:
                item = {'path': entry['name'], 'etag': entry['hash'],
                        'size_bytes': entry['bytes']}
                if entry.get('range'):
                    item['range'] = entry['range']
                out.append(item)
        except (ValueError, TypeError, KeyError) as err:
            return respond(start_response, 500,
                           'Unreadable manifest: %s' % err)
        body = json.dumps(out).encode()
        headers = [(k, v) for k, v in headers
                   if k.lower() not in ('content-length', 'etag')]
        headers += [('Content-Length', str(len(body))),
                    ('Etag', hashlib.md5(body).hexdigest())]
        start_response(resp.status, headers)
        return [body]

    # ------------------------------------------------------------- writes
    def _read_body(self, env):
        limit = self.max_manifest_size
        length = env.get('CONTENT_LENGTH')
        if length not in (None, ''):
            try:
                length = int(length)
            except ValueError:
                raise BadManifest(400, 'Invalid Content-Length')
            if length > limit:
                raise BadManifest(413, 'Manifest File > %d bytes' % limit)
        source = env['wsgi.input']
        parts = []
        size = 0
        while True:
            want = min(READ_CHUNK, limit + 1 - size)
            chunk = read_client(source, want)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise BadManifest(413, 'Manifest File > %d bytes' % limit)
            parts.append(chunk)
        return b''.join(parts)

    def _parse_manifest(self, data):
        try:
            segments = json.loads(data)
        except (ValueError, RecursionError):   # RecursionError: deep nesting
            raise BadManifest(400, 'Manifest must be valid JSON.')
        if not isinstance(segments, list):
            raise BadManifest(400, 'Manifest must be a list.')
        if not segments:
            raise BadManifest(400, 'Manifest must have at least one '
                              'segment.')
        if len(segments) > self.max_manifest_segments:
            raise BadManifest(413, 'Number of segments must be <= %d'
                              % self.max_manifest_segments)
        problems = []
        for index, seg in enumerate(segments):
            if not isinstance(seg, dict):
                problems.append('Index %d: not a JSON object' % index)
                continue
            extra = sorted(set(seg) - set(SEGMENT_KEYS))
            if extra:
                problems.append('Index %d: extraneous keys %s' % (
                    index, ', '.join('"%s"' % k for k in extra)))
                continue
            path = seg.get('path')
            if not isinstance(path, str) or \
                    '/' not in path.lstrip('/') or \
                    path.lstrip('/').startswith('/') or \
                    path.lstrip('/').endswith('/') or '\x00' in path:
                problems.append('Index %d: path does not refer to an '
                                'object. Path must be of the form '
                                '/container/object.' % index)
                continue
            size = seg.get('size_bytes')
            if size is not None:
                if isinstance(size, str) and size.isdigit():
                    size = seg['size_bytes'] = int(size)
                if isinstance(size, bool) or not isinstance(size, int) or \
                        size < 0:
                    problems.append('Index %d: invalid size_bytes' % index)
                    continue
            etag = seg.get('etag')
            if etag is not None and not isinstance(etag, str):
                problems.append('Index %d: invalid etag' % index)
                continue
            rng = seg.get('range')
            if rng is not None and not isinstance(rng, str):
                problems.append('Index %d: invalid range' % index)
        if problems:
            raise BadManifest(400, '\n'.join(problems))
        return segments

    def _check_segment(self, env, version, account, seg):
        """HEAD one segment as the client; (entry, problem)."""
        name = '/' + seg['path'].lstrip('/')
        path = str_to_wsgi('/%s/%s%s' % (version, account, name))
        sub = make_subrequest_env(env, 'HEAD', path, source='SLO')
        try:
            # through ourselves: a nested SLO reports its whole size/ETag
            resp = call_app(self, sub)
            resp.drain()
        except SegmentError as err:
            return None, (name, '503 %s' % err)
        if not resp.ok:
            return None, (name, resp.status)
        problems = []
        try:
            size = int(resp.headers.get('content-length'))
        except (TypeError, ValueError):
            return None, (name, 'Unknown size')
        etag = unquote_etag(resp.headers.get('etag'))
        if seg.get('size_bytes') is not None and seg['size_bytes'] != size:
            problems.append('Size Mismatch')
        if seg.get('etag') is not None and \
                unquote_etag(seg['etag']) != etag:
            problems.append('Etag Mismatch')
        entry = {'name': name, 'bytes': size, 'hash': etag,
                 'content_type': strip_swift_bytes(
                     resp.headers.get('content-type', '')),
                 'last_modified': iso_last_modified(
                     resp.headers.get('last-modified'))}
        if is_slo(resp.headers):
            entry['sub_slo'] = True
        if seg.get('range'):
            wanted = ranges.parse_range('bytes=' + seg['range'], size)
            if wanted is None:
                problems.append('Invalid Range')
            elif not wanted:
                problems.append('Unsatisfiable Range')
            elif len(wanted) > 1:
                problems.append('Multiple Ranges')
            else:
                first, stop = wanted[0]
                if (first, stop) != (0, size):
                    entry['range'] = '%d-%d' % (first, stop - 1)
        if problems:
            return None, (name, ', '.join(problems))
        return entry, None

    def handle_manifest_put(self, env, start_response, parts):
        version, account, _container, obj = parts
        accept = env.get('HTTP_ACCEPT')
        if 'HTTP_X_COPY_FROM' in env:
            return respond(start_response, 400, b'Copy requests cannot '
                           b'use multipart-manifest=put')
        try:
            segments = self._parse_manifest(self._read_body(env))
        except BadManifest as err:
            return respond(start_response, err.status, err.message + '\n')
        pool = GreenPool(self.concurrency)
        checked = list(pool.imap(
            lambda seg: self._check_segment(env, version, account, seg),
            segments))
        entries = []
        problems = []
        last = len(checked) - 1
        for index, (entry, problem) in enumerate(checked):
            if problem:
                problems.append(problem)
                continue
            first, stop = segment_span(entry)
            if stop - first < self.min_segment_size and index < last:
                problems.append((entry['name'], 'Too small; each segment '
                                 'must be at least %d byte%s.' % (
                                     self.min_segment_size,
                                     '' if self.min_segment_size == 1
                                     else 's')))
            entries.append(entry)
        if problems:
            ctype, body = results_body(accept, {}, problems, 'upload')
            return respond(start_response, 400, body, content_type=ctype)
        etag = slo_etag(entries)
        total = slo_size(entries)
        client_etag = env.get('HTTP_ETAG')
        if client_etag is not None and unquote_etag(client_etag) != etag:
            return respond(start_response, 422,
                           b'Unprocessable Entity: the ETag does not match '
                           b'the manifest\'s SLO ETag')
        body = json.dumps(entries).encode()
        raw = env.get('headers_raw')
        sent_type = raw is None or any(k.lower() == 'content-type'
                                       for k, _v in raw)
        ctype = env.get('CONTENT_TYPE') if sent_type else None
        if not ctype or config_true_value(
                env.get('HTTP_X_DETECT_CONTENT_TYPE')):
            ctype = mimetypes.guess_type(obj)[0] or \
                'application/octet-stream'
        ctype = strip_swift_bytes(ctype)
        env.pop('HTTP_TRANSFER_ENCODING', None)
        env.pop('HTTP_X_DETECT_CONTENT_TYPE', None)
        env['wsgi.input'] = io.BytesIO(body)
        env['CONTENT_LENGTH'] = str(len(body))
        env['CONTENT_TYPE'] = '%s;swift_bytes=%d' % (ctype, total)
        env['HTTP_ETAG'] = hashlib.md5(body).hexdigest()
        env['HTTP_X_STATIC_LARGE_OBJECT'] = 'True'
        env['HTTP_X_OBJECT_SYSMETA_SLO_ETAG'] = etag
        env['HTTP_X_OBJECT_SYSMETA_SLO_SIZE'] = str(total)
        if raw is not None:
            env['headers_raw'] = tuple(raw) + (('Content-Type', ctype),)
        resp = call_app(self.app, env)
        if not resp.ok:
            return pass_on(resp, start_response)
        out = header_items(resp.header_list, ('etag',))
        out.append(('Etag', '"%s"' % etag))
        start_response(resp.status, out)
        return pass_on_body(resp)

    def handle_copy(self, env, start_response, parts):
        paths = copy_source(env, parts)
        if paths is not None:
            head = probe_manifest(self.app, env, paths[0], 'SLO')
            if head is not None and (is_slo(head.headers) or
                                     'x-object-manifest' in head.headers):
                result = copy_whole_object(self, self.app, env,
                                           start_response, parts, 'SLO',
                                           self.logger)
                if result is not None:
                    return result
        env[COPY_CHECKED] = True
        return self.app(env, start_response)



def pass_on_body(resp):
    return ClosingIter(resp.app_iter, resp.close)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    settings = StaticLargeObject(None, conf, logger=object())
    register_info('slo',
                  max_manifest_segments=settings.max_manifest_segments,
                  max_manifest_size=settings.max_manifest_size,
                  min_segment_size=settings.min_segment_size,
                  yield_frequency=10)

    def factory(app):
        return StaticLargeObject(app, conf)
    return factory
