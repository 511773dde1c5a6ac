"""Scan on read: judge an object as it is served, when it has no verdict.

Why: objects stored before the filter existed, stored unscanned (clamd
down with ``on_error = allow``), or whose verdict predates today's
signatures would otherwise be served unjudged forever; and a dynamic large
object (DLO) changes whenever its segments do, so it can only be judged
as it is read.  The body is streamed to clamd while it streams to the
client, and the last chunk is held back until clamd answered: an infected
body is cut off (the connection is dropped short of its Content-Length),
the object is marked infected through a verdict update, one line is
logged.  A clean result is recorded the same way, so the next read is
free.  HEAD never scans.

A ranged or conditional GET of an object that needs a scan is served only
after a full scan of the object (a GET subrequest without those headers,
which also records the verdict): a part of a body cannot be judged.

Objects marked infected are refused with 403 (``deny_infected_reads``).
"""
import io
import time

import eventlet

from objproxy.common.clamd import ClamdError
from objproxy.common.response import is_success, status_code
from middleware import clamav_verdict as av

#: Request headers that make a GET answer with part of the body or none.
PARTIAL = ('HTTP_RANGE', 'HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH',
           'HTTP_IF_MODIFIED_SINCE', 'HTTP_IF_UNMODIFIED_SINCE')
SOURCE = 'AV'


class ScanAborted(Exception):
    """Raised inside a response body to drop the client's connection."""


def subrequest_env(env, method='GET', path=None, drop=PARTIAL):
    """A GET subrequest as the client (same identity and auth hooks)."""
    sub = dict((k, v) for k, v in env.items() if k not in drop)
    sub.update({'REQUEST_METHOD': method, 'CONTENT_LENGTH': '0',
                'wsgi.input': io.BytesIO(b''), 'swift.source': SOURCE})
    sub.pop('HTTP_TRANSFER_ENCODING', None)
    if path is not None:
        sub['PATH_INFO'] = path
        sub['QUERY_STRING'] = ''
    return sub


def call_app(app, env):
    """(status, headers, body iterable) of ``app`` for ``env``."""
    captured = []

    def start(status, headers, exc_info=None):
        captured[:] = [status, headers]
    body = app(env, start)
    if not captured:            # a lazy app starts on the first chunk
        body = iter(body)
        first = next(body, b'')
        body = _chain([first], body)
    return captured[0], captured[1], body


def _chain(first, rest):
    try:
        for piece in first:
            yield piece
        for piece in rest:
            yield piece
    finally:
        close(rest)


def close(body):
    if hasattr(body, 'close'):
        body.close()


