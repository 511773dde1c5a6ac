"""The proxy application: routes Swift API requests to controllers.

``Application`` owns what lives for the whole process: the three rings,
the backend connection pool, the error limiter and the info cache.  Each
request gets a controller (account, container or object) built from its
path; validation of the path and headers happens here, before any node is
contacted, so malformed input is always a clear 4xx.
"""
import time
import uuid

from webob import Request

import objproxy
from objproxy.common import constraints
from objproxy.common.backend_http import ConnectionPool
from objproxy.common.config import (
    check_options, get_bool, get_float, get_int, get_list)
from objproxy.common.hashing import load_hash_config
from objproxy.common.logs import get_logger
from objproxy.common.paths import (
    RESERVED, PathError, backend_query, reserved_names_allowed, split_path,
    wsgi_to_str)
from objproxy.common.registry import register_info
from objproxy.proxy import cors
from objproxy.proxy.controllers.account import AccountController
from objproxy.proxy.controllers.base import BACKEND_QUERY
from objproxy.proxy.controllers.capabilities import InfoController
from objproxy.proxy.controllers.container import (
    DEFAULT_POLICY, ContainerController)
from objproxy.proxy.controllers.obj import ObjectController
from objproxy.proxy.error_limiter import ErrorLimiter
from objproxy.proxy.getter import Getter
from objproxy.proxy.info import (
    InfoCache, account_info_from_headers, cache_key,
    container_info_from_headers)
from objproxy.common.response import (
    Response, error_response, is_server_error, is_success, plain_error)

SECTION = 'app:proxy_server'
KNOWN_OPTIONS = (
    'objproxy_dir', 'account_autocreate', 'allow_account_management',
    'conn_timeout', 'node_timeout', 'client_timeout',
    'recoverable_node_timeout', 'error_suppression_limit',
    'error_suppression_interval', 'recheck_account_existence',
    'recheck_container_existence', 'object_chunk_size', 'client_chunk_size',
    'memcache_servers', 'max_containers_per_account', 'swift_owner_headers',
) + cors.OPTION_NAMES
# What only an account's owners may see or set (Swift's default list).
OWNER_HEADERS = (
    'x-container-read', 'x-container-write', 'x-container-sync-key',
    'x-container-sync-to', 'x-account-meta-temp-url-key',
    'x-account-meta-temp-url-key-2', 'x-container-meta-temp-url-key',
    'x-container-meta-temp-url-key-2', 'x-account-access-control')
API_VERSIONS = ('v1', 'v1.0')
HTML = 'text/html; charset=UTF-8'
DEFAULT_CHUNK_SIZE = 256 * 1024


def generate_trans_id(suffix=''):
    return 'tx%s-%010x%s' % (uuid.uuid4().hex[:21], int(time.time()),
                             suffix)


