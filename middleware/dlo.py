"""dlo: Dynamic Large Objects, and the segment machinery slo shares.

Why: a single object is capped at ``max_file_size`` (5 GiB), so Swift
clients (``swift upload --segment-size``, every SDK) upload big files as
segments plus a manifest, and expect the proxy to serve the manifest as
the whole file.  A DLO manifest is any object carrying
``X-Object-Manifest: <container>/<prefix>``; its content is every object
under that prefix, in name order, found by container listings (paged past
the 10000-entry listing limit) made as the client.

Every subrequest (listings, segment GETs) is built from the
client's environ the way Swift's ``make_subrequest`` does -- same token,
same ``swift.authorize`` hook, ``swift.source`` set -- and sent to the
rest of the pipeline, so the proxy authorizes it like any client request:
segments the user cannot read give 403, never data.

Streaming only: bodies flow segment by segment in the proxy's chunks, so
memory is O(chunk) whatever the size (listings are held a page at a time;
length and ETag over several pages are computed in a first pass and the
pages listed again while streaming).  A segment that cannot be fetched
(tried twice before headers; the proxy itself resumes a body on another
replica), is missing, or whose ETag no longer matches the listing ends the
body cleanly where it is -- the client sees a short body -- and is logged
with the transaction id.

The segment machinery itself (subrequests, streaming, ranges) is
``middleware.large_objects``, shared with ``middleware.slo``.  Copies are
the ``copy`` filter's: it reads the source through here, so a copy of a
manifest holds the joined content (``?multipart-manifest=get`` copies the
manifest object itself).

Config (Swift's options)::

    [filter:dlo]
    use = egg:objproxy#dlo
    # Segments fetched at full speed before rate limiting starts ...
    rate_limit_after_segment = 10
    # ... then at most this many segments per second (0: no limit).
    rate_limit_segments_per_sec = 1
    # A GET streaming longer than this many seconds is cut off.
    max_get_time = 86400
"""
import hashlib
import json
from urllib.parse import quote, unquote

from objproxy.common import constraints
from objproxy.common.config import check_options, get_float, get_int
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, str_to_wsgi, wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.response import is_server_error
from middleware.large_objects import (
    LISTING_BODY_LIMIT, WHOLE_OBJECT_DROP, ListingError, Piece,
    SegmentError, SegmentStreamer, call_app, conditional_response,
    has_conditions, header_items, make_subrequest_env, multipart_manifest,
    object_path, pass_on, pieces_in_window, probe_manifest, ranged_response,
    respond, trans_id)

SECTION = 'filter:dlo'
KNOWN_OPTIONS = ('rate_limit_after_segment', 'rate_limit_segments_per_sec',
                 'max_get_time')


# ---------------------------------------------------------------- the DLO

class DloListing(object):
    """The segments under a DLO's prefix, a listing page at a time."""

    def __init__(self, app, env, version, account, container, prefix):
        self.app = app
        self.env = env
        self.container_path = str_to_wsgi('/%s/%s/%s' % (
            version, account, container))
        self.seg_prefix = '/%s/%s/%s/' % (version, account, container)
        self.prefix = prefix
        self.first_page = None
        self.single_page = True
        self.length = 0
        self.etag = None

    def _pages(self):
        marker = ''
        limit = constraints.LIMITS['container_listing_limit']
        while True:
            query = 'format=json&prefix=%s' % quote(self.prefix, safe='')
            if marker:
                query += '&marker=%s' % quote(marker, safe='')
            sub = make_subrequest_env(self.env, 'GET', self.container_path,
                                      query_string=query, source='DLO')
            resp = call_app(self.app, sub)
            if resp.status_int == 404:
                resp.drain()
                return
            if not resp.ok:
                body = resp.read(LISTING_BODY_LIMIT)
                raise ListingError(resp.status_int, body)
            if resp.status_int == 204:
                resp.drain()
                return
            try:
                page = json.loads(resp.read(LISTING_BODY_LIMIT))
            except ValueError:
                raise ListingError(500, b'Bad container listing')
            if not isinstance(page, list):
                raise ListingError(500, b'Bad container listing')
            entries = [(str_to_wsgi(self.seg_prefix + item['name']),
                        int(item['bytes']), item['hash'])
                       for item in page if 'subdir' not in item]
            if not page:
                return
            yield entries
            if len(page) < limit:
                return
            marker = page[-1].get('name') or page[-1].get('subdir')

    def summarize(self):
        """First pass: total length and the DLO ETag (md5 of ETags)."""
        md5 = hashlib.md5()
        total = 0
        for number, page in enumerate(self._pages()):
            if number == 0:
                self.first_page = page
            else:
                self.single_page = False
            for _path, size, etag in page:
                total += size
                md5.update(etag.encode('ascii', 'replace'))
        self.length = total
        self.etag = md5.hexdigest()
        return self

    def entries(self):
        if self.single_page:
            return iter(self.first_page or [])
        return (entry for page in self._pages() for entry in page)


