"""``PUT ?multipart-manifest=put``: validate an SLO manifest and store it.

Why a module of its own: the upload is the one SLO operation that writes,
and it has its own shape -- every distinct segment path is HEADed as the
client (``concurrency`` at a time, through the slo filter itself so a
nested SLO reports its whole size and ETag), every problem is reported at
once in Swift's bulk format, and with ``?heartbeat=on`` the answer is a
``202 Accepted`` started at once whose body is whitespace, sent every
``yield_frequency`` seconds while the work goes on, then the real outcome
(``Response Status``, ``Response Body``, ``Etag``, ``Last Modified``,
``Errors``) in the format the client accepts -- so a client behind an
idle-timeout proxy does not lose the connection on a manifest of
thousands of segments.

What is stored: the segment entries as JSON, ``X-Static-Large-Object:
True``, the SLO ETag and size as sysmeta, ``;swift_bytes=<size>`` on the
content type and the container listing's ETag override (``<manifest md5>;
slo_etag=<SLO ETag>``).  The answer carries the SLO ETag, quoted.
"""
import hashlib
import io
import json
import mimetypes
from urllib.parse import parse_qs, quote

import eventlet
from eventlet import GreenPool

from objproxy.common.config import config_true_value as is_true
from objproxy.common.paths import str_to_wsgi
from objproxy.common.response import (
    Response, status_code, status_line)
from middleware.large_objects import (
    SegmentError, call_app, header_items, make_subrequest_env, respond,
    strip_swift_bytes, unquote_etag)
from middleware.slo_delete import results_body
from middleware.slo_manifest import (
    SLO_ETAG, SLO_SIZE, UPDATE_OVERRIDE_ETAG, BadManifest, best_format,
    check_against_head, entry_length, parse_manifest,
    read_manifest_body, slo_etag)

# what a bodiless error says in a heartbeat answer (Swift's wording)
EXPLAIN = {
    400: 'Bad Request\nThe server could not comply with the request since '
         'it is either malformed or otherwise incorrect.',
    422: 'Unprocessable Entity\nUnable to process the contained '
         'instructions',
}


class Outcome(object):
    """What the upload came to: a status, the client's headers, a body,
    and the fields of a heartbeat answer."""

    def __init__(self, status, headers=(), body=b'', errors=(), fields=None):
        self.status = status
        self.headers = list(headers)
        self.body = body
        self.errors = list(errors)
        self.fields = fields or {}


