"""Account/container info: the caches and the helpers filters call."""
import socket
import subprocess
import time

import pytest

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


class FinalApp(object):
    """Stands for the proxy a pipeline ends in: answers info lookups."""

    def __init__(self):
        self.asked = []

    def container_info(self, env, account, container):
        self.asked.append((account, container))
        info = {'status': 204 if container == 'there' else 404}
        env.setdefault('swift.infocache', {})[
            'container/%s/%s' % (account, container)] = info
        return info

    def account_info(self, env, account):
        self.asked.append((account, None))
        return {'status': 204, 'container_count': 1}


class Filter(object):
    """A filter as the pipeline loader leaves it: it knows the app its
    pipeline ends in (``_pipeline_final_app``)."""

    def __init__(self, app, final):
        self.app = app
        self._pipeline_final_app = final

    def __call__(self, env, start_response):
        raise AssertionError('info must come from the final app directly')


def test_get_info_asks_the_pipelines_final_app():
    final = FinalApp()
    chain = Filter(Filter(final, final), final)
    env = {}
    info = get_container_info(env, chain, 'AUTH_test', 'there')
    assert info['status'] == 204
    assert env['swift.infocache']['container/AUTH_test/there'] is info
    # the request's cache answers the second time
    assert get_container_info(env, chain, 'AUTH_test', 'there') is info
    assert get_account_info(env, chain, 'AUTH_test')['container_count'] == 1
    assert get_container_info({}, chain, 'AUTH_test', 'nope')[
        'status'] == 404
    assert final.asked == [('AUTH_test', 'there'), ('AUTH_test', None),
                           ('AUTH_test', 'nope')]


def test_get_info_through_an_app_outside_a_pipeline():
    """An app the loader did not set up is asked with a HEAD."""
    seen = []

    def app(env, start_response):
        seen.append((env['REQUEST_METHOD'], env['PATH_INFO']))
        start_response('204 No Content', [
            ('X-Container-Object-Count', '3'),
            ('X-Container-Read', '.r:*')])
        return [b'']
    info = get_container_info({}, app, 'AUTH_test', 'c')
    assert seen == [('HEAD', '/v1/AUTH_test/c')]
    assert info['status'] == 204
    assert info['object_count'] == 3
    assert info['read_acl'] == '.r:*'


