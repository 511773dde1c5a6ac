"""Splitting and validating request paths before they touch anything.

WSGI hands us PATH_INFO as latin-1-decoded bytes; every name must be valid
UTF-8, and no segment may be empty, ``.`` or ``..`` where a name is
expected, so that no crafted path can escape a devices root.

NUL is Swift's reserved namespace: names holding it (object versioning's
``\x00versions\x00<container>`` and ``\x00<obj>\x00<inverted ts>``)
belong to middleware, never to clients.  A client's NUL is refused (412);
only a request carrying ``X-Backend-Allow-Reserved-Names: true`` -- a
header the gatekeeper strips from every client request, so only the
proxy's own subrequests and its backend requests carry it -- may name
them (``allow_reserved``).
"""
from urllib.parse import parse_qsl, quote as _quote, urlencode

from objproxy.common.config import config_true_value

RESERVED = '\x00'
ALLOW_RESERVED_HEADER = 'X-Backend-Allow-Reserved-Names'
ALLOW_RESERVED_ENV = 'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES'


class PathError(ValueError):
    """The path is malformed; the message is safe to show the client."""


def wsgi_to_str(value):
    """PATH_INFO (latin-1 code points) to the real UTF-8 text, or PathError."""
    if value is None:
        return None
    try:
        return value.encode('latin-1').decode('utf-8')
    except UnicodeEncodeError:
        # already real text (e.g. from Request.blank with unicode)
        return value
    except UnicodeDecodeError:
        raise PathError('Invalid UTF8 or contains NULL')


def str_to_wsgi(value):
    return value.encode('utf-8').decode('latin-1')


def validate_name(name, allow_reserved=False):
    if not allow_reserved and RESERVED in name:
        raise PathError('Invalid UTF8 or contains NULL')
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        raise PathError('Invalid UTF8 or contains NULL')


def split_path(path, minsegs=1, maxsegs=None, rest_with_last=False,
               allow_reserved=False):
    """Split ``/a/b/c`` into segments with Swift's ``split_path`` rules.

    Returns a list of length ``maxsegs`` padded with None. With
    ``rest_with_last`` the last segment keeps any further slashes (object
    names may contain ``/``).  NUL in a segment is a PathError unless
    ``allow_reserved``.
    """
    if not maxsegs:
        maxsegs = minsegs
    if minsegs > maxsegs:
        raise ValueError('minsegs > maxsegs')
    if not path.startswith('/'):
        raise PathError('Invalid path: %s' % quote(path))
    if rest_with_last:
        segs = path.split('/', maxsegs)
        minsegs += 1
        maxsegs += 1
        count = len(segs)
        if (segs[0] or count < minsegs or count > maxsegs or
                '' in segs[1:minsegs]):
            raise PathError('Invalid path: %s' % quote(path))
    else:
        minsegs += 1
        maxsegs += 1
        segs = path.split('/', maxsegs)
        count = len(segs)
        if (segs[0] or count < minsegs or count > maxsegs + 1 or
                '' in segs[1:minsegs] or
                (count == maxsegs + 1 and segs[maxsegs])):
            raise PathError('Invalid path: %s' % quote(path))
    segs = segs[1:maxsegs]
    if not all(segs[:-1]):         # only the last segment may be empty
        raise PathError('Invalid path: %s' % quote(path))
    segs.extend([None] * (maxsegs - 1 - len(segs)))
    for seg in segs:
        if seg is not None:
            validate_name(seg, allow_reserved)
    return segs


def reserved_names_allowed(env):
    """Whether this request may name the reserved namespace."""
    return config_true_value(env.get(ALLOW_RESERVED_ENV))


def get_reserved_name(*parts):
    """``\x00`` + the parts joined by ``\x00`` (Swift's format)."""
    if any(RESERVED in part for part in parts):
        raise ValueError('Invalid reserved part in components')
    return RESERVED + RESERVED.join(parts)


def split_reserved_name(name):
    """The parts of a reserved name; ValueError for any other name."""
    if not name.startswith(RESERVED):
        raise ValueError('Invalid reserved name')
    return name[1:].split(RESERVED)


def quote(value, safe='/'):
    if isinstance(value, str):
        value = value.encode('utf-8', 'surrogateescape')
    return _quote(value, safe)


def backend_query(wsgi_query):
    """A client's QUERY_STRING re-encoded for a backend request line.

    WSGI hands the query over as latin-1 code points, raw bytes and all; a
    node must get it percent-encoded UTF-8, exactly as Swift forwards it.
    Raises PathError for a query that is not valid UTF-8 (the client's
    400, decided before any node is asked).
    """
    if not wsgi_query:
        return wsgi_query
    try:
        text = wsgi_query.encode('latin-1').decode('utf-8')
    except UnicodeEncodeError:
        text = wsgi_query          # already real text
    except UnicodeDecodeError:
        raise PathError('Invalid UTF8 in query string')
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding='utf-8',
                          errors='strict')
    except (UnicodeDecodeError, ValueError):
        raise PathError('Invalid UTF8 in query string')
    return urlencode(pairs, quote_via=_quote)
