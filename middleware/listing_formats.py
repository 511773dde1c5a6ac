"""listing_formats: account and container listings rendered as the client
asked (Swift's ``listing_formats`` filter).

Why a filter: everything right of it -- staticweb, symlink, versioning,
slo, the proxy -- deals with one listing format only, JSON, and may
rewrite its rows; this filter asks for JSON (``format=json`` replaces
whatever ``format`` the client sent) and turns the final JSON into the
format the client wanted, once, at the end.  It is also the one place
where a listing's format is negotiated (``listing_content_type``):

* ``?format=json|xml|plain`` wins (any other value means plain);
* else the ``Accept`` header (``objproxy.common.listing_format``, shared
  with the account and container servers), with Swift's choice among
  ``text/plain``, ``application/json``, ``application/xml``,
  ``text/xml``: media ranges by quality, specific ranges before
  wildcards, the first of those types a range matches; no header means
  ``text/plain``;
* nothing acceptable gives ``406``, a malformed header ``400``.

Rendering (GET/HEAD of ``/v1/<account>`` and ``/v1/<account>/<container>``
answered ``200``/``204`` with a JSON body): plain is one name per line
(``204`` when empty), JSON is re-serialised, XML is built with
ElementTree so names are escaped in text and attributes alike; the type
always gets ``; charset=utf-8``, and a negotiated answer ``Vary: Accept``.
A HEAD gets the type and ``Content-Length: 0``.  Bodies that are not a
JSON list of objects, larger than 20 MB, or that a filter right of here
claims (``swift.format_listing`` set false, as staticweb's HTML listings
do) pass through untouched.  No options::

    [filter:listing_formats]
    use = egg:objproxy#listing_formats
"""
import json
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

from objproxy.common.config import check_options
from objproxy.common.listing_format import NegotiationError, listing_type
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.proxy.controllers.container import json_listing_query
from objproxy.common.response import (
    error_response, is_success, plain_error, reason, status_code)

SECTION = 'filter:listing_formats'
API_VERSIONS = ('v1', 'v1.0')
# A bigger "listing" is not one (a staticweb page, say): passed through.
MAX_LISTING_LENGTH = 1024 * 10000 * 2
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
ACCOUNT_FIELDS = ('name', 'count', 'bytes', 'last_modified')
CONTAINER_FIELDS = ('name', 'hash', 'bytes', 'content_type',
                    'last_modified')


