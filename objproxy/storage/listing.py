"""Listing requests shared by the container and account servers.

Both layers take the same query parameters (``prefix``, ``delimiter``,
``marker``, ``end_marker``, ``limit``, ``reverse``, ``format`` and, for
containers, ``path``) and answer in the same three formats, so the
parsing, validation and rendering live here once.  Bad input is a
``ListingError`` carrying the status and a short body (400 for bad UTF-8
only, 412 for a limit over the maximum), never a 500.  As in Swift, any
delimiter is accepted (several characters too), and a NUL is an ordinary
character of a marker or prefix (Swift's reserved-name byte, lower than
every visible name, so ``marker=name%00`` lists from just after ``name``).
"""
import json
import time
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from objproxy.common.config import config_true_value
from objproxy.common.listing_format import NegotiationError, listing_type

JSON_TYPE = 'application/json'
XML_TYPE = 'application/xml'
TEXT_XML_TYPE = 'text/xml'
PLAIN_TYPE = 'text/plain'
MAX_PARAM_LENGTH = 8192


class ListingError(Exception):
    def __init__(self, status, body):
        super().__init__(body)
        self.status = status
        self.body = body


def parse_query(query_string):
    """QUERY_STRING -> {name: value} of real (UTF-8 decoded) text.

    The first value wins for repeated names.  Invalid UTF-8 in any name
    or value is a 400, as Swift answers.
    """
    params = {}
    if not query_string:
        return params
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True,
                          encoding='latin-1', errors='strict')
    except ValueError:
        raise ListingError(400, 'Invalid query string')
    for key, value in pairs:
        try:
            key = key.encode('latin-1').decode('utf-8')
            value = value.encode('latin-1').decode('utf-8')
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise ListingError(400, 'Invalid UTF8 query parameter')
        params.setdefault(key, value)
    return params


def listing_content_type(params, accept):
    """The response type: ``format=`` wins, else the Accept header."""
    try:
        return listing_type(params.get('format'), accept)
    except NegotiationError as err:
        raise ListingError(err.status, err.message)


class ListingParams(object):
    """The validated listing parameters of one request."""

    def __init__(self, params, max_limit, allow_path=True):
        for key in ('prefix', 'delimiter', 'marker', 'end_marker', 'path'):
            if len(params.get(key) or '') > MAX_PARAM_LENGTH:
                raise ListingError(400, '%s too long' % key)
        self.prefix = params.get('prefix') or ''
        self.delimiter = params.get('delimiter') or ''
        self.marker = params.get('marker') or ''
        self.end_marker = params.get('end_marker') or ''
        self.path = params.get('path') if allow_path else None
        self.reverse = config_true_value(params.get('reverse', ''))
        self.limit = max_limit
        given = params.get('limit')
        if given is not None and given.strip().isdigit():
            self.limit = int(given.strip())
            if self.limit > max_limit:
                raise ListingError(412, 'Maximum limit is %d' % max_limit)


_ISO_SECONDS = {}


def iso_last_modified(ts):
    """``0001234567.12345[_offset]`` -> ``2009-02-13T23:31:07.123450``.

    Rows of one page mostly share their second, so the strftime part is
    cached (a listing page renders 10,000 of these).
    """
    whole, _, frac = ts.partition('_')[0].partition('.')
    head = _ISO_SECONDS.get(whole)
    if head is None:
        if len(_ISO_SECONDS) > 4096:
            _ISO_SECONDS.clear()
        head = _ISO_SECONDS[whole] = time.strftime(
            '%Y-%m-%dT%H:%M:%S.', time.gmtime(int(whole)))
    return head + (frac + '000000')[:6]


# -- containers (object rows) ---------------------------------------------
def listed_size_and_type(size, ctype):
    """Swift's SLO convention: ``;swift_bytes=N`` in a row's content type
    is the manifest's total size.  It is listed as ``bytes`` and removed
    from the content type (the other parameters are kept)."""
    if 'swift_bytes=' not in ctype:
        return size, ctype
    parts = ctype.split(';')
    kept = [parts[0]]
    for param in parts[1:]:
        key, sep, value = param.strip().partition('=')
        if sep and key.lower() == 'swift_bytes':
            try:
                size = int(value.strip())
            except ValueError:
                pass
            continue
        kept.append(param)
    return size, ';'.join(kept).rstrip()


def object_entry(row):
    name, created_at, size, ctype, etag = row
    if created_at is None:
        return {'subdir': name}
    size, ctype = listed_size_and_type(size, ctype)
    return {'name': name, 'hash': etag, 'bytes': size,
            'content_type': ctype,
            'last_modified': iso_last_modified(created_at)}


def render_objects(rows, content_type, container):
    if content_type == JSON_TYPE:
        return json.dumps([object_entry(r) for r in rows]).encode('utf-8')
    if content_type in (XML_TYPE, TEXT_XML_TYPE):
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
               '<container name=%s>' % quoteattr(container)]
        for name, created_at, size, ctype, etag in rows:
            if created_at is None:
                out.append('<subdir name=%s><name>%s</name></subdir>'
                           % (quoteattr(name), escape(name)))
                continue
            size, ctype = listed_size_and_type(size, ctype)
            out.append(
                '<object><name>%s</name><hash>%s</hash><bytes>%d</bytes>'
                '<content_type>%s</content_type><last_modified>%s'
                '</last_modified></object>'
                % (escape(name), escape(etag), size, escape(ctype),
                   iso_last_modified(created_at)))
        out.append('</container>')
        return ''.join(out).encode('utf-8')
    return ''.join(r[0] + '\n' for r in rows).encode('utf-8')


# -- accounts (container rows) -------------------------------------------
# objproxy has one storage policy; every container listed is in it (its
# name is the one the proxy shows as X-Storage-Policy and in /info)
LISTED_POLICY = 'Policy-0'


def container_entry(row):
    name, count, used, put_ts = row
    if count is None:
        return {'subdir': name}
    return {'name': name, 'count': count, 'bytes': used,
            'last_modified': iso_last_modified(put_ts),
            'storage_policy': LISTED_POLICY}


def render_containers(rows, content_type, account):
    if content_type == JSON_TYPE:
        return json.dumps([container_entry(r) for r in rows]).encode('utf-8')
    if content_type in (XML_TYPE, TEXT_XML_TYPE):
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
               '<account name=%s>\n' % quoteattr(account)]
        for name, count, used, put_ts in rows:
            if count is None:
                out.append('<subdir name=%s><name>%s</name></subdir>\n'
                           % (quoteattr(name), escape(name)))
                continue
            out.append(
                '<container><name>%s</name><count>%d</count>'
                '<bytes>%d</bytes><last_modified>%s</last_modified>'
                '<storage_policy>%s</storage_policy></container>\n'
                % (escape(name), count, used, iso_last_modified(put_ts),
                   LISTED_POLICY))
        out.append('</account>')
        return ''.join(out).encode('utf-8')
    return ''.join(r[0] + '\n' for r in rows).encode('utf-8')
