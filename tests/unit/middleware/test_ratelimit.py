"""ratelimit: Swift's limits, 497/498, shared through a real memcached."""
import logging
import socket
import time

import pytest
from webob import Request

from middleware import ratelimit
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info


def ok_app(env, start_response):
    start_response('204 No Content', [])
    return [b'']


def make(**conf):
    mw = ratelimit.filter_factory({}, **conf)(ok_app)
    mw.BLACKLIST_SLEEP = 0
    return mw


def call(mw, path, method='PUT', infocache=None):
    req = Request.blank(path, method=method)
    if infocache is not None:
        req.environ['swift.infocache'] = dict(infocache)
    return req.get_response(mw)


def timed(mw, path, count, method='PUT', infocache=None):
    start = time.time()
    statuses = [call(mw, path, method, infocache).status_int
                for _ in range(count)]
    return time.time() - start, statuses


def test_get_maxrate_interpolates():
    limits = ratelimit.interpret_conf_limits(
        {'container_ratelimit_0': '100', 'container_ratelimit_10': '50',
         'container_ratelimit_50': '20', 'other': 'x'}, 'container_ratelimit_')
    assert limits == [(0, 100.0), (10, 50.0), (50, 20.0)]
    assert ratelimit.get_maxrate(limits, 5) == 75
    assert ratelimit.get_maxrate(limits, 10) == 50
    assert ratelimit.get_maxrate(limits, 30) == 35
    assert ratelimit.get_maxrate(limits, 1000) == 20
    assert ratelimit.get_maxrate([(10, 50.0)], 5) is None
    assert ratelimit.get_maxrate(limits, 0) is None


def test_account_ratelimit_sleeps_container_puts():
    mw = make(account_ratelimit='20')
    elapsed, statuses = timed(mw, '/v1/AUTH_a/c', 6)
    assert statuses == [204] * 6
    assert elapsed >= 0.24          # 5 slots of 50 ms after the first
    # objects and reads are not account-limited
    elapsed, _ = timed(mw, '/v1/AUTH_a/c/o', 6)
    assert elapsed < 0.1
    elapsed, _ = timed(mw, '/v1/AUTH_a/c', 6, method='GET')
    assert elapsed < 0.1


def test_498_when_sleep_too_long():
    mw = make(account_ratelimit='5', max_sleep_time_seconds='0.1')
    assert call(mw, '/v1/AUTH_a/c').status_int == 204
    resp = call(mw, '/v1/AUTH_a/c')
    assert resp.status == '498 Rate Limited'
    assert resp.body == b'Slow down'
    # another account has its own budget
    assert call(mw, '/v1/AUTH_b/c').status_int == 204


def test_container_ratelimit_by_size():
    mw = make(container_ratelimit_100='5', max_sleep_time_seconds='0.1')
    small = {'container/AUTH_a/c': {'object_count': 10}}
    big = {'container/AUTH_a/c': {'object_count': 500}}
    assert timed(mw, '/v1/AUTH_a/c/o', 4, infocache=small)[1] == [204] * 4
    assert call(mw, '/v1/AUTH_a/c/o', infocache=big).status_int == 204
    assert call(mw, '/v1/AUTH_a/c/o', infocache=big).status_int == 498
    assert call(mw, '/v1/AUTH_a/c/o', 'GET', infocache=big).status_int == 204


def test_container_listing_ratelimit():
    mw = make(container_listing_ratelimit_0='5',
              max_sleep_time_seconds='0.1')
    info = {'container/AUTH_a/c': {'object_count': 3}}
    assert call(mw, '/v1/AUTH_a/c', 'GET', info).status_int == 204
    assert call(mw, '/v1/AUTH_a/c', 'GET', info).status_int == 498
    assert call(mw, '/v1/AUTH_a/c/o', 'GET', info).status_int == 204


def test_black_and_white_lists():
    mw = make(account_ratelimit='5', max_sleep_time_seconds='0.1',
              account_blacklist='AUTH_bad', account_whitelist='AUTH_vip')
    resp = call(mw, '/v1/AUTH_bad/c/o', 'GET')
    assert resp.status == '497 Blacklisted'
    assert statuses_ok(mw, '/v1/AUTH_vip/c', 5)


def statuses_ok(mw, path, count, infocache=None):
    return timed(mw, path, count, infocache=infocache)[1] == [204] * count


def test_global_write_ratelimit_sysmeta():
    mw = make(max_sleep_time_seconds='0.1')
    limited = {'account/AUTH_a': {'sysmeta': {
        'global-write-ratelimit': '5'}}}
    assert call(mw, '/v1/AUTH_a/c/o', 'POST', limited).status_int == 204
    assert call(mw, '/v1/AUTH_a/c2/o', 'DELETE', limited).status_int == 498
    assert call(mw, '/v1/AUTH_a/c/o', 'GET', limited).status_int == 204
    black = {'account/AUTH_b': {'sysmeta': {
        'global-write-ratelimit': 'BLACKLIST'}}}
    assert call(mw, '/v1/AUTH_b/c/o', 'PUT', black).status_int == 497
    assert call(mw, '/v1/AUTH_b/c/o', 'GET', black).status_int == 204
    white = {'account/AUTH_c': {'sysmeta': {
        'global-write-ratelimit': 'WHITELIST'}},
        'container/AUTH_c/c': {'object_count': 1000}}
    mw = make(container_ratelimit_0='5', max_sleep_time_seconds='0.1')
    assert statuses_ok(mw, '/v1/AUTH_c/c/o', 3, white)


