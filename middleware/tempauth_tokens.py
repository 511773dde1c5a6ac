"""Where tempauth keeps its tokens: memcached when there is one, and this
process always.

Why it is its own module: storage of expiring tokens (a bounded local
table, memcached shared by every proxy, and falling back from one to the
other when memcached is down) is separate from deciding what a token
grants.
"""
import threading
import time

from objproxy.common.memcached import MemcacheConnectionError

LOCAL_TOKEN_LIMIT = 100000
#: Seconds a token read from memcached is then answered from this
#: process's copy.  A tempauth token is never revoked before it expires
#: (as in Swift), so the copy cannot grant what memcached would refuse; it
#: saves one memcached round trip on nearly every request.
REMOTE_COPY_TTL = 30


class LocalTokenStore(object):
    """Tokens in this process (no memcached): expiring entries, bounded."""

    def __init__(self):
        self._data = {}
        self._lock = threading.Lock()

    def get(self, key):
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires < time.time():
            self._data.pop(key, None)
            return None
        return value

    def set(self, key, value, ttl):
        with self._lock:
            if len(self._data) >= LOCAL_TOKEN_LIMIT:
                now = time.time()
                for k in [k for k, (_, e) in self._data.items() if e < now]:
                    del self._data[k]
                while len(self._data) >= LOCAL_TOKEN_LIMIT:
                    del self._data[next(iter(self._data))]
            self._data[key] = (value, time.time() + ttl)


class TokenStore(object):
    """Tokens in memcached (``env['swift.cache']`` or our own client) and
    always in the local store too, so a token stays valid on this proxy
    while memcached is unreachable.  A lookup asks the local store first;
    a token only memcached knew is copied there for REMOTE_COPY_TTL."""

    def __init__(self, memcache, local, logger):
        self.memcache = memcache
        self.local = local
        self.logger = logger

    def cache(self, env):
        return env.get('swift.cache') or self.memcache

    def store(self, env, key, value, ttl):
        self.local.set(key, value, ttl)
        cache = self.cache(env)
        if cache is not None:
            try:
                cache.set(key, value, ttl=ttl)
            except MemcacheConnectionError as err:
                self.logger.error('tempauth: cannot store in memcached, '
                                  'token valid on this proxy only: %s', err)

    def fetch(self, env, key):
        value = self.local.get(key)
        if value is not None:
            return value
        cache = self.cache(env)
        if cache is not None:
            try:
                value = cache.get(key)
            except MemcacheConnectionError as err:
                self.logger.error('tempauth: memcached unavailable: %s', err)
            if value is not None:
                self.local.set(key, value, REMOTE_COPY_TTL)
        return value
