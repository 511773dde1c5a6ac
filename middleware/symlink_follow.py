"""Following symlinks on GET/HEAD, for ``middleware.symlink``.

A link is an empty object whose sysmeta names its target.  A GET or HEAD
is first sent as it came; when the answer carries
``X-Object-Sysmeta-Symlink-Target`` its (small, empty) body is dropped and
the same request, with the client's headers, is sent to the target as a
subrequest through the rest of the pipeline -- so the proxy authorizes
every hop as the client.  That repeats until an answer is not a link (or
``symloop_max`` links have been followed: 409).  The answer that ends the
walk is streamed to the client untouched, plus ``Content-Location``
naming the object it came from.

Static links also carry the target's ETag: every hop checks that the
object it reaches has the ETag the previous link recorded (409
otherwise).  Links written by middleware may carry
``X-Object-Sysmeta-Allow-Reserved-Names`` (their target is in the
reserved namespace, which the middleware already authorized: that hop is
pre-authorized) and ``X-Object-Sysmeta-Symloop-Extend`` (the hop does not
count towards ``symloop_max``), as Swift's object versioning uses them.

Conditional and ranged requests: a link's own answer to ``If-Match``
or ``Range`` says nothing about the target.  Swift's object server keeps
the object's metadata on its 304/412 and ignores ``Range`` on a link
(``X-Backend-Ignore-Range-If-Metadata-Present``), and the walk goes on
whatever the status.  A 412 or 416 that carries only validators (an
object server or proxy that does not do the same) hides that it was a
link; such an answer for an empty object is re-checked with an
unconditional HEAD of the same path and followed when it is a link.
"""
from urllib.parse import quote, unquote

from objproxy.common.config import config_true_value
from objproxy.common.paths import ALLOW_RESERVED_ENV
from middleware.large_objects import (
    CONDITIONAL_ENV, call_app, make_subrequest_env)

MD5_OF_EMPTY_STRING = 'd41d8cd98f00b204e9800998ecf8427e'
SYSMETA_TARGET = 'x-object-sysmeta-symlink-target'
SYSMETA_ACCOUNT = 'x-object-sysmeta-symlink-target-account'
SYSMETA_ETAG = 'x-object-sysmeta-symlink-target-etag'
SYSMETA_BYTES = 'x-object-sysmeta-symlink-target-bytes'
SYMLOOP_EXTEND = 'x-object-sysmeta-symloop-extend'
ALLOW_RESERVED_NAMES = 'x-object-sysmeta-allow-reserved-names'
IGNORE_RANGE_ENV = 'HTTP_X_BACKEND_IGNORE_RANGE_IF_METADATA_PRESENT'
# never carried from one hop to the next: the target has its own policy
HOP_DROP = ('HTTP_X_BACKEND_STORAGE_POLICY_INDEX',)


class LinkConflict(Exception):
    """The walk ends in a 409; ``location`` is the object concerned."""

    def __init__(self, message, location=None):
        super().__init__(message)
        self.message = message
        self.location = location


class TooManyLinks(Exception):
    """More than ``symloop_max`` links in a row."""


def wsgi_quote(value):
    """Percent-encode a WSGI (latin-1) string as Swift's wsgi_quote."""
    return quote(value.encode('latin-1'), safe='/')


def wsgi_unquote(value):
    return unquote(value, encoding='latin-1')


def ignore_range_on_links(env):
    """Ask the object server to ignore ``Range`` on a link: the range is
    for the target (csv, as slo may have named its own header)."""
    current = env.get(IGNORE_RANGE_ENV)
    names = [n.strip().lower() for n in (current or '').split(',')
             if n.strip()]
    if SYSMETA_TARGET not in names:
        env[IGNORE_RANGE_ENV] = ', '.join(
            ([current.strip()] if current and current.strip() else []) +
            [SYSMETA_TARGET])


def pre_authorize(env):
    """A subrequest the proxy must not judge again (Swift's pre-authed
    requests): middleware already decided."""
    env['swift.authorize'] = lambda req: None
    env['swift.authorize_override'] = True


