"""CORS for containers and objects, from the container's CORS metadata.

Why in the proxy: a browser's preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) carries no token, and the answer to any
request from a page must name the allowed origin and expose the object's
metadata headers, or the page's script cannot read them.  The settings
live in container metadata (``X-Container-Meta-Access-Control-Allow-
Origin``, ``-Max-Age``, ``-Expose-Headers``), as in Swift; with
``strict_cors_mode`` (on, as Swift's default) an origin the container does
not list gets no CORS headers at all.
"""
from objproxy.proxy.response import Response

# What a browser may always read from a response (Swift's list).
ALWAYS_EXPOSED = ('cache-control', 'content-language', 'content-type',
                  'expires', 'last-modified', 'pragma', 'etag',
                  'x-timestamp', 'x-trans-id', 'x-openstack-request-id')
META_PREFIXES = ('x-container-meta-', 'x-object-meta-')


def origin_allowed(cors, origin):
    allowed = (cors or {}).get('allow_origin') or ''
    origins = allowed.split()
    return '*' in origins or origin in origins


def preflight(allowed_methods, cors, req):
    """The answer to ``OPTIONS``: 200 with ``Allow``, plus the CORS grant
    for a preflight from an origin the container allows (else 401)."""
    allow = ', '.join(sorted(allowed_methods))
    origin = req.headers.get('Origin')
    if not origin:
        return Response(200, headers={'Allow': allow})
    if cors is None:          # an account: no CORS settings to grant from
        return Response(200, headers={'Allow': allow})
    wanted = req.headers.get('Access-Control-Request-Method')
    if not origin_allowed(cors, origin) or wanted not in allowed_methods:
        return Response(401, headers={'Allow': allow})
    headers = {'Allow': allow,
               'Access-Control-Allow-Methods': allow,
               'Access-Control-Allow-Origin': allow_origin_value(cors,
                                                                 origin),
               'Vary': 'Origin'}
    if cors.get('max_age') is not None:
        headers['Access-Control-Max-Age'] = cors['max_age']
    asked = [h.strip() for h in req.headers.get(
        'Access-Control-Request-Headers', '').split(',') if h.strip()]
    if asked:
        headers['Access-Control-Allow-Headers'] = ', '.join(asked)
        headers['Vary'] += ', Access-Control-Request-Headers'
    return Response(200, headers=headers)


def allow_origin_value(cors, origin):
    if (cors.get('allow_origin') or '').strip() == '*':
        return '*'
    return origin


def expose(cors, origin, resp, strict=True):
    """Add the CORS headers to an actual (non-preflight) answer."""
    if strict and not origin_allowed(cors, origin):
        return resp
    exposed = set(ALWAYS_EXPOSED)
    exposed.update(name.lower() for name, _value in resp.headers
                   if name.lower().startswith(META_PREFIXES))
    exposed.update(h.lower() for h in (cors.get('expose_headers') or
                                       '').split())
    resp.set_header('Access-Control-Expose-Headers',
                    ', '.join(sorted(exposed)))
    if resp.get_header('Access-Control-Allow-Origin') is None:
        value = allow_origin_value(cors, origin)
        resp.set_header('Access-Control-Allow-Origin', value)
        if value != '*':
            vary = resp.get_header('Vary')
            resp.set_header('Vary', vary + ', Origin' if vary else 'Origin')
    return resp
