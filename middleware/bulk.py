"""bulk: many deletes or uploads in one request (Swift's bulk middleware).

Two operations, each turned into ordinary subrequests sent down the rest
of the pipeline with the client's own token, so every delete and every
upload is authorised, rate-limited, virus-scanned and logged exactly as
if the client had sent it (``swift.source`` ``BD`` / ``EA``):

* ``POST`` or ``DELETE`` with ``?bulk-delete``: the body is a newline
  separated list of URL-encoded ``/container/object`` or ``/container``
  paths (see ``bulk_delete``);
* ``PUT`` with ``?extract-archive=tar|tar.gz|tar.bz2`` to an account,
  container or pseudo-directory: each regular file of the archive becomes
  an object PUT, streamed straight out of the request body (see
  ``bulk_extract``).

Why the answer is odd: one short request can mean minutes of work, and a
silent connection gets cut by clients and load balancers.  So the answer
is always ``200 OK`` at once (chunked), whitespace is sent every
``yield_frequency`` seconds while work goes on, and the real outcome is in
the body: ``Response Status``, ``Response Body``, ``Errors`` (a list of
``[quoted name, status]``) and ``Number Deleted``/``Number Not Found`` or
``Number Files Created``, as text/plain (default), JSON or XML according
to ``Accept``.

Config (Swift's names and defaults)::

    [filter:bulk]
    use = egg:objproxy#bulk
    # max_containers_per_extraction = 10000
    # max_failed_extractions = 1000
    # max_deletes_per_request = 10000
    # max_failed_deletes = 1000
    # yield_frequency = 10
    # delete_concurrency = 2
    # delete_container_retry_count = 0
"""
import json
import time
from http import HTTPStatus
from xml.sax.saxutils import escape

from webob import Request, Response

from objproxy.common.config import check_options, get_int
from objproxy.common.logs import get_logger
from objproxy.common.registry import register_info

SECTION = 'filter:bulk'
ACCEPTABLE_FORMATS = ('text/plain', 'application/json', 'application/xml',
                      'text/xml')
ARCHIVE_TYPES = ('tar', 'tar.gz', 'tar.bz2')
STATUS_TEXT = {
    200: '200 OK', 201: '201 Created', 400: '400 Bad Request',
    401: '401 Unauthorized', 404: '404 Not Found',
    406: '406 Not Acceptable', 411: '411 Length Required',
    412: '412 Precondition Failed', 413: '413 Request Entity Too Large',
    500: '500 Internal Error', 502: '502 Bad Gateway',
}
OPTIONS = {
    # name: (default, minimum)
    'max_containers_per_extraction': (10000, 0),
    'max_failed_extractions': (1000, 1),
    'max_deletes_per_request': (10000, 1),
    'max_failed_deletes': (1000, 1),
    'yield_frequency': (10, 0),
    'delete_concurrency': (2, 1),
    'delete_container_retry_count': (0, 0),
}


class BulkError(Exception):
    """Ends a bulk operation; its status and body become the answer's
    ``Response Status`` and ``Response Body``."""

    def __init__(self, status, body=''):
        super().__init__(body or STATUS_TEXT.get(status, str(status)))
        self.status = status
        self.body = body


def status_text(code):
    if code in STATUS_TEXT:
        return STATUS_TEXT[code]
    try:
        return '%d %s' % (code, HTTPStatus(code).phrase)
    except ValueError:
        return str(code)


class LimitedInput(object):
    """The request body as a file: at most Content-Length bytes, or up to
    the end of a chunked body (the server de-chunks it)."""

    def __init__(self, env):
        self.stream = env['wsgi.input']
        length = env.get('CONTENT_LENGTH')
        self.remaining = int(length) if length not in (None, '') else None

    def read(self, size=-1):
        if self.remaining is not None:
            if self.remaining <= 0:
                return b''
            if size is None or size < 0 or size > self.remaining:
                size = self.remaining
        data = self.stream.read(size) if size is not None and size >= 0 \
            else self.stream.read()
        if self.remaining is not None:
            self.remaining -= len(data)
        return data


def body_reader(env):
    """``read(size)`` over the request body; BulkError(411) when the
    request has neither a Content-Length nor a chunked body."""
    chunked = 'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower()
    length = env.get('CONTENT_LENGTH')
    if length in (None, '') and not chunked:
        raise BulkError(411, 'Length Required')
    try:
        if length not in (None, '') and int(length) < 0:
            raise ValueError(length)
    except ValueError:
        raise BulkError(400, 'Invalid Content-Length')
    return LimitedInput(env).read


