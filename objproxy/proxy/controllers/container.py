"""Containers: listings and info from replicas, quorum writes.

A container PUT first makes sure the account exists (creating it when
``account_autocreate`` is on, as Swift's SAIO does) and tells each
container replica which account replica to report its stats to.

Listings are asked of the nodes as JSON, always (as Swift's proxy does):
the ``listing_formats`` filter renders them as the client asked.
"""
from objproxy.common import constraints
from objproxy.common.config import config_true_value
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.controllers.base import (
    BACKEND_QUERY, Controller, add_last_modified)
from objproxy.proxy.controllers.meta import (
    MetadataError, backend_meta, is_owner, strip_owner_headers)
from objproxy.proxy.getter import Getter
from objproxy.proxy.info import cache_key, container_info_from_headers
from objproxy.common.response import (
    Response, error_response, is_success, plain_error)

# The one storage policy of this cluster (every replica is a full copy).
DEFAULT_POLICY = 'Policy-0'


def check_listing_params(req, limit_max):
    """412 for a ``limit`` over the maximum; None when fine.

    As in Swift, a limit that is not a whole number means the default, and
    a NUL in a marker or prefix is an ordinary character (the listing code
    handles both).
    """
    limit = (req.GET.get('limit') or '').strip()
    if limit.isdigit() and int(limit) > limit_max:
        return plain_error(412, 'Maximum limit is %d' % limit_max)
    return None


def json_listing_query(query):
    """A backend query string asking for JSON: any ``format`` the client
    sent is replaced (the other parameters are kept byte for byte)."""
    kept = [part for part in (query or '').split('&')
            if part and part.split('=', 1)[0] != 'format']
    return '&'.join(kept + ['format=json'])


def account_update_headers(count, account_part, account_nodes):
    headers = []
    for i in range(count):
        if not account_nodes:
            headers.append({})
            continue
        node = account_nodes[i % len(account_nodes)]
        headers.append({
            'X-Account-Host': '%s:%s' % (node['ip'], node['port']),
            'X-Account-Partition': str(account_part),
            'X-Account-Device': node['device'],
        })
    return headers


