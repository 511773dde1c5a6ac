"""CORS for containers and objects, as Swift's proxy does it.

Why in the proxy: a browser's preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) carries no token, and the answer to any
request from a page must name the allowed origin and expose the object's
metadata headers, or the page's script cannot read them.

Who may: the origins a container lists (space-separated) in
``X-Container-Meta-Access-Control-Allow-Origin``, plus the operator's
``cors_allow_origin`` (comma-separated, for every container); ``*``
allows any.  ``X-Container-Meta-Access-Control-Max-Age`` is returned on a
granted preflight, ``-Expose-Headers`` (space-separated) and the
operator's ``cors_expose_headers`` are added to what an answer exposes.

Actual requests: with ``strict_cors_mode`` (Swift's default) an origin
that is not allowed gets no CORS headers at all, so the browser refuses
the page the answer; with it off every origin is answered as if allowed
(the old Swift behaviour).  Only container and object requests take part;
accounts have no CORS settings.

Options (``[app:proxy_server]``, Swift's names and defaults)::

    cors_allow_origin =          # comma-separated origins, for all containers
    cors_expose_headers =        # comma-separated extra headers to expose
    strict_cors_mode = true
"""
from collections import namedtuple

from objproxy.common.config import get_bool, get_list
from objproxy.common.exceptions import ConfigError
from objproxy.common.response import Response, error_response

SECTION = 'app:proxy_server'
OPTION_NAMES = ('cors_allow_origin', 'cors_expose_headers',
                'strict_cors_mode')
# What a browser may always read from an answer: the CORS "simple response
# headers" and Swift's own (the same list as Swift).
ALWAYS_EXPOSED = ('cache-control', 'content-language', 'content-type',
                  'expires', 'last-modified', 'pragma', 'etag',
                  'x-timestamp', 'x-trans-id', 'x-openstack-request-id')
META_PREFIXES = ('x-container-meta-', 'x-object-meta-')
HTML = 'text/html; charset=UTF-8'

CorsOptions = namedtuple('CorsOptions',
                         'allow_origin expose_headers strict')
DEFAULTS = CorsOptions((), (), True)


def load_options(conf, section=SECTION):
    """The proxy's CORS options from its config (ConfigError if invalid)."""
    conf = conf or {}
    origins = get_list(conf, 'cors_allow_origin')
    for origin in origins:
        if any(ch.isspace() for ch in origin):
            raise ConfigError('[%s] cors_allow_origin is a comma-separated '
                              'list of origins, not %r'
                              % (section, conf['cors_allow_origin']))
    exposed = get_list(conf, 'cors_expose_headers')
    return CorsOptions(tuple(origins),
                       tuple(name.lower() for name in exposed),
                       get_bool(conf, 'strict_cors_mode', True, section))


def options_for(app):
    """The options an Application loaded (``app.cors``), else read from its
    conf (an Application built before it kept them)."""
    found = getattr(app, 'cors', None)
    if isinstance(found, CorsOptions):
        return found
    return load_options(getattr(app, 'conf', None))


def _split(value):
    return [part for part in (value or '').split() if part]


def origin_allowed(cors, origin, options=DEFAULTS):
    allowed = set(_split((cors or {}).get('allow_origin')))
    allowed.update(options.allow_origin)
    return '*' in allowed or origin in allowed


def _container_says_any(cors):
    return ((cors or {}).get('allow_origin') or '').strip() == '*'


def preflight(allowed_methods, cors, req, options=DEFAULTS):
    """The answer to ``OPTIONS``: 200 with ``Allow``; for a preflight (one
    with ``Origin``) the grant, or 401 when the origin or the method is not
    allowed.  ``cors`` is None for an account (nothing to grant from)."""
    allow = ', '.join(sorted(allowed_methods))
    origin = req.headers.get('Origin')
    if not origin or cors is None:
        return Response(200, headers=[('Allow', allow),
                                      ('Content-Type', HTML)])
    wanted = req.headers.get('Access-Control-Request-Method')
    if not origin_allowed(cors, origin, options) or \
            wanted not in allowed_methods:
        return error_response(401, headers={'Allow': allow})
    headers = [('Allow', allow)]
    vary = []
    if _container_says_any(cors):
        headers.append(('Access-Control-Allow-Origin', '*'))
    else:
        headers.append(('Access-Control-Allow-Origin', origin))
        vary.append('Origin')
    if cors.get('max_age') is not None:
        headers.append(('Access-Control-Max-Age', cors['max_age']))
    headers.append(('Access-Control-Allow-Methods', allow))
    asked = []
    for name in req.headers.get('Access-Control-Request-Headers',
                                '').split(','):
        name = name.strip()
        if name and name not in asked:
            asked.append(name)
    if asked:
        # any header the page asks for: the ACLs, not CORS, guard the data
        headers.append(('Access-Control-Allow-Headers', ', '.join(asked)))
        vary.append('Access-Control-Request-Headers')
    if vary:
        headers.append(('Vary', ', '.join(vary)))
    return Response(200, headers=headers)


class _Headers(object):
    """Header access on our Response and on an auth filter's webob one."""

    def __init__(self, resp):
        self.resp = resp
        self.webob = not isinstance(resp, Response)

    def names(self):
        if self.webob:
            return list(self.resp.headers.keys())
        return [name for name, _value in self.resp.headers]

    def get(self, name):
        if self.webob:
            return self.resp.headers.get(name)
        return self.resp.get_header(name)

    def set(self, name, value):
        if self.webob:
            self.resp.headers[name] = value
        else:
            self.resp.set_header(name, value)


def expose(cors, origin, resp, strict=True, options=None):
    """Add Swift's CORS headers to an actual (non-preflight) answer to
    ``origin``; ``cors`` is the container's CORS info."""
    options = options or DEFAULTS._replace(strict=strict)
    cors = cors or {}
    if options.strict and not origin_allowed(cors, origin, options):
        return resp
    headers = _Headers(resp)
    if headers.get('Access-Control-Expose-Headers') is None:
        exposed = set(ALWAYS_EXPOSED)
        exposed.update(options.expose_headers)
        exposed.update(name.lower() for name in headers.names()
                       if name.lower().startswith(META_PREFIXES))
        exposed.update(name.lower() for name in
                       _split(cors.get('expose_headers')))
        headers.set('Access-Control-Expose-Headers',
                    ', '.join(sorted(exposed)))
    if headers.get('Access-Control-Allow-Origin') is None:
        if _container_says_any(cors):
            headers.set('Access-Control-Allow-Origin', '*')
        else:
            headers.set('Access-Control-Allow-Origin', origin)
            vary = headers.get('Vary')
            headers.set('Vary', vary + ', Origin' if vary else 'Origin')
    return resp


def handle(app, controller, req, method):
    """Run ``controller``'s ``method`` for ``req``; a cross-origin request
    to a container or object gets its CORS headers, judged (as in Swift)
    by the container's settings as they were before the request."""
    handler = getattr(controller, method)
    origin = req.headers.get('Origin')
    container = getattr(controller, 'container_name', None)
    if not origin or method == 'OPTIONS' or not container:
        return handler(req)
    info = app.container_info(req.environ, controller.account_name,
                              container)
    cors = info.get('cors') or {}
    resp = handler(req)
    if hasattr(resp, 'headers'):
        expose(cors, origin, resp, options=options_for(app))
    return resp
