"""Objects: streaming GET/HEAD from replicas, quorum PUT/POST/DELETE.

Authorization uses the container's ACLs: ``X-Container-Read`` for reads,
``X-Container-Write`` for writes (the container info is cached, so this
costs no backend round trip on a warm cache).  Server-side copies are the
``copy`` filter's (a GET and a PUT made through the pipeline); without it
``COPY`` is 405, as from Swift's proxy.
"""
import mimetypes
import time

from objproxy.common import constraints
from objproxy.common.config import config_true_value
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.controllers.base import Controller, quorum_size
from objproxy.proxy.getter import Getter
from objproxy.proxy.putter import ObjectPut, too_large
from objproxy.common.response import (
    Response, error_response, is_success, plain_error)

PASS_ON_PUT = ('content-type', 'content-encoding', 'content-disposition',
               'x-delete-at', 'x-object-manifest', 'x-static-large-object',
               'etag', 'if-none-match')
PASS_ON_POST = ('content-type', 'content-encoding', 'content-disposition',
                'x-delete-at', 'x-object-manifest')
META_PREFIXES = ('x-object-meta-', 'x-object-sysmeta-',
                 'x-object-transient-sysmeta-')
PASS_ON_GET = ('range', 'if-match', 'if-none-match', 'if-modified-since',
               'if-unmodified-since',
               # a filter asking for a link or manifest whole, as Swift's
               'x-backend-ignore-range-if-metadata-present')


# Swift's largest expiry time: later ones are stored as this (10 digits).
MAX_DELETE_AT = 9999999999


def container_update_headers(object_count, container_part, container_nodes):
    """Spread the container replicas over the object nodes (Swift's way).

    Enough updates are sent that a quorum of container replicas hears of
    the write even when only a quorum of the object nodes succeed.
    """
    headers = [{} for _ in range(object_count)]
    if not container_nodes or not object_count:
        return headers
    needed = max(quorum_size(len(container_nodes)) +
                 object_count - quorum_size(object_count),
                 len(container_nodes))
    targets = [[] for _ in range(object_count)]
    for i in range(needed):
        targets[i % object_count].append(
            container_nodes[i % len(container_nodes)])
    for slot, nodes in enumerate(targets):
        if not nodes:
            continue
        headers[slot] = {
            'X-Container-Host': ','.join(
                '%s:%s' % (n['ip'], n['port']) for n in nodes),
            'X-Container-Device': ','.join(n['device'] for n in nodes),
            'X-Container-Partition': str(container_part),
        }
    return headers


def delete_at_header(req_headers, now=None):
    """Normalise X-Delete-After/X-Delete-At; (value or None, error)."""
    now = time.time() if now is None else now
    after = req_headers.get('X-Delete-After')
    at = req_headers.get('X-Delete-At')
    if after is not None:
        try:
            after = int(after)
        except ValueError:
            return None, 'Non-integer X-Delete-After'
        if after < 0:
            return None, 'X-Delete-After in past'
        return str(min(int(now + after), MAX_DELETE_AT)), None
    if at is not None:
        try:
            at_value = int(at)
        except ValueError:
            return None, 'Non-integer X-Delete-At'
        if at_value < now:
            return None, 'X-Delete-At in past'
        return str(min(at_value, MAX_DELETE_AT)), None
    return None, None


