"""The memcached client against a real memcached process."""
import socket

import pytest

from objproxy.common import memcached
from objproxy.common.exceptions import ConfigError
from tests.waiting import FakeClock, wait_for

def _load_fixture_module():
    # the memcached launcher lives with the filter tests' fixtures
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(__file__), '..', 'middleware',
                        'conftest.py')
    spec = importlib.util.spec_from_file_location('_mc_fixture', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixture = _load_fixture_module()
start_memcached = _fixture.start_memcached
stop_memcached = _fixture.stop_memcached


@pytest.fixture
def server():
    proc, address = start_memcached()
    yield proc, address
    stop_memcached(proc)


def test_set_get_json_and_delete(server):
    client = memcached.MemcacheClient(server[1])
    assert client.get('missing') is None
    assert client.set('k', {'a': [1, 2], 'b': 'x y'})
    assert client.get('k') == {'a': [1, 2], 'b': 'x y'}
    assert client.delete('k') is True
    assert client.delete('k') is False
    assert client.get('k') is None


def test_keys_with_spaces_and_unicode(server):
    client = memcached.MemcacheClient(server[1])
    key = 'AUTH_test/token/with space \u00e9' + 'x' * 300
    client.set(key, 'v')
    assert client.get(key) == 'v'


def test_add_only_when_absent(server):
    client = memcached.MemcacheClient(server[1])
    assert client.add('a', 1) is True
    assert client.add('a', 2) is False
    assert client.get('a') == 1


def test_incr_decr_create_and_floor(server):
    client = memcached.MemcacheClient(server[1])
    assert client.incr('n', 5) == 5
    assert client.incr('n', 10) == 15
    assert client.decr('n', 3) == 12
    assert client.incr('n', -20) == 0
    assert client.decr('fresh', 4) == 0
    assert client.get('n') == 0
    client.set('big', 1700000000000)
    assert client.incr('big', 25) == 1700000000025


def test_ttl_expires(server):
    client = memcached.MemcacheClient(server[1])
    client.set('short', 'x', ttl=1)
    assert client.get('short') == 'x'
    # memcached's own clock ticks in whole seconds: poll until it expires
    wait_for(lambda: client.get('short') is None, timeout=5,
             interval=0.1, what='the 1 s TTL to expire')


def test_connections_are_pooled(server):
    client = memcached.MemcacheClient(server[1])
    for i in range(20):
        client.set('k%d' % i, i)
        assert client.get('k%d' % i) == i
    (srv,) = client.servers
    assert len(srv.idle) == 1


def test_several_servers_share_keys_consistently():
    procs = [start_memcached() for _ in range(3)]
    try:
        addresses = ','.join(a for _, a in procs)
        one = memcached.MemcacheClient(addresses)
        two = memcached.MemcacheClient(addresses)
        for i in range(60):
            one.set('key%d' % i, i)
        assert all(two.get('key%d' % i) == i for i in range(60))
        used = {one.server_for('key%d' % i).name for i in range(60)}
        assert len(used) == 3
        # dropping a server moves only the keys it held
        fewer = memcached.MemcacheClient(','.join(a for _, a in procs[:2]))
        moved = sum(one.server_for('key%d' % i).name !=
                    fewer.server_for('key%d' % i).name for i in range(60))
        held = sum(one.server_for('key%d' % i).name == procs[2][1]
                   for i in range(60))
        assert moved == held
    finally:
        for proc, _ in procs:
            stop_memcached(proc)


def test_down_server_raises_then_backs_off():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    client = memcached.MemcacheClient('127.0.0.1:%d' % port,
                                      retry_interval=0.5)
    with pytest.raises(memcached.MemcacheConnectionError) as err:
        client.get('k')
    assert 'cannot connect' in str(err.value)
    with pytest.raises(memcached.MemcacheConnectionError) as err:
        client.set('k', 1)
    assert 'marked down' in str(err.value)
    # once it comes back and the back-off has passed, it is used again
    proc, address = start_memcached()
    try:
        client = memcached.MemcacheClient(address, retry_interval=0.3)
        client.set('k', 1)
        stop_memcached(proc)
        with pytest.raises(memcached.MemcacheConnectionError):
            client.get('k')
        with pytest.raises(memcached.MemcacheConnectionError) as err:
            client.get('k')
        assert 'marked down' in str(err.value)
    finally:
        stop_memcached(proc)


def test_recovers_after_backoff(server, monkeypatch):
    proc, address = server
    clock = FakeClock()
    monkeypatch.setattr(memcached, 'time', clock)
    client = memcached.MemcacheClient(address, retry_interval=0.2)
    client.servers[0].mark_down()
    with pytest.raises(memcached.MemcacheConnectionError):
        client.get('x')
    clock.advance(0.19)
    with pytest.raises(memcached.MemcacheConnectionError):
        client.get('x')             # still inside the back-off
    clock.advance(0.02)
    client.set('x', 'back')
    assert client.get('x') == 'back'


def test_get_client_is_shared_per_servers_value(server):
    a = memcached.get_client(server[1])
    b = memcached.get_client(' %s ' % server[1])
    assert a is b
    assert memcached.client_from_conf({'memcache_servers': server[1]}) is a
    assert memcached.client_from_conf({}) is None


def test_bad_servers_value_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        memcached.client_from_conf({'memcache_servers': 'host:notaport'})
    assert 'memcache_servers' in str(err.value)


def test_parse_servers_forms():
    assert memcached.parse_servers('a:1, b ,[::1]:3') == [
        ('a', 1), ('b', 11211), ('::1', 3)]
