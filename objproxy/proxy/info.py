"""Account and container info: what they hold and who may use them.

Every object request needs its container's ACLs and existence, and every
container PUT its account's; asking the nodes each time would double the
backend round trips.  So info is kept at three levels:

1. ``env['swift.infocache']`` for the rest of this request (and for filters
   such as ratelimit that ask for the same info);
2. this process, for ``recheck_*_existence`` seconds (successes only: a
   cached "not found" in one worker would hide a container another worker
   just created);
3. memcached when ``memcache_servers`` is set, shared by all workers and
   proxies, invalidated on every PUT/POST/DELETE of the account/container.

The dicts look like Swift's, so filters written against Swift's info work.
"""
import time

from objproxy.common.exceptions import ObjproxyError
from objproxy.common.paths import PathError, wsgi_to_str
from objproxy.common.response import is_success

CONTAINER_META_PREFIX = 'x-container-meta-'
CONTAINER_SYSMETA_PREFIX = 'x-container-sysmeta-'
ACCOUNT_META_PREFIX = 'x-account-meta-'
ACCOUNT_SYSMETA_PREFIX = 'x-account-sysmeta-'


def cache_key(account, container=None):
    if container is None:
        return 'account/%s' % account
    return 'container/%s/%s' % (account, container)


def _int(headers, name):
    try:
        return int(headers.get(name) or 0)
    except ValueError:
        return 0


def _prefixed(headers, prefix):
    return dict((k[len(prefix):], v) for k, v in headers.items()
                if k.lower().startswith(prefix))


def container_info_from_headers(status, headers):
    """Swift-style container info from a container HEAD's answer."""
    headers = dict((k.lower(), v) for k, v in headers.items())
    return {
        'status': status,
        'read_acl': headers.get('x-container-read'),
        'write_acl': headers.get('x-container-write'),
        'sync_key': headers.get('x-container-sync-key'),
        'object_count': _int(headers, 'x-container-object-count'),
        'bytes': _int(headers, 'x-container-bytes-used'),
        'versions': headers.get('x-versions-location'),
        'storage_policy': '0',
        'created_at': headers.get('x-timestamp'),
        'put_timestamp': headers.get('x-put-timestamp',
                                     headers.get('x-backend-put-timestamp')),
        'delete_timestamp': headers.get('x-backend-delete-timestamp'),
        'status_changed_at': headers.get('x-backend-status-changed-at'),
        'cors': {
            'allow_origin': headers.get(
                'x-container-meta-access-control-allow-origin'),
            'expose_headers': headers.get(
                'x-container-meta-access-control-expose-headers'),
            'max_age': headers.get(
                'x-container-meta-access-control-max-age'),
        },
        'meta': _prefixed(headers, CONTAINER_META_PREFIX),
        'sysmeta': _prefixed(headers, CONTAINER_SYSMETA_PREFIX),
    }


def account_info_from_headers(status, headers):
    headers = dict((k.lower(), v) for k, v in headers.items())
    return {
        'status': status,
        'container_count': _int(headers, 'x-account-container-count'),
        'object_count': _int(headers, 'x-account-object-count'),
        'total_object_count': _int(headers, 'x-account-object-count'),
        'bytes': _int(headers, 'x-account-bytes-used'),
        'created_at': headers.get('x-timestamp'),
        'put_timestamp': headers.get('x-put-timestamp'),
        'meta': _prefixed(headers, ACCOUNT_META_PREFIX),
        'sysmeta': _prefixed(headers, ACCOUNT_SYSMETA_PREFIX),
    }


