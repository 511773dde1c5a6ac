"""tempauth_tokens: local and memcached copies of tempauth's tokens."""
import socket

import pytest

from middleware import tempauth_tokens as tokens
from objproxy.common.memcached import MemcacheClient
from tests.unit.middleware.test_dlo import ListLogger


class Clock(object):
    def __init__(self, now=1000000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(tokens.time, 'time', clock)
    return clock


def dead_memcached():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        address = '127.0.0.1:%d' % sock.getsockname()[1]
    return MemcacheClient(address, connect_timeout=0.2, io_timeout=0.2)


# -------------------------------------------------------- LocalTokenStore

def test_local_store_keeps_a_value_until_it_expires(clock):
    local = tokens.LocalTokenStore()
    local.set('k', ['group'], 10)
    assert local.get('k') == ['group']
    clock.now += 10
    assert local.get('k') == ['group']
    clock.now += 0.5
    assert local.get('k') is None
    assert 'k' not in local._data
    assert local.get('never set') is None


def test_local_store_set_replaces_value_and_expiry(clock):
    local = tokens.LocalTokenStore()
    local.set('k', 'old', 5)
    local.set('k', 'new', 100)
    clock.now += 50
    assert local.get('k') == 'new'


def test_full_local_store_drops_expired_entries_first(clock, monkeypatch):
    monkeypatch.setattr(tokens, 'LOCAL_TOKEN_LIMIT', 3)
    local = tokens.LocalTokenStore()
    local.set('short', 1, 1)
    local.set('long1', 2, 100)
    local.set('long2', 3, 100)
    clock.now += 2
    local.set('new', 4, 100)
    assert [local.get(k) for k in ('short', 'long1', 'long2', 'new')] == \
        [None, 2, 3, 4]


def test_full_local_store_drops_the_oldest_when_none_expired(
        clock, monkeypatch):
    monkeypatch.setattr(tokens, 'LOCAL_TOKEN_LIMIT', 3)
    local = tokens.LocalTokenStore()
    for index in range(5):
        local.set('k%d' % index, index, 100)
    assert len(local._data) == 3
    assert [local.get('k%d' % i) for i in range(5)] == [None, None, 2, 3, 4]


# ------------------------------------------------------------- TokenStore

def test_without_memcached_tokens_live_in_this_process(clock):
    store = tokens.TokenStore(None, tokens.LocalTokenStore(), ListLogger())
    store.store({}, 'tok', {'groups': 'a'}, 60)
    assert store.fetch({}, 'tok') == {'groups': 'a'}
    clock.now += 61
    assert store.fetch({}, 'tok') is None


def test_stored_token_reaches_memcached_and_another_proxy(memcached_server):
    client = MemcacheClient(memcached_server)
    one = tokens.TokenStore(client, tokens.LocalTokenStore(), ListLogger())
    two = tokens.TokenStore(client, tokens.LocalTokenStore(), ListLogger())
    one.store({}, 'AUTH_tk1', ['test', 'AUTH_test'], 300)
    assert client.get('AUTH_tk1') == ['test', 'AUTH_test']
    assert two.fetch({}, 'AUTH_tk1') == ['test', 'AUTH_test']
    assert two.fetch({}, 'AUTH_unknown') is None


def test_token_from_memcached_is_copied_locally_for_a_short_while(
        memcached_server, clock):
    client = MemcacheClient(memcached_server)
    client.set('AUTH_tk2', 'value', ttl=300)
    local = tokens.LocalTokenStore()
    store = tokens.TokenStore(client, local, ListLogger())
    assert store.fetch({}, 'AUTH_tk2') == 'value'
    client.delete('AUTH_tk2')
    # answered from the local copy, memcached not asked
    assert store.fetch({}, 'AUTH_tk2') == 'value'
    clock.now += tokens.REMOTE_COPY_TTL + 1
    assert local.get('AUTH_tk2') is None
    assert store.fetch({}, 'AUTH_tk2') is None


def test_swift_cache_in_the_environ_is_preferred(memcached_server):
    env_client = MemcacheClient(memcached_server)
    store = tokens.TokenStore(dead_memcached(), tokens.LocalTokenStore(),
                              ListLogger())
    env = {'swift.cache': env_client}
    assert store.cache(env) is env_client
    store.store(env, 'AUTH_tk3', 'v', 60)
    assert env_client.get('AUTH_tk3') == 'v'
    assert store.logger.lines == []


def test_memcached_down_at_store_logs_and_keeps_the_token_locally():
    logger = ListLogger()
    store = tokens.TokenStore(dead_memcached(), tokens.LocalTokenStore(),
                              logger)
    store.store({}, 'AUTH_tk4', 'v', 60)
    assert len(logger.lines) == 1
    assert logger.lines[0].startswith(
        'tempauth: cannot store in memcached, token valid on this proxy '
        'only: ')
    assert store.fetch({}, 'AUTH_tk4') == 'v'


def test_memcached_down_at_fetch_logs_and_finds_nothing():
    logger = ListLogger()
    store = tokens.TokenStore(dead_memcached(), tokens.LocalTokenStore(),
                              logger)
    assert store.fetch({}, 'AUTH_unknown') is None
    assert len(logger.lines) == 1
    assert logger.lines[0].startswith('tempauth: memcached unavailable: ')
