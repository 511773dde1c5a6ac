"""ratelimit: Swift's write and listing rate limits, shared in memcached.

Why: a single client hammering one container (or creating containers in a
loop) degrades the container databases for everyone; Swift slows such
clients down by sleeping before their requests, and refuses (498) when the
sleep would be too long.

Limits, as in Swift (rates in requests per second; 0 = no limit):

* ``account_ratelimit``: container PUT/DELETE in an account;
* ``container_ratelimit_<size>``: object PUT/DELETE/POST/COPY into a
  container holding at least ``<size>`` objects; between two configured
  sizes the rate is interpolated linearly, above the largest it stays;
* ``container_listing_ratelimit_<size>``: container GETs, same scheme;
* ``X-Account-Sysmeta-Global-Write-Ratelimit`` on an account: a rate for
  all its writes, or ``WHITELIST`` / ``BLACKLIST``;
* ``account_whitelist`` / ``account_blacklist`` (497 for the latter).

Each limited key is a running "next free slot" time in milliseconds; every
request pushes it one slot further and sleeps until its slot.  When
``memcache_servers`` is set the slots live in memcached, so every worker
of every proxy enforces the same limit; otherwise they live in this
process (logged once at start).  If memcached fails, requests keep being
served, limited per process meanwhile, and the failure is logged.

Container sizes come from ``objproxy.proxy.info.get_container_info``
(the proxy the pipeline ends in, through ``_pipeline_final_app``).

Config (defaults shown)::

    [filter:ratelimit]
    use = egg:objproxy#ratelimit
    clock_accuracy = 1000
    max_sleep_time_seconds = 60
    log_sleep_time_seconds = 0
    rate_buffer_seconds = 5
    account_ratelimit = 0
    account_whitelist =
    account_blacklist =
    # container_ratelimit_0 = 100
    # container_ratelimit_10 = 50
    # container_ratelimit_50 = 20
    # container_listing_ratelimit_0 = 100
    # memcache_servers =          (also from [DEFAULT])
"""
import threading
import time

import eventlet
from webob import Request

from objproxy.common.config import check_options, get_float, get_list
from objproxy.common.exceptions import ConfigError
from objproxy.common.logs import get_logger
from objproxy.common.memcached import MemcacheConnectionError, client_from_conf
from objproxy.common.paths import PathError, split_path
from objproxy.common.registry import register_info
from objproxy.common.response import Response
from objproxy.proxy.info import get_account_info, get_container_info

SECTION = 'filter:ratelimit'
WRITE_METHODS = ('PUT', 'DELETE', 'POST', 'COPY')
VALID_VERSIONS = ('v1', 'v1.0')
KEY_TTL = 3600
MEMCACHE_ERROR_LOG_INTERVAL = 60


class MaxSleepTimeHitError(Exception):
    """The request would have to wait longer than max_sleep_time_seconds."""


def interpret_conf_limits(conf, prefix):
    """``<prefix><size> = <rate>`` options -> sorted [(size, rate)]."""
    limits = []
    for key, value in conf.items():
        if not key.startswith(prefix):
            continue
        size_text = key[len(prefix):]
        if not size_text.isdigit():
            raise ConfigError('[%s] %s: the size after %s must be a whole '
                              'number' % (SECTION, key, prefix))
        rate = get_float(conf, key, 0, SECTION, minimum=0)
        limits.append((int(size_text), rate))
    limits.sort()
    return limits


def get_maxrate(limits, size):
    """Swift's rule: None below the smallest size; linear in between."""
    if not size or not limits:
        return None
    size = int(size)
    chosen = None
    for index, (limit_size, rate) in enumerate(limits):
        if size < limit_size:
            break
        chosen = index
    if chosen is None:
        return None
    limit_size, rate = limits[chosen]
    if chosen + 1 < len(limits):
        next_size, next_rate = limits[chosen + 1]
        slope = (next_rate - rate) / float(next_size - limit_size)
        return rate + (size - limit_size) * slope
    return rate


def _lookup_info(env, app, account, container=None):
    """Container or account info, as the proxy knows it."""
    if container is None:
        return get_account_info(env, app, account)
    return get_container_info(env, app, account, container)