class ContainerController(Controller):
    server_type = 'Container'
    allowed_methods = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS')

    @property
    def path(self):
        return '/%s/%s' % (self.account_name, self.container_name)

    def GET(self, req):
        return self._get_or_head(req)

    def HEAD(self, req):
        return self._get_or_head(req)

    def _get_or_head(self, req):
        info = self.app.container_info(req.environ, self.account_name,
                                       self.container_name)
        denial = self.authorize(req, info.get('read_acl'))
        if denial:
            return denial
        if req.method == 'GET':
            bad = check_listing_params(
                req, constraints.LIMITS['container_listing_limit'])
            if bad:
                return bad
        ring = self.app.container_ring
        part = ring.get_part(self.account_name, self.container_name)
        headers = self.base_headers(req)
        newest = config_true_value(req.headers.get('X-Newest'))
        getter = Getter(self, ring, part, self.path, req.method, headers,
                        query_string=json_listing_query(
                            req.environ.get(BACKEND_QUERY)),
                        newest=newest)
        resp = getter.response()
        if req.method == 'HEAD' or is_success(resp.status):
            rheaders = dict((k.lower(), v) for k, v in resp.headers)
            if is_success(resp.status):
                new_info = container_info_from_headers(resp.status, rheaders)
                req.environ.setdefault('swift.infocache', {})[cache_key(
                    self.account_name, self.container_name)] = new_info
        if is_success(resp.status):
            resp.set_header('X-Storage-Policy', DEFAULT_POLICY)
            add_last_modified(resp)
        if not is_owner(req.environ):
            strip_owner_headers(resp, self.app.swift_owner_headers)
        return resp

    def _meta_headers(self, req, timestamp):
        if not is_owner(req.environ):
            # only owners may set ACLs, sync settings and TempURL keys
            for name in self.app.swift_owner_headers:
                req.headers.pop(name, None)
        clean = req.environ.get('swift.clean_acl')
        if clean:
            for name in ('X-Container-Read', 'X-Container-Write'):
                if name in req.headers:
                    try:
                        req.headers[name] = clean(name, req.headers[name])
                    except ValueError as err:
                        return None, plain_error(400, str(err))
        try:
            meta = backend_meta(req.headers, 'container')
        except MetadataError as err:
            return None, plain_error(400, str(err))
        error = constraints.check_metadata(req.headers, 'container')
        if error:
            return None, plain_error(400, error)
        headers = self.base_headers(req, timestamp)
        headers.update(meta)
        return headers, None

    def PUT(self, req):
        denial = self.authorize(req)
        if denial:
            return denial
        policy = req.headers.get('X-Storage-Policy', '').strip()
        if policy and policy.lower() != DEFAULT_POLICY.lower():
            return plain_error(400, 'Invalid X-Storage-Policy %r' % policy)
        timestamp = Timestamp.now()
        headers, bad = self._meta_headers(req, timestamp)
        if bad:
            return bad
        app = self.app
        account_info = app.account_info(req.environ, self.account_name,
                                        autocreate=True)
        status = account_info.get('status', 0)
        if status == 404:
            return error_response(404)
        if not is_success(status):
            return error_response(503)
        if app.max_containers_per_account > 0 and \
                account_info.get('container_count', 0) >= \
                app.max_containers_per_account and \
                self.container_name not in getattr(
                    app, 'max_containers_whitelist', ()):
            existing = app.container_info(req.environ, self.account_name,
                                          self.container_name)
            if not is_success(existing.get('status', 0)):
                return plain_error(403, 'Reached container limit of %s'
                                   % app.max_containers_per_account)
        ring = app.container_ring
        part = ring.get_part(self.account_name, self.container_name)
        apart, anodes = app.account_ring.get_nodes(self.account_name)
        targets = [dict(headers, **extra) for extra in
                   account_update_headers(ring.replica_count, apart, anodes)]
        resp = self.make_requests(ring, part, 'PUT', self.path, targets)
        app.invalidate(req.environ, self.account_name, self.container_name)
        app.invalidate(req.environ, self.account_name)
        return self._write_answer(resp)

    def POST(self, req):
        denial = self.authorize(req)
        if denial:
            return denial
        timestamp = Timestamp.now()
        headers, bad = self._meta_headers(req, timestamp)
        if bad:
            return bad
        info = self.app.container_info(req.environ, self.account_name,
                                       self.container_name)
        if info.get('status') == 404:
            return error_response(404)
        ring = self.app.container_ring
        part = ring.get_part(self.account_name, self.container_name)
        targets = [dict(headers) for _ in range(ring.replica_count)]
        resp = self.make_requests(ring, part, 'POST', self.path, targets)
        self.app.invalidate(req.environ, self.account_name,
                            self.container_name)
        return self._write_answer(resp)

    def DELETE(self, req):
        denial = self.authorize(req)
        if denial:
            return denial
        timestamp = Timestamp.now()
        ring = self.app.container_ring
        part = ring.get_part(self.account_name, self.container_name)
        apart, anodes = self.app.account_ring.get_nodes(self.account_name)
        headers = self.base_headers(req, timestamp)
        targets = [dict(headers, **extra) for extra in
                   account_update_headers(ring.replica_count, apart, anodes)]
        resp = self.make_requests(ring, part, 'DELETE', self.path, targets)
        self.app.invalidate(req.environ, self.account_name,
                            self.container_name)
        self.app.invalidate(req.environ, self.account_name)
        if resp.status == 202:  # Swift: a 202 here means 404 on the nodes
            return error_response(404)
        return self._write_answer(resp)

    def _write_answer(self, resp):
        if is_success(resp.status):
            return Response(resp.status, headers={
                'Content-Type': 'text/html; charset=UTF-8'}, body=b'')
        return resp