class ReadScanner(object):
    """The GET/HEAD half of the clamav filter (``filt`` holds settings)."""

    def __init__(self, filt):
        self.f = filt

    def __call__(self, env, start_response, target):
        f = self.f
        expose = f.expose(start_response)
        if env['REQUEST_METHOD'] == 'HEAD':
            return f.app(env, expose)
        status, headers, body = call_app(f.app, env)
        hdrs = dict((k.lower(), v) for k, v in headers)
        verdict, signatures = av.stored_verdict(hdrs)
        if not is_success(status_code(status)):
            return self._send(expose, status, headers, body)
        if verdict == av.INFECTED and f.deny_infected_reads:
            close(body)
            return self.refuse(env, start_response, target,
                               hdrs.get(av.FOUND) or 'unknown')
        raw_manifest = 'multipart-manifest=get' in env.get('QUERY_STRING',
                                                           '')
        dlo = 'x-object-manifest' in hdrs and not raw_manifest
        # the verdict is stored only on the object named by the path: not
        # for a DLO, a symlink's target or an old version
        record = not dlo and 'content-location' not in hdrs and \
            'version-id=' not in env.get('QUERY_STRING', '')
        if raw_manifest or f.scan_on_read == 'never' or (
                env.get('swift.source') and not dlo):
            return self._send(expose, status, headers, body)
        if not dlo and not av.needs_scan(verdict, signatures,
                                         f.current_signatures(),
                                         f.scan_on_read):
            return self._send(expose, status, headers, body)
        try:
            length = int(hdrs.get('content-length'))
        except (TypeError, ValueError):
            length = None
        if length is not None and length > f.max_scan_size:
            f.metrics.count('unscanned')
            return self._send(expose, status, headers, body)
        partial = status.startswith('206') or any(k in env for k in PARTIAL)
        if partial:
            close(body)
            outcome, found = self.full_scan(env, target, record=record)
            if outcome == 'infected' and f.deny_infected_reads:
                return self.refuse(env, start_response, target, found)
            if outcome == 'error' and f.on_error == 'refuse':
                return f.unavailable(start_response)
            return f.app(env, expose)
        try:
            stream = f.open_stream()
        except ClamdError as err:
            f.logger.error('clamav: cannot scan read of %s: %s',
                           '/'.join(target), err)
            if f.on_error == 'refuse':
                close(body)
                return f.unavailable(start_response)
            f.metrics.count('unscanned')
            return self._send(expose, status, headers, body)
        # Pull the first chunk before answering: a body that fits in the
        # held-back chunk is judged before any byte or header is sent, so
        # the client gets a plain 403 instead of a cut-off 200.
        state = {}
        scanned = self._scanned_body(env, target, body, stream,
                                     record=record, state=state)
        try:
            first = next(scanned, b'')
        except ScanAborted:
            if state.get('outcome') == 'infected':
                return self.refuse(env, start_response, target,
                                   state['found'])
            return f.unavailable(start_response, scan_failed=True)
        expose(status, headers)
        return _chain([first], scanned)

    def refuse(self, env, start_response, target, signature):
        """403 for a read of an object known to be infected."""
        self.f.logger.info(
            'clamav: read of infected object refused txn=%s account=%s '
            'container=%s object=%s signature=%s', self.f.trans_id(env),
            *(tuple(target) + (signature,)))
        return self.f.forbidden(start_response, signature, 'object')

    @staticmethod
    def _send(expose, status, headers, body):
        expose(status, headers)
        return body

    def full_scan(self, env, target, record=True):
        """Read the whole object through the app into clamd and record the
        verdict: (outcome, signature found), the outcome being 'clean',
        'infected', 'error' or 'unscanned'."""
        f = self.f
        status, headers, body = call_app(f.app, subrequest_env(env))
        if not is_success(status_code(status)):
            close(body)
            return 'unscanned', None
        try:
            stream = f.open_stream()
        except ClamdError:
            close(body)
            return 'error', None
        state = {'outcome': 'error', 'found': None}
        try:
            for _piece in self._scanned_body(env, target, body, stream,
                                             record=record, raise_on=False,
                                             state=state):
                pass
        finally:
            close(body)
        return state['outcome'], state['found']

    def _scanned_body(self, env, target, body, stream, record=True,
                      raise_on=True, state=None):
        """Yield ``body`` while feeding clamd, holding back its last chunk
        until the verdict; an infected body ends with ScanAborted."""
        f = self.f
        started = time.monotonic()
        held = None
        sent = 0
        state = {} if state is None else state
        state['outcome'] = 'error'
        try:
            try:
                for piece in body:
                    if not piece:
                        continue
                    stream.write(piece)
                    sent += len(piece)
                    if sent > f.max_scan_size:
                        raise ClamdError('body grew past max_scan_size')
                    if held is not None:
                        yield held
                    held = piece
                verdict = stream.finish()
            finally:
                close(body)
        except ClamdError as err:
            stream.close()
            f.metrics.scanned('errors', sent, time.monotonic() - started)
            f.logger.error('clamav: scan on read of %s failed: %s',
                           '/'.join(target), err)
            if f.on_error == 'refuse' and raise_on:
                raise ScanAborted(str(err))
            if held is not None:
                yield held
            return
        elapsed = time.monotonic() - started
        engine, signatures = f.label_pair()
        if verdict.status == 'FOUND':
            state.update(outcome='infected', found=verdict.signature)
            f.metrics.scanned('infected', sent, elapsed)
            f.logger.warning(
                'clamav: infected object found on read txn=%s account=%s '
                'container=%s object=%s signature=%s', f.trans_id(env),
                *(tuple(target) + (verdict.signature,)))
            if record:
                self._record(target, av.verdict_headers(
                    av.INFECTED, engine, signatures, verdict.signature))
            if raise_on:
                raise ScanAborted(verdict.signature)
            return
        state['outcome'] = 'clean'
        f.metrics.scanned('clean', sent, elapsed)
        if record:
            self._record(target, av.verdict_headers(av.CLEAN, engine,
                                                    signatures))
        if held is not None:
            yield held

    def _record(self, target, headers):
        """Write the verdict to the object's replicas in the background
        (the reader does not wait for the nodes)."""
        f = self.f
        proxy = f.proxy_app()
        if proxy is None:
            return
        account, container, obj = target

        def send():
            got = av.update_replicas(
                proxy.pool, proxy.object_ring, account, container, obj,
                headers, proxy.conn_timeout, proxy.node_timeout)
            if not got:
                f.logger.error('clamav: no node took the verdict update '
                               'of %s/%s/%s', account, container, obj)
        eventlet.spawn_n(send)