class InfoCache(object):
    """The process-level and memcached levels (the env level is inline)."""

    def __init__(self, account_ttl=60, container_ttl=60, memcache=None,
                 logger=None, clock=time.time):
        self.account_ttl = account_ttl
        self.container_ttl = container_ttl
        self.memcache = memcache
        self.logger = logger
        self.clock = clock
        self._local = {}

    def _ttl(self, key):
        return self.account_ttl if key.startswith('account/') else \
            self.container_ttl

    def get(self, key):
        entry = self._local.get(key)
        if entry is not None:
            if entry[0] > self.clock():
                return entry[1]
            self._local.pop(key, None)
        if self.memcache is not None:
            try:
                info = self.memcache.get(key)
            except (ObjproxyError, OSError, Exception) as err:
                self._warn('memcache get %s: %s' % (key, err))
                info = None
            if isinstance(info, dict):
                if is_success(info.get('status', 0)):
                    self._remember(key, info)
                return info
        return None

    def set(self, key, info):
        ttl = self._ttl(key)
        if ttl <= 0:
            return
        status = info.get('status', 0)
        if is_success(status):
            self._remember(key, info)
        elif status != 404:
            return  # never cache a node failure
        if self.memcache is not None:
            try:
                self.memcache.set(key, info, ttl=ttl)
            except Exception as err:
                self._warn('memcache set %s: %s' % (key, err))

    def _remember(self, key, info):
        if len(self._local) > 100000:
            self._local.clear()
        self._local[key] = (self.clock() + self._ttl(key), info)

    def invalidate(self, key):
        self._local.pop(key, None)
        if self.memcache is not None:
            try:
                self.memcache.delete(key)
            except Exception as err:
                self._warn('memcache delete %s: %s' % (key, err))

    def _warn(self, message):
        if self.logger:
            self.logger.warning(message)


def _info_via_head(env, app, account, container):
    """When ``app`` is not part of a loaded pipeline (so it does not know
    its proxy): a HEAD through ``app``."""
    from urllib.parse import quote
    path = '/v1/' + quote(account)
    if container:
        path += '/' + quote(container)
    sub_env = {
        'REQUEST_METHOD': 'HEAD', 'PATH_INFO': path,
        'SCRIPT_NAME': '', 'QUERY_STRING': '', 'SERVER_NAME': 'localhost',
        'SERVER_PORT': '80', 'SERVER_PROTOCOL': 'HTTP/1.0',
        'wsgi.url_scheme': 'http', 'wsgi.input': _Empty(),
        'wsgi.errors': env.get('wsgi.errors'),
        'swift.authorize_override': True,
        'swift.authorize': lambda req: None,
        'swift.trans_id': env.get('swift.trans_id', ''),
        'swift.infocache': env.setdefault('swift.infocache', {}),
    }
    result = {}

    def start_response(status, headers, exc_info=None):
        result['status'] = int(status.split(' ', 1)[0])
        result['headers'] = dict(headers)

    body = app(sub_env, start_response)
    for _ in body:
        pass
    if hasattr(body, 'close'):
        body.close()
    key = cache_key(account, container)
    if key in sub_env['swift.infocache']:
        return sub_env['swift.infocache'][key]
    if container:
        return container_info_from_headers(result['status'],
                                           result['headers'])
    return account_info_from_headers(result['status'], result['headers'])


class _Empty(object):
    def read(self, *args):
        return b''


def text_names(*wsgi_names):
    """Path segments as a filter splits them from PATH_INFO (WSGI
    strings) to the text the info lookups take.  Names that are not UTF-8
    pass unchanged: the proxy answers 412 for those itself."""
    try:
        return tuple(wsgi_to_str(name) for name in wsgi_names)
    except PathError:
        return wsgi_names


def get_container_info(env, app, account, container):
    """Container info dict (``status`` 0 when no node answered)."""
    cached = env.setdefault('swift.infocache', {}).get(
        cache_key(account, container))
    if cached is not None:
        return cached
    proxy = getattr(app, '_pipeline_final_app', None)
    if proxy is not None:
        return proxy.container_info(env, account, container)
    return _info_via_head(env, app, account, container)


def get_account_info(env, app, account):
    cached = env.setdefault('swift.infocache', {}).get(cache_key(account))
    if cached is not None:
        return cached
    proxy = getattr(app, '_pipeline_final_app', None)
    if proxy is not None:
        return proxy.account_info(env, account)
    return _info_via_head(env, app, account, None)
