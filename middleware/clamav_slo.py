"""Judge a static large object (SLO) as clients will read it.

Why: every segment of an SLO is scanned on its own PUT, but a signature
split across segments (``swift upload --segment-size 10`` of the EICAR
file) is in no single segment.  So before the manifest is committed, its
segments are read in order, each through a GET subrequest to the rest of
the pipeline (authorised as the client, a range of a segment as listed,
inline ``data`` segments decoded) and fed to one INSTREAM session: clamd
sees exactly the bytes a GET of the SLO will return.  Infected: ``403``
naming the signature, nothing committed.  Clean: the manifest PUT goes on
carrying the clean verdict.

Anything unexpected about the manifest (not JSON, a segment that cannot be
read) is left to the slo filter, which answers the client with Swift's
error; it is passed on without a verdict, so a manifest stored anyway (a
race with a segment upload) is judged on its first read.  A manifest body
larger than ``MAX_MANIFEST`` is also passed on unread (slo refuses it).

Size: the joined content is subject to ``max_scan_size`` and ``oversize``
exactly like a single object: refused with 413, or stored labelled
``unscanned; oversize``.
"""
import base64
import io
import json
import time

from objproxy.common.clamd import ClamdError
from objproxy.common.paths import str_to_wsgi
from objproxy.common.response import is_success, status_code
from middleware import clamav_verdict as av
from middleware.clamav_read import call_app, close, subrequest_env

#: Swift's default max_manifest_size (slo) is 8 MiB.
MAX_MANIFEST = 8 * 1024 * 1024 + 1


class Oversize(Exception):
    pass


class Unreadable(Exception):
    pass


def read_body(env, limit):
    """The request body, at most ``limit`` bytes (plus one to tell)."""
    source = env['wsgi.input']
    parts, total = [], 0
    while total <= limit:
        piece = source.read(min(65536, limit + 1 - total))
        if not piece:
            break
        parts.append(piece)
        total += len(piece)
    return b''.join(parts)


def segments(body):
    """The manifest's entries, or None when it is not a list of objects."""
    try:
        entries = json.loads(body)
    except (ValueError, RecursionError):    # deep nesting: slo refuses it
        return None
    if not isinstance(entries, list) or \
            not all(isinstance(e, dict) for e in entries):
        return None
    return entries


class ManifestScanner(object):
    """The SLO-manifest half of the clamav filter."""

    def __init__(self, filt):
        self.f = filt

    def __call__(self, env, start_response, target):
        f = self.f
        body = read_body(env, MAX_MANIFEST)
        env['wsgi.input'] = io.BytesIO(body)
        env['CONTENT_LENGTH'] = str(len(body))
        env.pop('HTTP_TRANSFER_ENCODING', None)
        entries = segments(body) if len(body) < MAX_MANIFEST else None
        if entries is None:
            return f.app(env, start_response)
        where = 'txn=%s account=%s container=%s object=%s' % (
            (f.trans_id(env),) + tuple(target))
        # a manifest scan counts against max_concurrent_scans like an upload
        if not f.slots.acquire(timeout=f.scan_queue_timeout):
            f.logger.error('clamav: no free scan slot for manifest %s', where)
            return f.unavailable(start_response)
        try:
            return self._scan(env, start_response, entries, where, target[0])
        finally:
            f.slots.release()

    def _scan(self, env, start_response, entries, where, account):
        f = self.f
        try:
            stream = f.open_stream()
        except ClamdError as err:
            if f.on_error == 'allow':
                f.logger.error('clamav: clamd unavailable, storing manifest '
                               'unscanned %s: %s', where, err)
                f.metrics.count('unscanned')
                f.set_verdict(env, f.LABEL_UNAVAILABLE)
                return f.app(env, start_response)
            f.logger.error('clamav: clamd unavailable, refusing manifest '
                           '%s: %s', where, err)
            return f.unavailable(start_response)
        started = time.monotonic()
        sent = [0]
        try:
            for piece in self._content(env, account, entries):
                sent[0] += len(piece)
                if sent[0] > f.max_scan_size:
                    raise Oversize()
                stream.write(piece)
            verdict = stream.finish()
        except Unreadable:
            stream.close()
            return f.app(env, start_response)
        except Oversize:
            stream.close()
            if f.oversize == 'refuse':
                f.logger.info('clamav: refused oversize manifest %s', where)
                return f.too_large(start_response)
            f.logger.warning('clamav: storing oversize manifest unscanned '
                             '%s', where)
            f.metrics.count('unscanned')
            f.set_verdict(env, f.LABEL_OVERSIZE)
            return f.app(env, start_response)
        except ClamdError as err:
            stream.close()
            f.metrics.scanned('errors', sent[0], time.monotonic() - started)
            f.logger.error('clamav: scan of manifest failed %s: %s',
                           where, err)
            return f.unavailable(start_response, scan_failed=True)
        elapsed = time.monotonic() - started
        if verdict.status == 'FOUND':
            f.metrics.scanned('infected', sent[0], elapsed)
            f.logger.warning('clamav: infected large object rejected %s '
                             'signature=%s', where, verdict.signature)
            return f.forbidden(start_response, verdict.signature,
                               what='large object')
        f.metrics.scanned('clean', sent[0], elapsed)
        engine, signatures = f.label_pair()
        f.set_verdict(env, av.CLEAN, engine, signatures)
        return f.app(env, start_response)

    def _content(self, env, account, entries):
        """The SLO's bytes in order, as a GET of it would return them."""
        for entry in entries:
            if 'data' in entry:
                try:
                    yield base64.b64decode(entry['data'], validate=True)
                except (TypeError, ValueError):
                    raise Unreadable()
                continue
            path = entry.get('path')
            if not isinstance(path, str) or not path.strip('/') or \
                    '/' not in path.strip('/'):
                raise Unreadable()
            sub = subrequest_env(env, path=str_to_wsgi('/v1/%s/%s' % (
                account, path.lstrip('/'))))
            if entry.get('range'):
                sub['HTTP_RANGE'] = 'bytes=%s' % entry['range']
            status, _headers, body = call_app(self.f.app, sub)
            try:
                if not is_success(status_code(status)):
                    raise Unreadable()
                for piece in body:
                    if piece:
                        yield piece
            finally:
                close(body)