class NotAcceptable(Exception):
    """No listing format suits the request; carries the response."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def query_param(env, name):
    """The last value of query parameter ``name`` as text, or None."""
    value = None
    for key, val in parse_qsl(env.get('QUERY_STRING', ''),
                              keep_blank_values=True, encoding='latin-1'):
        if key == name:
            value = val
    if value is None:
        return None
    try:
        return wsgi_to_str(value)
    except PathError:
        raise NotAcceptable(plain_error(
            400, '"%s" parameter not valid UTF-8' % name))


def listing_content_type(env):
    """The content type to answer a listing request with (no charset).

    Raises NotAcceptable (406, or 400 for a bad header or parameter)."""
    try:
        return listing_type(query_param(env, 'format'), env.get('HTTP_ACCEPT'))
    except NegotiationError as err:
        if err.status == 406:
            raise NotAcceptable(error_response(406))
        raise NotAcceptable(plain_error(err.status, err.message))


# --------------------------------------------------------------- rendering

def to_xml(root):
    body = tostring(root, encoding='UTF-8')
    if body.startswith(b'<?xml'):
        body = body.split(b'?>', 1)[1].lstrip(b'\n')
    return XML_DECLARATION + b'\n' + body


def account_to_xml(listing, account):
    root = Element('account', name=account)
    root.text = '\n'
    for row in listing:
        if 'subdir' in row:
            item = SubElement(root, 'subdir', name=str(row['subdir']))
        else:
            item = SubElement(root, 'container')
            for field in ACCOUNT_FIELDS + tuple(
                    f for f in ('storage_policy',) if f in row):
                SubElement(item, field).text = str(row[field])
        item.tail = '\n'
    return to_xml(root)


def container_to_xml(listing, container):
    root = Element('container', name=container)
    for row in listing:
        if 'subdir' in row:
            item = SubElement(root, 'subdir', name=str(row['subdir']))
            SubElement(item, 'name').text = str(row['subdir'])
        else:
            item = SubElement(root, 'object')
            for field in CONTAINER_FIELDS:
                SubElement(item, field).text = str(row[field])
    return to_xml(root)


def listing_to_text(listing):
    return b''.join(
        (row['name'] if 'name' in row else row['subdir']).encode('utf-8') +
        b'\n' for row in listing)


def render(listing, content_type, account, container):
    """The body for ``listing`` in ``content_type``; KeyError when a row
    lacks a field that format needs."""
    if content_type.endswith('/xml'):
        if container is not None:
            return container_to_xml(listing, container)
        return account_to_xml(listing, account)
    if content_type == 'text/plain':
        return listing_to_text(listing)
    return json.dumps(listing).encode('ascii')


class ListingFormats(object):
    """The ``listing_formats`` filter."""

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        try:
            version, account, container = split_path(
                wsgi_to_str(env.get('PATH_INFO', '')), 2, 3)
        except (PathError, ValueError):
            return self.app(env, start_response)
        if version not in API_VERSIONS or method not in ('GET', 'HEAD'):
            return self.app(env, start_response)
        try:
            out_type = listing_content_type(env)
        except NotAcceptable as err:
            return err.response(env, start_response)
        negotiated = query_param(env, 'format') is None
        if not negotiated:
            # as Swift: the format becomes the Accept header, so filters on
            # our right (object versioning's ?versions) still see what the
            # client asked for once the query says json
            env['HTTP_ACCEPT'] = out_type
        env['QUERY_STRING'] = json_listing_query(env.get('QUERY_STRING'))
        env.setdefault('swift.format_listing', True)
        state = {}

        def capture(status, headers, exc_info=None):
            state['status'] = status
            state['headers'] = list(headers)
            return lambda data: None
        body_iter = self.app(env, capture)
        if 'status' not in state:       # a body that starts late
            body_iter = list(body_iter)
        status, headers = state['status'], state['headers']
        if not env.get('swift.format_listing') or \
                not is_success(status_code(status)):
            start_response(status, headers)
            return body_iter
        if negotiated:
            headers = add_vary_accept(headers)
        lower = dict((k.lower(), v) for k, v in headers)
        if lower.get('content-type', '').partition(';')[0].strip() != \
                'application/json':
            start_response(status, headers)
            return body_iter
        if method == 'HEAD':
            start_response(status, replace(headers, out_type, 0))
            return body_iter
        length = lower.get('content-length', '')
        if not length.isdigit() or int(length) > MAX_LISTING_LENGTH:
            start_response(status, headers)
            return body_iter
        try:
            body = b''.join(body_iter)
        finally:
            close = getattr(body_iter, 'close', None)
            if close is not None:
                close()
        try:
            listing = json.loads(body)
            if not isinstance(listing, list) or \
                    not all(isinstance(row, dict) for row in listing):
                raise ValueError('not a listing')
            out = render(listing, out_type, account, container)
        except (ValueError, KeyError, TypeError):
            start_response(status, headers)     # not ours to render
            return [body]
        if not out:
            status = '204 %s' % reason(204)
        start_response(status, replace(headers, out_type, len(out)))
        return [out]


def replace(headers, content_type, length):
    """``headers`` with the rendered body's type and length."""
    out = [(k, v) for k, v in headers
           if k.lower() not in ('content-type', 'content-length')]
    return out + [('Content-Type', content_type + '; charset=utf-8'),
                  ('Content-Length', str(length))]


def add_vary_accept(headers):
    for i, (key, value) in enumerate(headers):
        if key.lower() == 'vary':
            if 'accept' not in [v.strip().lower() for v in value.split(',')]:
                headers = list(headers)
                headers[i] = (key, value + ', Accept')
            return headers
    return list(headers) + [('Vary', 'Accept')]


def filter_factory(global_conf, **local_conf):
    check_options(SECTION, local_conf, global_conf, ())

    def factory(app):
        return ListingFormats(app)
    return factory
