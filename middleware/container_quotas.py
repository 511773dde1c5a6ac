"""container_quotas: per-container byte and object-count limits (Swift's).

Anyone who may set a container's metadata may cap it, which is how an
account owner limits what a delegated user (or a formpost form) can
store.  The caps are ordinary container metadata:

* ``X-Container-Meta-Quota-Bytes``: the most bytes the container may hold;
* ``X-Container-Meta-Quota-Count``: the most objects it may hold.

A container PUT/POST setting either to something other than digits gets
``400`` (``Invalid bytes quota.`` / ``Invalid count quota.``).  An object
PUT (a server-side copy included: the copy filter to our left turns it
into a PUT whose Content-Length is the source's size) that would push the
container past a cap gets ``413 Upload exceeds quota.`` -- unless the
requester could not have written there anyway, who gets auth's 401/403 so
the container's existence is not leaked.

The check uses the cached container info (the proxy's info cache: up to
``recheck_container_existence`` seconds old) as Swift does, so quotas are
approximate: concurrent uploads and chunked uploads of unknown size can
overshoot, after which further uploads are refused.

Config::

    [filter:container_quotas]
    use = egg:objproxy#container_quotas
"""
from urllib.parse import unquote

from webob import Request

from objproxy.common.config import check_options
from objproxy.common.paths import (
    RESERVED, PathError, split_path, str_to_wsgi)
from objproxy.common.registry import register_info
from objproxy.common.response import is_success, plain_error
from objproxy.proxy.info import get_container_info, text_names
from middleware.large_objects import call_app, make_subrequest_env

SECTION = 'filter:container_quotas'
QUOTAS = (('quota-bytes', 'Invalid bytes quota.'),
          ('quota-count', 'Invalid count quota.'))


def _limit(meta, key):
    """The quota in ``meta`` as an int, or None when unset or not digits."""
    value = (meta or {}).get(key)
    if value is None or not str(value).isdigit():
        return None
    return int(value)



class ContainerQuotaMiddleware(object):
    """Validates quota metadata and refuses uploads that exceed it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        try:
            _v, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 3, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        method = env.get('REQUEST_METHOD')
        if not obj and method in ('PUT', 'POST'):
            req = Request(env)
            for key, message in QUOTAS:
                value = req.headers.get('X-Container-Meta-' + key)
                if value and not value.isdigit():
                    return plain_error(400, message)(env, start_response)
        elif obj and method == 'PUT':
            denial = self.check_upload(env, account, container)
            if denial is not None:
                return denial(env, start_response)
        return self.app(env, start_response)

    def check_upload(self, env, account, container):
        """None if the PUT fits the container's quotas, else the answer."""
        info = get_container_info(env, self.app, *text_names(account, container))
        if not info or not is_success(info.get('status', 0)):
            return None          # the proxy answers 404 (or the failure)
        meta = info.get('meta') or {}
        quota_bytes = _limit(meta, 'quota-bytes')
        quota_count = _limit(meta, 'quota-count')
        if quota_bytes is None and quota_count is None:
            return None
        req = Request(env)
        used_bytes, used_count = self.usage(env, account, info)
        if quota_bytes is not None and \
                used_bytes + (req.content_length or 0) > quota_bytes:
            return self.exceeded(req, info)
        if quota_count is not None and used_count + 1 > quota_count:
            return self.exceeded(req, info)
        return None

    def usage(self, env, account, info):
        """(bytes, objects) the quota covers: the container's, plus its
        hidden versions container's when object versioning keeps old
        versions for it (they are the container's data, as in Swift)."""
        used_bytes = int(info.get('bytes') or 0)
        used_count = int(info.get('object_count') or 0)
        sysmeta = info.get('sysmeta') or {}
        hidden = unquote(sysmeta.get('versions-container') or '')
        if hidden.startswith(RESERVED):
            # asked afresh: every PUT adds a version, so a cached answer
            # would be behind by exactly what the quota must count
            sub = make_subrequest_env(env, 'HEAD', str_to_wsgi(
                '/v1/%s/%s' % (text_names(account)[0], hidden)),
                source='CQ')
            sub.update({'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES': 'true',
                        'swift.authorize': lambda req: None,
                        'swift.authorize_override': True})
            resp = call_app(self.app, sub)
            resp.drain()
            if resp.ok:
                used_bytes += _int(resp.headers.get(
                    'x-container-bytes-used'))
                used_count += _int(resp.headers.get(
                    'x-container-object-count'))
        return used_bytes, used_count

    @staticmethod
    def exceeded(req, info):
        # Someone who could not have written here learns nothing more
        # than auth would have told them.
        authorize = req.environ.get('swift.authorize')
        if authorize is not None and \
                not req.environ.get('swift.authorize_override'):
            req.acl = info.get('write_acl')
            denial = authorize(req)
            if denial is not None:
                return denial
        return plain_error(413, 'Upload exceeds quota.')


def filter_factory(global_conf, **local_conf):
    check_options(SECTION, local_conf, global_conf, ())
    register_info('container_quotas')

    def factory(app):
        return ContainerQuotaMiddleware(app)
    return factory


def _int(value):
    try:
        return int(value or 0)
    except ValueError:
        return 0