class LocalSlots(object):
    """The memcached ``incr``/``set`` subset, kept in this process.

    Keys expire after their ``ttl`` as in memcached (an ``incr`` of a live
    key keeps its expiry), and expired keys are dropped every
    ``PRUNE_EVERY`` writes, so a proxy running without memcached for weeks
    holds only the keys of the last ``ttl`` seconds.
    """

    PRUNE_EVERY = 1024

    def __init__(self, clock=time.time):
        self._data = {}     # key -> (value, expiry time or None)
        self._lock = threading.Lock()
        self._clock = clock
        self._writes = 0

    def __len__(self):
        return len(self._data)

    def _live(self, key, now):
        item = self._data.get(key)
        if item is None or (item[1] is not None and item[1] <= now):
            return None
        return item

    def _store(self, key, value, expiry, now):
        self._data[key] = (value, expiry)
        self._writes += 1
        if self._writes % self.PRUNE_EVERY == 0:
            self._data = {k: item for k, item in self._data.items()
                          if item[1] is None or item[1] > now}

    def incr(self, key, delta=1, ttl=0):
        with self._lock:
            now = self._clock()
            item = self._live(key, now)
            if item is None:
                value, expiry = 0, (now + ttl if ttl else None)
            else:
                value, expiry = item
            value = max(value + int(delta), 0)
            self._store(key, value, expiry, now)
            return value

    def decr(self, key, delta=1, ttl=0):
        return self.incr(key, -int(delta), ttl)

    def set(self, key, value, ttl=0):
        with self._lock:
            now = self._clock()
            self._store(key, int(value), now + ttl if ttl else None, now)
        return True