class ManifestUpload(object):
    """Handles one manifest PUT for the slo filter ``slo``."""

    def __init__(self, slo):
        self.slo = slo

    def __call__(self, env, start_response, parts):
        slo = self.slo
        if 'HTTP_X_COPY_FROM' in env:
            return respond(start_response, 405, b'Multipart Manifest PUTs '
                           b'cannot be COPY requests')
        own = '/%s/%s' % (parts[2], parts[3])
        try:
            segments = parse_manifest(
                read_manifest_body(env, slo.max_manifest_size), own)
        except BadManifest as err:
            return respond(start_response, err.status, err.message)
        count = sum(1 for seg in segments if 'path' in seg)
        if count > slo.max_manifest_segments:
            return respond(start_response, 413, 'Number of object-backed '
                           'segments must be <= %d'
                           % slo.max_manifest_segments)
        fmt = best_format(env.get('HTTP_ACCEPT'))
        query = parse_qs(env.get('QUERY_STRING', ''))
        if not is_true(query.get('heartbeat', [''])[0]):
            outcome = self.upload(env, parts, segments, fmt)
            return Response(status_code(outcome.status), outcome.headers,
                            body=outcome.body)(env, start_response)
        env['eventlet.minimum_write_chunk_size'] = 0
        start_response(status_line(202), [('Content-Type', fmt)])
        return self.heartbeat(env, parts, segments, fmt)

    def heartbeat(self, env, parts, segments, fmt):
        """Whitespace while the upload runs, then its outcome."""
        worker = eventlet.spawn(self.upload, env, parts, segments, fmt)
        done = []
        worker.link(lambda thread: done.append(True))
        try:
            yield b' '
            while not done:
                with eventlet.Timeout(self.slo.yield_frequency, False):
                    worker.wait()
                if not done:
                    yield b' '
            outcome = worker.wait()
        finally:
            if not done:
                worker.kill()
        fields = dict(outcome.fields)
        fields['Response Status'] = outcome.status
        _ctype, body = results_body(fmt, fields, outcome.errors, 'upload',
                                    declaration=False)
        yield b'\r\n\r\n' + body

    def upload(self, env, parts, segments, fmt):
        version, account = parts[0], parts[1]
        paths = []
        for seg in segments:
            if 'path' in seg and seg['path'] not in paths:
                paths.append(seg['path'])
        pool = GreenPool(self.slo.concurrency)
        heads = dict(zip(paths, pool.imap(
            lambda path: self._head(env, version, account, path), paths)))
        entries = []
        problems = []
        last = len(segments) - 1
        for index, seg in enumerate(segments):
            if 'data' in seg:
                entries.append({'data': seg['data']})
                continue
            status, head = heads[seg['path']]
            if head is None:
                problems.append([quote(seg['path']), status])
                continue
            entry, issues = check_against_head(seg, head,
                                               allow_empty=index == last)
            length = entry_length(entry) if entry else 0
            if entry and index != last and \
                    0 < length < self.slo.min_segment_size:
                issues.append('Too small; each segment must be at least '
                              '%d bytes.' % self.slo.min_segment_size)
            problems += [[quote(seg['path']), issue] for issue in issues]
            entries.append(entry)
        if problems:
            _ctype, body = results_body(fmt, {}, problems, 'upload')
            return Outcome(status_line(400), [('Content-Type', fmt)], body,
                           problems, {'Response Body': EXPLAIN[400]})
        etag = slo_etag(entries)
        client_etag = env.get('HTTP_ETAG')
        if client_etag and unquote_etag(client_etag) != etag:
            return Outcome(status_line(422),
                           [('Content-Type', 'text/plain; charset=UTF-8')],
                           EXPLAIN[422].encode(),
                           fields={'Response Body': EXPLAIN[422]})
        return self._store(env, parts, entries, etag)

    def _head(self, env, version, account, path):
        """(status, SubResponse or None) of a segment HEAD as the client."""
        target = str_to_wsgi('/%s/%s/%s' % (version, account,
                                            path.lstrip('/')))
        sub = make_subrequest_env(env, 'HEAD', target, source='SLO')
        try:
            resp = call_app(self.slo, sub)
            resp.drain()
        except SegmentError as err:
            return '503 %s' % err, None
        if not resp.ok:
            return resp.status, None
        return resp.status, resp

    def _store(self, env, parts, entries, etag):
        total = sum(entry_length(entry) for entry in entries)
        body = json.dumps(entries).encode()
        body_md5 = hashlib.md5(body).hexdigest()
        raw = env.get('headers_raw')
        sent_type = raw is None or any(k.lower() == 'content-type'
                                       for k, _v in raw)
        ctype = env.get('CONTENT_TYPE') if sent_type else None
        if not ctype or is_true(env.get('HTTP_X_DETECT_CONTENT_TYPE')):
            ctype = mimetypes.guess_type(parts[3])[0] or \
                'application/octet-stream'
        ctype = strip_swift_bytes(ctype)
        for key in ('HTTP_TRANSFER_ENCODING', 'HTTP_X_DETECT_CONTENT_TYPE'):
            env.pop(key, None)
        override = 'HTTP_' + UPDATE_OVERRIDE_ETAG.upper().replace('-', '_')
        base, sep, params = env.get(override, '').partition(';')
        env[override] = '%s; slo_etag=%s' % (
            (base.strip() or body_md5) + sep + params, etag)
        env.update({
            'wsgi.input': io.BytesIO(body),
            'CONTENT_LENGTH': str(len(body)),
            'CONTENT_TYPE': '%s;swift_bytes=%d' % (ctype, total),
            'HTTP_ETAG': body_md5,
            'HTTP_X_STATIC_LARGE_OBJECT': 'True',
            'HTTP_' + SLO_ETAG.upper().replace('-', '_'): etag,
            'HTTP_' + SLO_SIZE.upper().replace('-', '_'): str(total),
        })
        if raw is not None:
            env['headers_raw'] = tuple(raw) + (('Content-Type', ctype),)
        resp = call_app(self.slo.app, env)
        try:
            answer = resp.read(1024 * 1024)
        except ValueError:
            answer = b''
        fields = {'Response Body': answer.decode('utf-8', 'replace')}
        headers = header_items(resp.header_list, ('content-length',))
        if not resp.ok:
            return Outcome(resp.status, headers, answer, fields=fields)
        headers = [(k, v) for k, v in headers if k.lower() != 'etag']
        headers.append(('Etag', '"%s"' % etag))
        fields['Etag'] = '"%s"' % etag
        fields['Last Modified'] = resp.headers.get('last-modified', '')
        return Outcome(resp.status, headers, answer, fields=fields)