class LinkWalker(object):
    """One client request's walk along a chain of links."""

    def __init__(self, app, symloop_max):
        self.app = app
        self.symloop_max = symloop_max
        self.loop_count = 0
        self.last_target = None     # quoted path of the last hop, if any

    def walk(self, env, orig_env=None, expected_etag=None,
             follow_dynamic=True):
        """The SubResponse that ends the walk started by ``env``.

        ``orig_env`` lends the client's identity to every hop;
        ``expected_etag`` is what the first object reached must have
        (a static link's check); with ``follow_dynamic`` False only
        static links are followed (used when checking a static link's
        target at PUT)."""
        orig_env = orig_env or env
        resp = call_app(self.app, env)
        while True:
            link_headers = self._link_headers(env, resp)
            target = link_headers.get(SYSMETA_TARGET)
            static_etag = link_headers.get(SYSMETA_ETAG)
            if not (target and (static_etag or follow_dynamic)):
                return self._finish(resp, expected_etag)
            resp.drain()
            found = static_etag or link_headers.get('etag')
            if expected_etag and expected_etag != found:
                raise LinkConflict(
                    'X-Symlink-Target-Etag headers do not match',
                    self.last_target)
            if self.loop_count >= self.symloop_max:
                raise TooManyLinks()
            env = self._hop_env(env, orig_env, link_headers, target)
            if not config_true_value(link_headers.get(SYMLOOP_EXTEND)):
                self.loop_count += 1
            expected_etag = static_etag
            follow_dynamic = True
            resp = call_app(self.app, env)

    def _link_headers(self, env, resp):
        """The answer's headers (lower-case keys); for a bare 412/416 of
        an empty object, with the sysmeta of an unconditional HEAD."""
        if SYSMETA_TARGET in resp.headers or \
                resp.status_int not in (412, 416):
            return resp.headers
        if resp.headers.get('etag', MD5_OF_EMPTY_STRING).strip('"') != \
                MD5_OF_EMPTY_STRING:
            return resp.headers
        probe_env = dict(env)
        for key in CONDITIONAL_ENV:
            probe_env.pop(key, None)
        probe_env['REQUEST_METHOD'] = 'HEAD'
        probe = call_app(self.app, probe_env)
        probe.drain()
        if probe.ok and SYSMETA_TARGET in probe.headers:
            headers = dict(resp.headers)
            for key, value in probe.headers.items():
                if key.startswith('x-object-sysmeta-'):
                    headers[key] = value
            return headers
        return resp.headers

    def _hop_env(self, env, orig_env, link_headers, target):
        """The subrequest for a link's target, with this hop's headers."""
        parts = env['PATH_INFO'].split('/', 3)
        version, account = parts[1], parts[2]
        account = link_headers.get(SYSMETA_ACCOUNT) or wsgi_quote(account)
        target_path = '/'.join(('', version, account, target.lstrip('/')))
        self.last_target = target_path
        headers = dict((key, value) for key, value in env.items()
                       if key.startswith('HTTP_') and key not in HOP_DROP)
        new = make_subrequest_env(
            orig_env, env['REQUEST_METHOD'], wsgi_unquote(target_path),
            source='SYM')
        new.update(headers)
        if config_true_value(link_headers.get(ALLOW_RESERVED_NAMES)):
            # middleware (object versioning) wrote this link into the
            # reserved namespace, which clients cannot name themselves
            pre_authorize(new)
            new[ALLOW_RESERVED_ENV] = 'true'
        return new

    def _finish(self, resp, expected_etag):
        final_etag = resp.headers.get('etag')
        if final_etag and expected_etag and \
                final_etag.strip('"') != expected_etag:
            resp.close()
            raise LinkConflict(
                'Object Etag %r does not match X-Symlink-Target-Etag '
                'header %r' % (final_etag, expected_etag), self.last_target)
        if self.last_target:
            resp.header_list.append(('Content-Location', self.last_target))
        return resp