class ObjectController(Controller):
    server_type = 'Object'
    allowed_methods = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')

    @property
    def obj_path(self):
        return '/%s/%s/%s' % (self.account_name, self.container_name,
                              self.object_name)

    def _container(self, req, acl_key):
        """Container info and the auth decision; (info, denial)."""
        info = self.app.container_info(req.environ, self.account_name,
                                       self.container_name)
        denial = self.authorize(req, info.get(acl_key))
        return info, denial

    # ----- reads ------------------------------------------------------------

    def GET(self, req):
        return self._get_or_head(req)

    def HEAD(self, req):
        return self._get_or_head(req)

    def _get_or_head(self, req):
        _info, denial = self._container(req, 'read_acl')
        if denial:
            return denial
        resp = self.read_object(req, self.account_name, self.container_name,
                                self.object_name, req.method)
        if is_success(resp.status) or resp.status == 416:
            resp.set_header('Accept-Ranges', 'bytes')
        return resp

    def read_object(self, req, account, container, obj, method,
                    extra_headers=None):
        ring = self.app.object_ring
        part = ring.get_part(account, container, obj)
        headers = self.base_headers(req)
        for key in PASS_ON_GET:
            value = req.headers.get(key)
            if value is not None:
                headers[key] = value
        headers.update(extra_headers or {})
        newest = config_true_value(req.headers.get('X-Newest'))
        getter = Getter(self, ring, part,
                        '/%s/%s/%s' % (account, container, obj), method,
                        headers, newest=newest, resumable=True)
        return getter.response()

    # ----- writes ----------------------------------------------------------

    def _object_write_headers(self, req, timestamp, passed):
        headers = self.base_headers(req, timestamp)
        for key, value in req.headers.items():
            lkey = key.lower()
            if lkey in passed or lkey.startswith(META_PREFIXES):
                headers[key] = value
        return headers

    def _write_targets(self, headers):
        """Per-slot header dicts with the container update targets."""
        ring = self.app.object_ring
        replicas = ring.replica_count
        cpart, cnodes = self.app.container_ring.get_nodes(
            self.account_name, self.container_name)
        per_slot = container_update_headers(replicas, cpart, cnodes)
        return [dict(headers, **extra) for extra in per_slot]

    def _check_writable(self, req):
        """None when ``req`` may write here, else the 403/404/503."""
        info, denial = self._container(req, 'write_acl')
        if denial:
            return denial
        if not is_success(info.get('status', 0)):
            return error_response(404 if info.get('status') == 404 else 503)
        return None

    def PUT(self, req):
        refusal = self._check_writable(req)
        if refusal:
            return refusal
        return self.put_body(req)

    def put_body(self, req):
        """Validate and stream one upload."""
        app = self.app
        headers_in = req.headers
        te = req.headers.get('Transfer-Encoding', '').lower()
        chunked = False
        if te:
            codings = [c.strip() for c in te.split(',')]
            if len(codings) > 1:            # e.g. "gzip, chunked"
                return plain_error(501, 'Unsupported Transfer-Coding header '
                                   'value specified in Transfer-Encoding '
                                   'header')
            if codings[0] != 'chunked':
                return plain_error(400, 'Invalid Transfer-Encoding header '
                                   'value')
            chunked = True
            content_length = None
        else:
            value = req.headers.get('Content-Length')
            if value is None:
                return plain_error(411, 'Missing Content-Length or '
                                   'Transfer-Encoding: chunked')
            try:
                content_length = int(value)
                if content_length < 0 or not value.strip().isdigit():
                    raise ValueError
            except ValueError:
                return plain_error(400, 'Invalid Content-Length')
        if content_length is not None and content_length > app.max_file_size:
            return error_response(413, too_large(app.max_file_size))
        error = constraints.check_metadata(headers_in, 'object')
        if error:
            return plain_error(400, error)
        inm = headers_in.get('If-None-Match')
        if inm is not None and inm.strip() != '*':
            return plain_error(400, 'If-None-Match only supports *')
        timestamp = Timestamp.now()
        headers = self.base_headers(req, timestamp)
        for key, value in headers_in.items():
            lkey = key.lower()
            if lkey in PASS_ON_PUT or lkey.startswith(META_PREFIXES):
                headers[key] = value
        error = self._check_delete_at_in(headers_in, headers)
        if error:
            return error
        ctype = None
        for key in list(headers):
            if key.lower() == 'content-type':
                ctype = headers.pop(key)
        if not ctype or config_true_value(
                headers_in.get('X-Detect-Content-Type')):
            ctype = (mimetypes.guess_type(self.object_name)[0] or
                     'application/octet-stream')
        headers['Content-Type'] = ctype
        targets = self._write_targets(headers)
        ring = app.object_ring
        part = ring.get_part(self.account_name, self.container_name,
                             self.object_name)
        put = ObjectPut(self, ring, part, self.obj_path, targets,
                        req.environ['wsgi.input'].read, content_length or 0,
                        chunked)
        resp, etag = put.run()
        if is_success(resp.status):
            out = Response(201, headers={
                'Last-Modified': timestamp.http_date,
                'X-Timestamp': timestamp.normal,
                'Content-Type': 'text/html; charset=UTF-8',
            }, body=b'')
            if etag:
                out.set_header('Etag', etag)
            return out
        return resp

    def _check_delete_at_in(self, headers_in, headers):
        value, error = delete_at_header(headers_in)
        if error:
            return plain_error(400, error)
        for key in list(headers):
            if key.lower() in ('x-delete-at', 'x-delete-after'):
                del headers[key]
        if value is not None:
            headers['X-Delete-At'] = value
        return None

    def POST(self, req):
        info, denial = self._container(req, 'write_acl')
        if denial:
            return denial
        if not is_success(info.get('status', 0)):
            return error_response(404 if info.get('status') == 404 else 503)
        error = constraints.check_metadata(req.headers, 'object')
        if error:
            return plain_error(400, error)
        timestamp = Timestamp.now()
        headers = self._object_write_headers(req, timestamp, PASS_ON_POST)
        error = self._check_delete_at_in(req.headers, headers)
        if error:
            return error
        ring = self.app.object_ring
        part = ring.get_part(self.account_name, self.container_name,
                             self.object_name)
        # a POST that changes the content type updates the listing too
        targets = self._write_targets(headers)
        resp = self.make_requests(ring, part, 'POST', self.obj_path, targets)
        if resp.status == 202:
            resp = Response(202, headers={
                'Content-Type': 'text/html; charset=UTF-8'},
                body=b'<html><h1>Accepted</h1><p>The request is accepted '
                     b'for processing.</p></html>')
        return resp

    def DELETE(self, req):
        info, denial = self._container(req, 'write_acl')
        if denial:
            return denial
        if_delete_at = req.headers.get('X-If-Delete-At')
        if if_delete_at is not None and not if_delete_at.strip().isdigit():
            return plain_error(400, 'Bad X-If-Delete-At header value')
        if not is_success(info.get('status', 0)):
            return error_response(404 if info.get('status') == 404 else 503)
        timestamp = Timestamp.now()
        headers = self.base_headers(req, timestamp)
        if if_delete_at is not None:       # delete only that expiring copy
            headers['X-If-Delete-At'] = if_delete_at.strip()
        targets = self._write_targets(headers)
        ring = self.app.object_ring
        part = ring.get_part(self.account_name, self.container_name,
                             self.object_name)
        resp = self.make_requests(ring, part, 'DELETE', self.obj_path,
                                  targets)
        if is_success(resp.status):
            return Response(204, headers={
                'X-Timestamp': timestamp.normal,
                'Content-Type': 'text/html; charset=UTF-8'})
        return resp
