"""Account/container info: the caches and the helpers filters call."""
import socket
import subprocess
import time

import pytest
from webob import Request

from objproxy.common.memcached import MemcacheClient
from objproxy.proxy.info import (
    InfoCache, container_info_from_headers, get_account_info,
    get_container_info)
from tests.ports import free_ports


class Clock(object):
    now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope='module')
def memcache():
    port = free_ports(1)[0]
    proc = subprocess.Popen(['/usr/bin/memcached', '-u', 'root', '-l',
                             '127.0.0.1', '-p', str(port), '-U', '0'])
    try:
        deadline = time.time() + 5
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), 1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        yield MemcacheClient('127.0.0.1:%d' % port)
    finally:
        proc.terminate()
        proc.wait()


def test_info_from_headers_like_swift():
    info = container_info_from_headers(204, {
        'X-Container-Object-Count': '3', 'X-Container-Bytes-Used': '30',
        'X-Container-Read': '.r:*', 'X-Container-Meta-Color': 'red',
        'X-Container-Sysmeta-Thing': 't'})
    assert info['status'] == 204
    assert info['object_count'] == 3 and info['bytes'] == 30
    assert info['read_acl'] == '.r:*' and info['write_acl'] is None
    assert info['meta'] == {'color': 'red'}
    assert info['sysmeta'] == {'thing': 't'}


def test_process_cache_expires_and_never_keeps_failures():
    clock = Clock()
    cache = InfoCache(60, 10, clock=clock)
    cache.set('container/a/c', {'status': 204})
    cache.set('container/a/gone', {'status': 404})
    cache.set('container/a/err', {'status': 0})
    assert cache.get('container/a/c') == {'status': 204}
    assert cache.get('container/a/gone') is None  # no memcache: not kept
    assert cache.get('container/a/err') is None
    clock.now += 11
    assert cache.get('container/a/c') is None
    cache.set('account/a', {'status': 204})
    clock.now += 30
    assert cache.get('account/a') == {'status': 204}


def test_memcache_shares_info_between_processes(memcache):
    one = InfoCache(60, 60, memcache)
    two = InfoCache(60, 60, memcache)
    one.set('container/a/shared', {'status': 204, 'object_count': 1})
    one.set('container/a/missing', {'status': 404})
    assert two.get('container/a/shared')['object_count'] == 1
    assert two.get('container/a/missing')['status'] == 404
    one.invalidate('container/a/shared')
    three = InfoCache(60, 60, memcache)
    assert three.get('container/a/shared') is None


class Filter(object):
    """A filter as the pipeline loader leaves it: it knows the app its
    pipeline ends in (``_pipeline_final_app``)."""

    def __init__(self, app):
        self.app = app
        self._pipeline_final_app = getattr(app, '_pipeline_final_app', app)

    def __call__(self, env, start_response):
        raise AssertionError('info must come from the final app directly')


def test_get_info_asks_the_pipelines_final_app(proxy_app):
    Request.blank('/v1/AUTH_test/infoc', environ={
        'REQUEST_METHOD': 'PUT'}).get_response(proxy_app)
    Request.blank('/v1/AUTH_test/infoc/o', environ={
        'REQUEST_METHOD': 'PUT'}, body=b'abc').get_response(proxy_app)
    env = {'swift.trans_id': 'txinfo'}
    info = get_container_info(env, Filter(Filter(proxy_app)), 'AUTH_test',
                              'infoc')
    assert 200 <= info['status'] < 300
    assert env['swift.infocache']['container/AUTH_test/infoc'] is info
    account = get_account_info(env, Filter(proxy_app), 'AUTH_test')
    assert 200 <= account['status'] < 300
    assert account['container_count'] >= 1
    missing = get_container_info({}, Filter(proxy_app), 'AUTH_test',
                                 'nope-nope')
    assert missing['status'] == 404


def test_get_info_through_an_opaque_app(proxy_app):
    """Without a ``.app`` chain the helper HEADs through the app given."""
    def opaque(env, start_response):
        return proxy_app(env, start_response)
    Request.blank('/v1/AUTH_test/opaquec', environ={
        'REQUEST_METHOD': 'PUT'}).get_response(proxy_app)
    info = get_container_info({}, opaque, 'AUTH_test', 'opaquec')
    assert 200 <= info['status'] < 300