def result_body(out_format, results, errors, root_tag):
    """The final body in the negotiated format (Swift's layouts)."""
    if out_format == 'application/json':
        data = dict(results, Errors=errors)
        return json.dumps(data).encode('ascii')
    if out_format and out_format.endswith('/xml'):
        out = ['<%s>\n' % root_tag]
        for key in sorted(results):
            tag = key.replace(' ', '_').lower()
            out.append('<%s>%s</%s>\n' % (tag, escape(str(results[key])), tag))
        out.append('<errors>\n')
        for name, status in errors:
            out.append('<object><name>%s</name><status>%s</status>'
                       '</object>\n' % (escape(name), escape(status)))
        out.append('</errors>\n</%s>\n' % root_tag)
        return ''.join(out).encode('utf-8')
    out = ['%s: %s\n' % (key, results[key]) for key in sorted(results)]
    out.append('Errors:\n')
    out.extend('%s, %s\n' % (name, status) for name, status in errors)
    return ''.join(out).encode('utf-8')


class Heartbeat(object):
    """Whitespace to send while working, at most every ``frequency`` s.

    XML answers start with the XML declaration (so the leading bytes stay
    valid XML); after the first beat the final body is separated from the
    whitespace by a blank line, as Swift does.
    """

    def __init__(self, frequency, out_format, clock):
        self.frequency = frequency
        self.clock = clock
        self.last = clock()
        if out_format and out_format.endswith('/xml'):
            self.next_beat = b'<?xml version="1.0" encoding="UTF-8"?>\n'
        else:
            self.next_beat = b' '
        self.separator = b''

    def due(self):
        """The bytes to send now, or None."""
        now = self.clock()
        if self.last + self.frequency >= now:
            return None
        self.last = now
        beat, self.next_beat, self.separator = \
            self.next_beat, b' ', b'\r\n\r\n'
        return beat


def negotiate(req):
    offers = req.accept.acceptable_offers(list(ACCEPTABLE_FORMATS))
    return offers[0][0] if offers else None


class Bulk(object):
    """Dispatches bulk requests; everything else passes through."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.conf = conf
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='bulk')
        for name, (default, minimum) in OPTIONS.items():
            setattr(self, name, get_int(conf, name, default, SECTION,
                                        minimum=minimum))
        self.delete_concurrency = min(1000, self.delete_concurrency)
        self.retry_interval = 1.5
        self.clock = time.time

    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        query = env.get('QUERY_STRING', '')
        if 'extract-archive' not in query and 'bulk-delete' not in query:
            return self.app(env, start_response)
        req = Request(env)
        params = req.GET
        extract = params.get('extract-archive')
        if extract is not None and method == 'PUT':
            kind = extract.lower().strip('.')
            if kind not in ARCHIVE_TYPES:
                resp = Response(request=req, status=400,
                                body=b'Unsupported archive format',
                                content_type='text/plain')
                return resp(env, start_response)
            return self.respond(req, start_response,
                                bulk_extract.extract_iter)
        if 'bulk-delete' in params and method in ('POST', 'DELETE'):
            return self.respond(req, start_response,
                                bulk_delete.delete_iter)
        return self.app(env, start_response)

    def respond(self, req, start_response, worker):
        out_format = negotiate(req)
        # heartbeats must reach the client as they are produced
        req.environ['eventlet.minimum_write_chunk_size'] = 0
        content_type = out_format or 'text/plain'
        if content_type.startswith('text/'):
            content_type += '; charset=UTF-8'
        start_response('200 OK', [('Content-Type', content_type)])
        return worker(self, req, out_format)


# The workers use the helpers above, so they are imported once those exist.
from middleware import bulk_delete, bulk_extract  # noqa: E402


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, tuple(OPTIONS))
    values = dict((name, get_int(conf, name, default, SECTION,
                                 minimum=minimum))
                  for name, (default, minimum) in OPTIONS.items())
    register_info('bulk_upload', max_containers_per_extraction=values[
        'max_containers_per_extraction'],
        max_failed_extractions=values['max_failed_extractions'])
    register_info('bulk_delete', max_deletes_per_request=values[
        'max_deletes_per_request'],
        max_failed_deletes=values['max_failed_deletes'])

    def factory(app):
        return Bulk(app, conf)
    return factory