def test_non_api_paths_untouched():
    mw = make(account_ratelimit='1', max_sleep_time_seconds='0.1')
    for _ in range(3):
        assert call(mw, '/auth/v1.0', 'GET').status_int == 204
        assert call(mw, '/v2/AUTH_a/c').status_int == 204


def test_shared_between_instances_through_memcached(memcached_server):
    conf = dict(account_ratelimit='5', max_sleep_time_seconds='0.1',
                memcache_servers=memcached_server)
    one, two = make(**conf), make(**conf)
    assert call(one, '/v1/AUTH_a/c').status_int == 204
    assert call(two, '/v1/AUTH_a/c').status_int == 498
    # each per-process instance alone would have let it through
    three, four = make(account_ratelimit='5', max_sleep_time_seconds='0.1'), \
        make(account_ratelimit='5', max_sleep_time_seconds='0.1')
    assert call(three, '/v1/AUTH_a/c').status_int == 204
    assert call(four, '/v1/AUTH_a/c').status_int == 204


def test_shared_sleep_spreads_requests(memcached_server):
    conf = dict(account_ratelimit='20', memcache_servers=memcached_server)
    one, two = make(**conf), make(**conf)
    start = time.time()
    for mw in (one, two, one, two, one, two):
        assert call(mw, '/v1/AUTH_z/c').status_int == 204
    assert time.time() - start >= 0.24


def test_memcached_down_keeps_serving_and_logs(caplog):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        dead = '127.0.0.1:%d' % sock.getsockname()[1]
    logger = logging.getLogger('objproxy.ratelimit')
    logger.addHandler(caplog.handler)
    try:
        mw = make(account_ratelimit='5', max_sleep_time_seconds='0.1',
                  memcache_servers=dead)
        assert call(mw, '/v1/AUTH_a/c').status_int == 204
        # still limited, per process, while memcached is away
        assert call(mw, '/v1/AUTH_a/c').status_int == 498
    finally:
        logger.removeHandler(caplog.handler)
    assert 'memcached unavailable' in caplog.text


def test_warns_once_without_memcached(caplog):
    logger = logging.getLogger('objproxy.ratelimit')
    logger.addHandler(caplog.handler)
    try:
        ratelimit.filter_factory({}, account_ratelimit='1')
    finally:
        logger.removeHandler(caplog.handler)
    assert caplog.text.count('per proxy process') == 1


def test_info_and_config_errors():
    make(account_ratelimit='2', container_ratelimit_10='5',
         container_listing_ratelimit_0='7', max_sleep_time_seconds='30')
    assert get_info()['ratelimit'] == {
        'account_ratelimit': 2.0, 'max_sleep_time_seconds': 30.0,
        'container_ratelimits': [[10, 5.0]],
        'container_listing_ratelimits': [[0, 7.0]]}
    for bad in ({'account_ratelimt': '1'}, {'account_ratelimit': 'fast'},
                {'container_ratelimit_big': '1'},
                {'container_ratelimit_10': '-1'}):
        with pytest.raises(ConfigError):
            ratelimit.filter_factory({}, **bad)


def test_local_slots_expire_like_memcached_and_are_pruned():
    from middleware.ratelimit import LocalSlots
    now = [1000.0]
    slots = LocalSlots(clock=lambda: now[0])
    assert slots.incr('a', 5, ttl=10) == 5
    now[0] += 5
    assert slots.incr('a', 1, ttl=10) == 6    # live: keeps its expiry
    now[0] += 6
    assert slots.incr('a', 1, ttl=10) == 1    # expired: starts again
    for index in range(LocalSlots.PRUNE_EVERY * 2):
        slots.set('k%d' % index, 1, ttl=1)
        now[0] += 0.01
    assert len(slots) < LocalSlots.PRUNE_EVERY + 200


def test_without_memcached_rate_keys_expire(monkeypatch):
    from middleware import ratelimit
    seen = []
    real = ratelimit.LocalSlots.incr

    def spy(self, key, delta=1, ttl=0):
        seen.append(ttl)
        return real(self, key, delta, ttl)
    monkeypatch.setattr(ratelimit.LocalSlots, 'incr', spy)
    mw = ratelimit.RateLimitMiddleware(lambda env, sr: [], {
        'account_ratelimit': '100'})
    mw.memcache = None
    mw.get_sleep_time('some-key', 100)
    assert seen == [ratelimit.KEY_TTL]
