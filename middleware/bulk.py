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
import time

from webob import Request

from middleware import bulk_delete, bulk_extract
from objproxy.common.config import check_options, get_int
from objproxy.common.logs import get_logger
from objproxy.common.registry import register_info
from objproxy.common.response import plain_error, status_line

SECTION = 'filter:bulk'
ACCEPTABLE_FORMATS = ('text/plain', 'application/json', 'application/xml',
                      'text/xml')
ARCHIVE_TYPES = ('tar', 'tar.gz', 'tar.bz2')
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
        try:
            params = req.GET
        except UnicodeDecodeError:
            return plain_error(400, 'Invalid UTF8 or contains NULL')(
                env, start_response)
        extract = params.get('extract-archive')
        if extract is not None and method == 'PUT':
            kind = extract.lower().strip('.')
            if kind not in ARCHIVE_TYPES:
                return plain_error(400, 'Unsupported archive format')(
                    env, start_response)
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
        start_response(status_line(200), [('Content-Type', content_type)])
        return worker(self, req, out_format)


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