class RateLimitMiddleware(object):
    """See the module docstring."""

    BLACKLIST_SLEEP = 1.0

    def __init__(self, app, conf):
        self.app = app
        self.logger = get_logger(conf, 'proxy-server', log_route='ratelimit')
        self.clock_accuracy = int(get_float(conf, 'clock_accuracy', 1000,
                                            SECTION, minimum=1))
        self.max_sleep_time_seconds = get_float(
            conf, 'max_sleep_time_seconds', 60, SECTION, minimum=0)
        self.log_sleep_time_seconds = get_float(
            conf, 'log_sleep_time_seconds', 0, SECTION, minimum=0)
        self.rate_buffer_seconds = get_float(
            conf, 'rate_buffer_seconds', 5, SECTION, minimum=0)
        self.account_ratelimit = get_float(conf, 'account_ratelimit', 0,
                                           SECTION, minimum=0)
        self.whitelist = set(get_list(conf, 'account_whitelist'))
        self.blacklist = set(get_list(conf, 'account_blacklist'))
        self.container_ratelimits = interpret_conf_limits(
            conf, 'container_ratelimit_')
        self.container_listing_ratelimits = interpret_conf_limits(
            conf, 'container_listing_ratelimit_')
        self.memcache = client_from_conf(conf)
        self.local = LocalSlots()
        self._last_memcache_error = 0.0

    def info(self):
        return {
            'account_ratelimit': self.account_ratelimit,
            'max_sleep_time_seconds': self.max_sleep_time_seconds,
            'container_ratelimits': [list(x) for x in
                                     self.container_ratelimits],
            'container_listing_ratelimits': [
                list(x) for x in self.container_listing_ratelimits],
        }

    # -- WSGI ------------------------------------------------------------
    def __call__(self, env, start_response):
        if self.memcache is not None and 'swift.cache' not in env:
            env['swift.cache'] = self.memcache
        try:
            version, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 1, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        if version not in VALID_VERSIONS or not account:
            return self.app(env, start_response)
        req = Request(env)
        resp = self.handle_ratelimit(req, account, container, obj)
        if resp is not None:
            return resp(env, start_response)
        return self.app(env, start_response)

    # -- decisions ---------------------------------------------------------
    def ratelimit_keys(self, req, account, container, obj):
        """[(key, max_rate)] that apply to this request."""
        keys = []
        method = req.method
        if (self.account_ratelimit and container and not obj and
                method in ('PUT', 'DELETE')):
            keys.append(('ratelimit/%s' % account, self.account_ratelimit))
        if container and obj and method in WRITE_METHODS and \
                self.container_ratelimits:
            size = self._container_size(req, account, container)
            rate = get_maxrate(self.container_ratelimits, size)
            if rate:
                keys.append(('ratelimit/%s/%s' % (account, container), rate))
        if container and not obj and method == 'GET' and \
                self.container_listing_ratelimits:
            size = self._container_size(req, account, container)
            rate = get_maxrate(self.container_listing_ratelimits, size)
            if rate:
                keys.append(('ratelimit_listing/%s/%s' % (account, container),
                             rate))
        if method in WRITE_METHODS:
            rate = self._global_write_ratelimit(req, account)
            if isinstance(rate, float) and rate > 0:
                keys.append(('ratelimit/global-write/%s' % account, rate))
        return keys

    def _container_size(self, req, account, container):
        info = _lookup_info(req.environ, self.app, account, container)
        try:
            return int(info.get('object_count') or 0)
        except (TypeError, ValueError):
            return 0

    def _global_write_ratelimit(self, req, account):
        info = _lookup_info(req.environ, self.app, account)
        value = (info.get('sysmeta') or {}).get('global-write-ratelimit')
        if value is None:
            return None
        value = str(value).strip()
        if value.upper() in ('WHITELIST', 'BLACKLIST'):
            return value.upper()
        try:
            return float(value)
        except ValueError:
            return None

    def handle_ratelimit(self, req, account, container, obj):
        """None to let the request through (maybe after sleeping), or a
        497/498 response."""
        if account in self.blacklist:
            return self._blacklisted(account)
        if account in self.whitelist:
            return None
        if req.method in WRITE_METHODS:
            special = self._global_write_ratelimit(req, account)
            if special == 'BLACKLIST':
                return self._blacklisted(account)
            if special == 'WHITELIST':
                return None
        for key, max_rate in self.ratelimit_keys(req, account, container,
                                                 obj):
            try:
                sleep_time = self.get_sleep_time(key, max_rate)
            except MaxSleepTimeHitError as err:
                self.logger.error(
                    'Returning 498 for %s (%s). Ratelimit (Max Sleep) %s',
                    req.method, req.path, err)
                return Response(498, body=b'Slow down',
                                content_type='text/plain')
            if self.log_sleep_time_seconds and \
                    sleep_time > self.log_sleep_time_seconds:
                self.logger.warning('Ratelimit sleep log: %s for %s %s',
                                    sleep_time, account, container)
            if sleep_time > 0:
                eventlet.sleep(sleep_time)
        return None

    def _blacklisted(self, account):
        self.logger.error('Returning 497 because of blacklisting: %s',
                          account)
        if self.BLACKLIST_SLEEP:
            eventlet.sleep(self.BLACKLIST_SLEEP)
        return Response(497, body=b'Your account has been blacklisted',
                        content_type='text/plain')

    # -- the slot arithmetic -----------------------------------------------
    def _slots(self, op, *args):
        """Run a slot operation in memcached, or locally when it is down."""
        if self.memcache is not None:
            try:
                return getattr(self.memcache, op)(*args, ttl=KEY_TTL)
            except MemcacheConnectionError as err:
                now = time.time()
                if now - self._last_memcache_error > \
                        MEMCACHE_ERROR_LOG_INTERVAL:
                    self._last_memcache_error = now
                    self.logger.error('ratelimit: memcached unavailable, '
                                      'limiting per process: %s', err)
        return getattr(self.local, op)(*args, ttl=KEY_TTL)

    def get_sleep_time(self, key, max_rate):
        """Seconds to sleep before this request; MaxSleepTimeHitError when
        that would exceed max_sleep_time_seconds (the slot is given back)."""
        accuracy = self.clock_accuracy
        now_m = int(round(time.time() * accuracy))
        per_request_m = int(round(accuracy / max_rate))
        running_m = self._slots('incr', key, per_request_m)
        need_sleep_m = 0
        if now_m - running_m > self.rate_buffer_seconds * accuracy:
            # idle for a while: restart the schedule from now
            self._slots('set', key, now_m + per_request_m)
        else:
            need_sleep_m = running_m - now_m - per_request_m
        max_sleep_m = self.max_sleep_time_seconds * accuracy
        if max_sleep_m - need_sleep_m <= accuracy * 0.01:
            self._slots('decr', key, per_request_m)
            raise MaxSleepTimeHitError('Max Sleep Time Exceeded: %.2f'
                                       % (float(need_sleep_m) / accuracy))
        return float(need_sleep_m) / accuracy


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, (
        'clock_accuracy', 'max_sleep_time_seconds', 'log_sleep_time_seconds',
        'rate_buffer_seconds', 'account_ratelimit', 'account_whitelist',
        'account_blacklist'),
        patterns=(r'^container_ratelimit_', r'^container_listing_ratelimit_'))
    checked = RateLimitMiddleware(None, conf)
    register_info('ratelimit', **checked.info())
    if checked.memcache is None:
        checked.logger.warning(
            'ratelimit: memcache_servers is not set; limits are enforced '
            'per proxy process only')

    def factory(app):
        return RateLimitMiddleware(app, conf)
    return factory