class DynamicLargeObject(object):
    """The ``dlo`` filter."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='dlo')
        self.rate_limit_after = get_int(conf, 'rate_limit_after_segment', 10,
                                        SECTION, minimum=0)
        self.rate_per_sec = get_float(conf, 'rate_limit_segments_per_sec', 1,
                                      SECTION, minimum=0)
        self.max_get_time = get_float(conf, 'max_get_time', 86400, SECTION,
                                      minimum=1)

    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        if method not in ('GET', 'HEAD', 'PUT'):
            return self.app(env, start_response)
        parts = object_path(env)
        if parts is None:
            return self.app(env, start_response)
        mm = multipart_manifest(env)
        if method == 'PUT' and 'HTTP_X_OBJECT_MANIFEST' in env:
            if parse_manifest_header(env['HTTP_X_OBJECT_MANIFEST']) is None:
                return respond(start_response, 400,
                               b'X-Object-Manifest must be in the format '
                               b'container/prefix')
        if method == 'PUT' or mm == 'get':
            return self.app(env, start_response)
        return self.handle_read(env, start_response, parts)

    def handle_read(self, env, start_response, parts):
        method = env['REQUEST_METHOD']
        resp = call_app(self.app, env)
        manifest = resp.headers.get('x-object-manifest')
        if manifest is None:
            if resp.status_int in (304, 412, 416) and has_conditions(env):
                # The manifest object itself may have answered the
                # conditions; they are about the whole object.
                probe = probe_manifest(self.app, env, env['PATH_INFO'],
                                       'DLO')
                if probe is not None and 'x-object-manifest' in probe.headers:
                    resp.close()
                    return self.serve(env, start_response, method, parts,
                                      probe)
            return pass_on(resp, start_response)
        if resp.status_int in (200, 206):
            resp.close()
            return self.serve(env, start_response, method, parts, resp)
        if resp.status_int in (304, 412, 416):
            probe = probe_manifest(self.app, env, env['PATH_INFO'], 'DLO')
            if probe is not None and 'x-object-manifest' in probe.headers:
                resp.close()
                return self.serve(env, start_response, method, parts, probe)
        return pass_on(resp, start_response)

    def serve(self, env, start_response, method, parts, manifest_resp):
        version, account, _container, obj = parts
        target = parse_manifest_header(
            manifest_resp.headers['x-object-manifest'])
        if target is None:
            return respond(start_response, 500,
                           b'Invalid X-Object-Manifest on the manifest')
        seg_container, prefix = target
        listing = DloListing(self.app, env, version, account, seg_container,
                             prefix)
        try:
            listing.summarize()
        except ListingError as err:
            self.logger.info('DLO %s: segment listing of %s: %s (txn %s)',
                             obj, seg_container, err.status, trans_id(env))
            if is_server_error(err.status):
                return respond(start_response, 503, b'Segment listing failed')
            return respond(start_response, err.status, err.body)
        except SegmentError as err:
            return respond(start_response, 503, str(err))
        headers = header_items(manifest_resp.header_list,
                               WHOLE_OBJECT_DROP + ('content-type',))
        ctype = manifest_resp.headers.get('content-type',
                                          'application/octet-stream')
        headers += [('Content-Type', ctype),
                    ('Etag', '"%s"' % listing.etag)]
        cond = conditional_response(
            env, start_response, method, listing.etag,
            manifest_resp.headers.get('last-modified'), headers)
        if cond is not None:
            return cond
        what = '/'.join(parts[1:])

        def body_for_window(first, stop):
            pieces = (Piece(p.path, p.first, p.stop, p.size, p.etag)
                      for p in pieces_in_window(listing.entries(), first,
                                                stop))
            return SegmentStreamer(
                self.app, env, pieces, self.logger, 'DLO', what,
                self.max_get_time, self.rate_limit_after, self.rate_per_sec)
        # several ranges of a DLO get the whole object, as from Swift
        return ranged_response(env, start_response, method, headers,
                               listing.length, ctype, body_for_window,
                               multirange=False)


def parse_manifest_header(value):
    """``container/prefix`` -> (container, prefix) as text, or None."""
    try:
        text = unquote(wsgi_to_str(value.strip()), errors='strict')
    except (UnicodeDecodeError, PathError):
        return None
    text = text.lstrip('/')
    container, sep, prefix = text.partition('/')
    if not sep or not container or '?' in value or '\x00' in text:
        return None
    return container, prefix


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    register_info('dlo', max_get_time=int(get_float(
        conf, 'max_get_time', 86400, SECTION, minimum=1)))

    def factory(app):
        return DynamicLargeObject(app, conf)
    return factory