class Application(object):
    """The WSGI app at the end of the proxy pipeline."""

    def __init__(self, conf, account_ring=None, container_ring=None,
                 object_ring=None, memcache=None, logger=None):
        conf = dict(conf or {})
        self.conf = conf
        self.logger = logger or get_logger(conf, 'proxy-server')
        self.objproxy_dir = conf.get('objproxy_dir', '/etc/objproxy')
        s = SECTION
        self.account_autocreate = get_bool(conf, 'account_autocreate', True,
                                           s)
        self.allow_account_management = get_bool(
            conf, 'allow_account_management', False, s)
        self.conn_timeout = get_float(conf, 'conn_timeout', 0.5, s,
                                      minimum=0.001)
        self.node_timeout = get_float(conf, 'node_timeout', 10, s,
                                      minimum=0.001)
        self.recoverable_node_timeout = get_float(
            conf, 'recoverable_node_timeout', self.node_timeout, s,
            minimum=0.001)
        self.client_timeout = get_float(conf, 'client_timeout', 60, s,
                                        minimum=0.001)
        self.error_limiter = ErrorLimiter(
            get_float(conf, 'error_suppression_interval', 60, s, minimum=0),
            get_int(conf, 'error_suppression_limit', 10, s, minimum=0),
            self.logger)
        # 4x Swift's 64 KiB: each chunk costs a trip through every filter's
        # body iterator and a few green socket calls, and at 64 KiB that
        # overhead was a third of the proxy's CPU on 64 MiB transfers
        self.object_chunk_size = get_int(conf, 'object_chunk_size',
                                         DEFAULT_CHUNK_SIZE, s, minimum=1)
        self.client_chunk_size = get_int(conf, 'client_chunk_size',
                                         DEFAULT_CHUNK_SIZE, s, minimum=1)
        self.max_containers_per_account = get_int(
            conf, 'max_containers_per_account', 0, s, minimum=0)
        account_ttl = get_float(conf, 'recheck_account_existence', 60, s,
                                minimum=0)
        container_ttl = get_float(conf, 'recheck_container_existence', 60, s,
                                  minimum=0)
        if memcache is None and conf.get('memcache_servers', '').strip():
            from objproxy.common import memcached
            memcache = memcached.get_client(conf['memcache_servers'])
        self.memcache = memcache
        self.info_cache = InfoCache(account_ttl, container_ttl, memcache,
                                    self.logger)
        if object_ring is None:
            from objproxy.ring.ring import Ring
            load_hash_config(self.objproxy_dir)
            constraints.load_constraints(self.objproxy_dir)
            account_ring = Ring(self.objproxy_dir, 'account')
            container_ring = Ring(self.objproxy_dir, 'container')
            object_ring = Ring(self.objproxy_dir, 'object')
        self.account_ring = account_ring
        self.container_ring = container_ring
        self.object_ring = object_ring
        # idle less long than the nodes' keep-alive (5 s) to rarely meet a
        # connection the node already closed
        self.pool = ConnectionPool(max_idle=64)
        self.disallowed_sections = get_list(conf, 'disallowed_sections')
        self.cors = cors.load_options(conf, s)
        self.strict_cors_mode = self.cors.strict
        self.swift_owner_headers = [
            name.lower() for name in get_list(
                conf, 'swift_owner_headers', OWNER_HEADERS)]
        self.max_file_size = constraints.LIMITS['max_file_size']
        self.register_capabilities()

    def register_capabilities(self):
        limits = constraints.LIMITS
        register_info(
            'swift', version=objproxy.__version__,
            max_file_size=limits['max_file_size'],
            max_meta_name_length=limits['max_meta_name_length'],
            max_meta_value_length=limits['max_meta_value_length'],
            max_meta_count=limits['max_meta_count'],
            max_meta_overall_size=limits['max_meta_overall_size'],
            max_header_size=limits['max_header_size'],
            max_object_name_length=limits['max_object_name_length'],
            container_listing_limit=limits['container_listing_limit'],
            account_listing_limit=limits['account_listing_limit'],
            max_account_name_length=limits['max_account_name_length'],
            max_container_name_length=limits['max_container_name_length'],
            extra_header_count=limits['extra_header_count'],
            account_autocreate=self.account_autocreate,
            allow_account_management=self.allow_account_management,
            max_containers_per_account=self.max_containers_per_account,
            valid_api_versions=list(API_VERSIONS),
            strict_cors_mode=self.strict_cors_mode,
            policies=[{'name': DEFAULT_POLICY, 'default': True}],
        )

    def request_node_count(self, replicas):
        return replicas * 2

    # ----- info (accounts and containers) ---------------------------------

    def _info(self, env, account, container):
        key = cache_key(account, container)
        infocache = env.setdefault('swift.infocache', {})
        if key in infocache:
            return infocache[key]
        info = self.info_cache.get(key)
        if info is None:
            info = self._fetch_info(env, account, container)
            self.info_cache.set(key, info)
        infocache[key] = info
        return info

    def _fetch_info(self, env, account, container):
        if container is None:
            ctrl = AccountController(self, account)
            ring = self.account_ring
            part = ring.get_part(account)
            path = '/%s' % account
        else:
            ctrl = ContainerController(self, account, container)
            ring = self.container_ring
            part = ring.get_part(account, container)
            path = '/%s/%s' % (account, container)
        headers = {'X-Trans-Id': env.get('swift.trans_id', ''),
                   'X-Backend-Layer': ctrl.server_type.lower()}
        resp = Getter(ctrl, ring, part, path, 'HEAD', headers).response()
        status = resp.status
        if is_server_error(status):
            status = 0 if status == 503 else status
        rheaders = dict((k.lower(), v) for k, v in resp.headers)
        if container is None:
            return account_info_from_headers(status, rheaders)
        return container_info_from_headers(status, rheaders)

    def container_info(self, env, account, container):
        return self._info(env, account, container)

    def account_info(self, env, account, autocreate=False):
        info = self._info(env, account, None)
        if info.get('status') == 404 and autocreate and \
                self.account_autocreate:
            req = Request(env)
            created = self.create_account(req, account)
            if is_success(created.status):
                self.invalidate(env, account)
                info = self._info(env, account, None)
        return info

    def create_account(self, req, account):
        from objproxy.common.timestamp import Timestamp
        ctrl = AccountController(self, account)
        headers = ctrl.base_headers(req, Timestamp.now())
        ring = self.account_ring
        part = ring.get_part(account)
        targets = [dict(headers) for _ in range(ring.replica_count)]
        resp = ctrl.make_requests(ring, part, 'PUT', '/%s' % account,
                                  targets)
        self.invalidate(req.environ, account)
        return resp

    def invalidate(self, env, account, container=None):
        key = cache_key(account, container)
        env.setdefault('swift.infocache', {}).pop(key, None)
        self.info_cache.invalidate(key)

    # ----- request routing --------------------------------------------------

    def __call__(self, env, start_response):
        trans_id = env.get('swift.trans_id')
        if not trans_id:
            trans_id = env['swift.trans_id'] = generate_trans_id(
                self.conf.get('trans_id_suffix', ''))

        def start(status, headers, exc_info=None):
            names = set(k.lower() for k, _ in headers)
            headers = list(headers)
            if 'x-trans-id' not in names:
                headers.append(('X-Trans-Id', trans_id))
            if 'x-openstack-request-id' not in names:
                headers.append(('X-Openstack-Request-Id', trans_id))
            return start_response(status, headers, exc_info)

        req = Request(env)
        resp = self.handle_request(req)
        return resp(env, start)

    def handle_request(self, req):
        env = req.environ
        env.setdefault('swift.infocache', {})
        raw = env.get('headers_raw')
        if raw is not None and 'CONTENT_TYPE' in env and not any(
                k.lower() == 'content-type' for k, _ in raw):
            # eventlet fills in "text/plain" when the client sent none;
            # the object's type must then be guessed, not invented
            del env['CONTENT_TYPE']
        # the reserved namespace (NUL) is for the proxy's own subrequests
        allow_reserved = reserved_names_allowed(env)
        try:
            path = wsgi_to_str(env.get('PATH_INFO', ''))
            if RESERVED in path and not allow_reserved:
                raise PathError('Invalid UTF8 or contains NULL')
        except PathError:
            return plain_error(412, 'Invalid UTF8 or contains NULL')
        bad = self.check_headers(env)
        if bad:
            return bad
        if path == '/info':
            controller = InfoController(self)
        else:
            controller = self.route(path, req.method, allow_reserved)
            if isinstance(controller, Response):
                return controller
        method = req.method
        if method not in controller.allowed_methods:
            return error_response(405, headers={
                'Allow': ', '.join(sorted(controller.allowed_methods))})
        return cors.handle(self, controller, req, method)

    def route(self, path, method, allow_reserved=False):
        """The controller for an API path, or the 4xx that answers it
        without asking any node.  Names in the reserved namespace route
        only with ``allow_reserved`` (an internal subrequest)."""
        try:
            version, account, container, obj = split_path(
                path, 1, 4, True, allow_reserved=allow_reserved)
        except PathError:
            return error_response(404, 'Invalid path')
        if not account:
            return plain_error(412, 'Bad URL')
        if version not in API_VERSIONS:
            return plain_error(400, 'Invalid API version: %s' % version[:64])
        too_long = constraints.name_too_long('Account', account)
        if too_long:     # Swift's account and container 400s are HTML
            return Response(400, body=too_long, content_type=HTML)
        if not container:                    # "/v1/AUTH_x/" is the account
            return AccountController(self, account)
        unstorable = ('Invalid container name' if container in ('.', '..')
                      else constraints.name_too_long('Container', container))
        if unstorable:
            # no node can hold such a container: creating one is the
            # client's error, anything else finds nothing (as in Swift)
            if not obj and method == 'PUT':
                return Response(400, body=unstorable, content_type=HTML)
            return error_response(404)
        if not obj:                  # "/v1/a/c/" is the container, as Swift
            return ContainerController(self, account, container)
        too_long = constraints.name_too_long('Object', obj)
        if too_long:
            return plain_error(400, too_long)
        return ObjectController(self, account, container, obj)

    def check_headers(self, env):
        count = 0
        max_size = constraints.LIMITS['max_header_size']
        for key, value in env.items():
            if key.startswith('HTTP_'):
                count += 1
                if len(value) > max_size:
                    return plain_error(400, 'Header value too long: %s' %
                                       key[5:].replace('_', '-').title())
        if count > constraints.MAX_HEADER_COUNT + \
                constraints.LIMITS['extra_header_count']:
            return plain_error(400, 'Too many headers')
        query = env.get('QUERY_STRING')
        if query:
            try:     # parsed once: what the nodes will be sent
                env[BACKEND_QUERY] = backend_query(query)
            except PathError as err:
                return plain_error(400, str(err))
        length = env.get('CONTENT_LENGTH')
        if length not in (None, ''):
            if not length.strip().isdigit():
                return plain_error(400, 'Invalid Content-Length')
        return None


def app_factory(global_conf, **local_conf):
    conf = dict(global_conf or {})
    conf.update(local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS +
                  ('disallowed_sections',))
    return Application(conf)
