"""Splitting and validating request paths before they touch anything.

WSGI hands us PATH_INFO as latin-1-decoded bytes; every name must be valid
UTF-8 with no NUL bytes, and no segment may be empty, ``.`` or ``..`` where
a name is expected, so that no crafted path can escape a devices root.
"""
from urllib.parse import parse_qsl, quote as _quote, urlencode


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


def validate_name(name):
    if '\x00' in name:
        raise PathError('Invalid UTF8 or contains NULL')
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        raise PathError('Invalid UTF8 or contains NULL')


def split_path(path, minsegs=1, maxsegs=None, rest_with_last=False):
    """Split ``/a/b/c`` into segments with Swift's ``split_path`` rules.

    Returns a list of length ``maxsegs`` padded with None. With
    ``rest_with_last`` the last segment keeps any further slashes (object
    names may contain ``/``).
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
            validate_name(seg)
    return segs


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
