"""object_versioning: Swift's newer object versioning (2.38 behaviour).

Not a pipeline filter of its own: the ``versioned_writes`` filter owns
the config section and, with ``allow_object_versioning = true``, calls
``register_info(conf)`` and wraps the app in
``ObjectVersioningMiddleware(app, conf)``.  It must sit left of the
``symlink`` filter (the current object is a static symlink to its newest
version) and right of ``copy``, ``clamav`` and ``slo``::

    [filter:versioned_writes]
    use = egg:objproxy#versioned_writes
    allow_object_versioning = true

Clients switch it on with ``X-Versions-Enabled: true`` on a container
PUT/POST and off with ``false``; versions live in the hidden container
``\\x00versions\\x00<container>`` (Swift's reserved namespace, reachable only
by the proxy's own subrequests).  See docs/object_versioning.md; the
parts: object_versioning_names (storage format),
object_versioning_internal (subrequests), object_versioning_objects,
object_versioning_containers and object_versioning_listing.
"""
from webob import Request

from middleware.object_versioning_containers import (
    delete_container, enable_versioning)
from middleware.object_versioning_internal import VersioningError
from middleware.object_versioning_listing import (
    account_get, container_get_or_head, query_params)
from middleware.object_versioning_names import (
    CLIENT_VERSIONS_ENABLED, stored_versions_container)
from middleware.object_versioning_objects import ObjectVersioning
from objproxy.common.config import config_true_value
from objproxy.common.logs import get_logger
from objproxy.common.paths import (
    PathError, reserved_names_allowed, split_path, wsgi_to_str)
from objproxy.common.registry import register_info as _register
from objproxy.proxy.info import get_container_info

API_VERSIONS = ('v1', 'v1.0')


def register_info(conf):
    """Publish Swift's ``object_versioning`` /info section (empty)."""
    _register('object_versioning')


class ObjectVersioningMiddleware(object):
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger(conf, 'proxy-server',
                                 log_route='object_versioning')

    def __call__(self, env, start_response):
        try:
            path = wsgi_to_str(env.get('PATH_INFO', ''))
            version, account, container, obj = split_path(
                path, 2, 4, True,
                allow_reserved=reserved_names_allowed(env))
        except (PathError, ValueError):
            return self.app(env, start_response)
        if version not in API_VERSIONS:
            return self.app(env, start_response)
        req = Request(env)
        try:
            if obj:
                resp = self.object_request(req, account, container, obj)
            elif container:
                resp = self.container_request(req, account, container)
            elif req.method == 'GET':
                resp = account_get(self.app, req, account)
            else:
                resp = None
        except VersioningError as err:
            resp = err.response
        if resp is None:
            return self.app(env, start_response)
        return resp(env, start_response)

    def container_request(self, req, account, container):
        if req.method in ('PUT', 'POST') and \
                CLIENT_VERSIONS_ENABLED in req.headers:
            return enable_versioning(self.app, req, account, container)
        if req.method == 'DELETE':
            return delete_container(self.app, req, account, container)
        if req.method in ('GET', 'HEAD'):
            return container_get_or_head(self.app, req, account, container)
        return None

    def object_request(self, req, account, container, obj):
        """None: the request passes on untouched."""
        version = query_params(req.environ).get('version-id')
        info = get_container_info(req.environ, self.app, account, container)
        sysmeta = info.get('sysmeta') or {}
        vcont = stored_versions_container(sysmeta)
        if not version and not vcont:
            return None
        handler = ObjectVersioning(
            self.app, req, account, container, obj, vcont,
            config_true_value(sysmeta.get('versions-enabled')))
        if version:
            return handler.handle_version(version)
        return handler.handle()
