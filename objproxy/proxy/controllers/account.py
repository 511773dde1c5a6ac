"""Accounts: container listings, stats, metadata; PUT/DELETE for admins.

With ``account_autocreate`` (the SAIO default) an account that does not
exist yet reads as an empty account, and the first write (container PUT or
account POST) creates it.

Listings are JSON here, always (as from Swift's proxy): the
``listing_formats`` filter renders them as the client asked.
"""
from objproxy.common import constraints
from objproxy.common.config import config_true_value
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.controllers.base import (
    BACKEND_QUERY, Controller, add_last_modified)
from objproxy.proxy.controllers.container import (
    check_listing_params, json_listing_query)
from objproxy.proxy.controllers.meta import (
    ACCOUNT_ACL_SYSMETA, MetadataError, backend_meta, is_owner,
    strip_owner_headers)
from objproxy.proxy.getter import Getter
from objproxy.proxy.info import account_info_from_headers, cache_key
from objproxy.common.response import Response, is_success, plain_error


class AccountController(Controller):
    server_type = 'Account'
    allowed_methods = ('GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE')

    @property
    def path(self):
        return '/%s' % self.account_name

    def GET(self, req):
        return self._get_or_head(req)

    def HEAD(self, req):
        return self._get_or_head(req)

    def _get_or_head(self, req):
        denial = self.authorize(req)
        if denial:
            return denial
        if req.method == 'GET':
            bad = check_listing_params(
                req, constraints.LIMITS['account_listing_limit'])
            if bad:
                return bad
        ring = self.app.account_ring
        part = ring.get_part(self.account_name)
        headers = self.base_headers(req)
        newest = config_true_value(req.headers.get('X-Newest'))
        getter = Getter(self, ring, part, self.path, req.method, headers,
                        query_string=json_listing_query(
                            req.environ.get(BACKEND_QUERY)),
                        newest=newest)
        resp = getter.response()
        if resp.status == 404 and self.app.account_autocreate:
            resp.app_iter = []
            return self._empty_account(req)
        if is_success(resp.status):
            add_last_modified(resp)
            info = account_info_from_headers(
                resp.status, dict((k.lower(), v) for k, v in resp.headers))
            req.environ.setdefault('swift.infocache', {})[
                cache_key(self.account_name)] = info
        self._expose_acl(req, resp)
        return resp

    def _expose_acl(self, req, resp):
        """Owners see the account ACL (kept as sysmeta); nobody else sees
        it or any other owner-only header."""
        acl = resp.get_header(ACCOUNT_ACL_SYSMETA)
        if not is_owner(req.environ):
            strip_owner_headers(resp, self.app.swift_owner_headers)
        elif acl:
            resp.set_header('X-Account-Access-Control', acl)

    def _empty_account(self, req):
        """What Swift answers for an account that will be autocreated: an
        empty JSON listing (``listing_formats`` renders it)."""
        now = Timestamp.now()
        headers = {
            'X-Account-Container-Count': '0',
            'X-Account-Object-Count': '0',
            'X-Account-Bytes-Used': '0',
            'X-Timestamp': now.normal,
            'X-Put-Timestamp': now.normal,
        }
        headers['Content-Type'] = 'application/json; charset=utf-8'
        if req.method == 'HEAD':
            return Response(204, headers=headers)
        return Response(200, headers=headers, body=b'[]')

    def _meta_headers(self, req, timestamp):
        try:
            meta = backend_meta(req.headers, 'account')
        except MetadataError as err:
            return None, plain_error(400, str(err))
        error = constraints.check_metadata(req.headers, 'account')
        if error:
            return None, plain_error(400, error)
        headers = self.base_headers(req, timestamp)
        headers.update(meta)
        return headers, None

    def _send(self, req, method, headers):
        ring = self.app.account_ring
        part = ring.get_part(self.account_name)
        targets = [dict(headers) for _ in range(ring.replica_count)]
        resp = self.make_requests(ring, part, method, self.path, targets)
        self.app.invalidate(req.environ, self.account_name)
        return resp

    def POST(self, req):
        denial = self.authorize(req)
        if denial:
            return denial
        timestamp = Timestamp.now()
        headers, bad = self._meta_headers(req, timestamp)
        if bad:
            return bad
        resp = self._send(req, 'POST', headers)
        if resp.status == 404 and self.app.account_autocreate:
            created = self.app.create_account(req, self.account_name)
            if not is_success(created.status):
                return created
            headers['X-Timestamp'] = Timestamp.now().internal
            resp = self._send(req, 'POST', headers)
        if is_success(resp.status):
            return Response(204, headers={
                'Content-Type': 'text/html; charset=UTF-8'})
        return resp

    def PUT(self, req):
        if not self.app.allow_account_management:
            return self.method_not_allowed()
        denial = self.authorize(req)
        if denial:
            return denial
        headers, bad = self._meta_headers(req, Timestamp.now())
        if bad:
            return bad
        resp = self._send(req, 'PUT', headers)
        if is_success(resp.status):
            return Response(resp.status, headers={
                'Content-Type': 'text/html; charset=UTF-8'})
        return resp

    def DELETE(self, req):
        if not self.app.allow_account_management:
            return self.method_not_allowed()
        denial = self.authorize(req)
        if denial:
            return denial
        if req.GET.get('multipart-manifest') is not None or \
                req.environ.get('QUERY_STRING'):
            return plain_error(400, 'Bad request: DELETE of an account '
                               'takes no query string')
        headers = self.base_headers(req, Timestamp.now())
        resp = self._send(req, 'DELETE', headers)
        if is_success(resp.status):
            return Response(204, headers={
                'Content-Type': 'text/html; charset=UTF-8'})
        return resp

    def OPTIONS(self, req):
        methods = ['GET', 'HEAD', 'POST', 'OPTIONS']
        if self.app.allow_account_management:
            methods += ['PUT', 'DELETE']
        return Response(200, headers={'Allow': ', '.join(sorted(methods))})
