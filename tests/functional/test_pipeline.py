"""The filters through a real cluster: shared state, ACLs, logs, pipeline.

Two proxies on one memcached must agree on tokens and on rate limits;
access control must hold end to end; a third-party filter must plug in
with two lines of config.
"""
import http.client
import os
import time
import uuid
from urllib.parse import urlparse

import pytest

from tests.waiting import wait_for

THIRD_PARTY_FILTER = '''
def filter_factory(global_conf, **local_conf):
    stamp = local_conf.get('stamp', 'yes')

    def make(app):
        def stamped(env, start_response):
            def start(status, headers, exc_info=None):
                headers.append(('X-Third-Party', stamp))
                return start_response(status, headers, exc_info)
            return app(env, start)
        return stamped
    return make
'''


def call(base_url, method, path, headers=None, body=None):
    parsed = urlparse(base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, \
            data
    finally:
        conn.close()


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    return urlparse(storage_url).path, token


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def test_token_from_one_proxy_works_on_another(cluster, owner):
    account_path, token = owner
    with cluster.extra_proxy('proxy-tokens') as other:
        status, _, _ = call(other.url, 'HEAD', account_path,
                            {'X-Auth-Token': token})
        assert status in (200, 204)
        status, _, _ = call(other.url, 'HEAD', account_path,
                            {'X-Auth-Token': 'AUTH_tk' + 'f' * 32})
        assert status == 401


def test_two_proxies_enforce_one_rate_limit(cluster, owner):
    account_path, token = owner
    limits = {'filter:ratelimit': {'account_ratelimit': '2',
                                   'max_sleep_time_seconds': '0.05'}}
    with cluster.extra_proxy('proxy-rl-a', overrides=limits) as first, \
            cluster.extra_proxy('proxy-rl-b', overrides=limits) as second:
        name = unique('rl')
        status, _, _ = call(first.url, 'PUT', '%s/%s' % (account_path, name),
                            {'X-Auth-Token': token})
        assert status in (201, 202)
        # The second proxy has seen no request of its own: only shared
        # state in memcached can make it refuse this one.
        status, _, body = call(second.url, 'PUT',
                               '%s/%s-2' % (account_path, name),
                               {'X-Auth-Token': token})
        assert status == 498, body
        # once the shared window has passed, the same PUT goes through
        wait_for(lambda: call(second.url, 'PUT',
                              '%s/%s-2' % (account_path, name),
                              {'X-Auth-Token': token})[0] in (201, 202),
                 timeout=10, interval=0.1,
                 what='the rate limit to let the PUT through')
        for cont in (name, name + '-2'):
            call(cluster.proxy_url, 'DELETE', '%s/%s' % (account_path, cont),
                 {'X-Auth-Token': token})


def test_healthcheck_disable_file(cluster, tmp_path):
    flag = tmp_path / 'disabled'
    overrides = {'filter:healthcheck': {'disable_path': str(flag)}}
    with cluster.extra_proxy('proxy-hc', overrides=overrides) as proxy:
        assert call(proxy.url, 'GET', '/healthcheck')[0::2] == (200, b'OK')
        flag.write_text('')
        status, _, body = call(proxy.url, 'GET', '/healthcheck')
        assert (status, body) == (503, b'DISABLED BY FILE')
        flag.unlink()
        assert call(proxy.url, 'GET', '/healthcheck')[0] == 200


def test_third_party_filter_is_two_lines_of_config(cluster, owner):
    with open(os.path.join(cluster.objproxy_dir, 'stampfilter.py'),
              'w') as fp:
        fp.write(THIRD_PARTY_FILTER)
    pipeline = ('catch_errors gatekeeper healthcheck proxy_logging stamp '
                'ratelimit tempauth proxy_logging proxy_server')
    extra = ('\n[filter:stamp]\n'
             'paste.filter_factory = stampfilter:filter_factory\n'
             'stamp = hello\n')
    with cluster.extra_proxy('proxy-3p', pipeline=pipeline,
                             extra=extra) as proxy:
        status, headers, _ = call(proxy.url, 'HEAD', owner[0],
                                  {'X-Auth-Token': owner[1]})
        assert status in (200, 204)
        assert headers['x-third-party'] == 'hello'
    status, headers, _ = call(cluster.proxy_url, 'HEAD', owner[0],
                              {'X-Auth-Token': owner[1]})
    assert 'x-third-party' not in headers


def test_pipeline_order_decides_who_answers(cluster):
    # As in Swift, healthcheck answers by itself wherever it stands (it
    # never asks swift.authorize); without it the same path falls through
    # to the proxy, which refuses a path with no account as "Bad URL" (412).
    pipeline = 'catch_errors tempauth healthcheck proxy_server'
    with cluster.extra_proxy('proxy-hc-late', pipeline=pipeline) as proxy:
        assert call(proxy.url, 'GET', '/healthcheck')[0::2] == (200, b'OK')
    pipeline = 'catch_errors tempauth proxy_server'
    with cluster.extra_proxy('proxy-no-hc', pipeline=pipeline) as proxy:
        assert call(proxy.url, 'GET', '/healthcheck')[0] == 412


def test_container_acls_end_to_end(cluster, owner):
    account_path, token = owner
    cont = '%s/%s' % (account_path, unique('acl'))
    assert call(cluster.proxy_url, 'PUT', cont,
                {'X-Auth-Token': token})[0] in (201, 202)
    assert call(cluster.proxy_url, 'PUT', cont + '/o', {
        'X-Auth-Token': token}, b'secret')[0] == 201

    _, reader = cluster.token('test:tester3', 'testing3')
    _, stranger = cluster.token('test2:tester2', 'testing2')
    assert call(cluster.proxy_url, 'GET', cont + '/o')[0] == 401
    assert call(cluster.proxy_url, 'GET', cont + '/o',
                {'X-Auth-Token': reader})[0] == 403
    assert call(cluster.proxy_url, 'GET', cont + '/o',
                {'X-Auth-Token': stranger})[0] == 403

    assert call(cluster.proxy_url, 'POST', cont, {
        'X-Auth-Token': token,
        'X-Container-Read': 'test:tester3'})[0] == 204
    status, _, body = call(cluster.proxy_url, 'GET', cont + '/o',
                           {'X-Auth-Token': reader})
    assert (status, body) == (200, b'secret')
    assert call(cluster.proxy_url, 'PUT', cont + '/o2', {
        'X-Auth-Token': reader}, b'x')[0] == 403

    assert call(cluster.proxy_url, 'POST', cont, {
        'X-Auth-Token': token, 'X-Container-Read': '.r:*'})[0] == 204
    assert call(cluster.proxy_url, 'GET', cont + '/o')[0::2] == (
        200, b'secret')
    assert call(cluster.proxy_url, 'GET', cont)[0] in (401, 403)
    assert call(cluster.proxy_url, 'POST', cont, {
        'X-Auth-Token': token,
        'X-Container-Read': '.r:*,.rlistings'})[0] == 204
    status, _, body = call(cluster.proxy_url, 'GET', cont)
    assert (status, body) == (200, b'o\n')

    assert call(cluster.proxy_url, 'POST', cont, {
        'X-Auth-Token': token, 'X-Container-Write': '.r:*'})[0] == 400


def test_backend_headers_never_cross_the_gatekeeper(cluster, owner):
    account_path, token = owner
    cont = '%s/%s' % (account_path, unique('gk'))
    call(cluster.proxy_url, 'PUT', cont, {'X-Auth-Token': token})
    status, headers, _ = call(cluster.proxy_url, 'PUT', cont + '/o', {
        'X-Auth-Token': token, 'X-Object-Sysmeta-Owner': 'evil',
        'X-Backend-Replication': 'true'}, b'data')
    assert status == 201
    for method in ('HEAD', 'GET'):
        status, headers, _ = call(cluster.proxy_url, method, cont + '/o',
                                  {'X-Auth-Token': token})
        assert status == 200
        assert not [h for h in headers if h.startswith('x-backend-') or
                    '-sysmeta-' in h], headers
        assert headers['x-trans-id'] == headers['x-openstack-request-id']
    # the object server did its container update: the replication flag
    # the client tried to smuggle in was stripped
    status, _, body = call(cluster.proxy_url, 'GET', cont,
                           {'X-Auth-Token': token})
    assert body == b'o\n'


def test_one_access_log_line_per_request_without_the_token(cluster, owner):
    account_path, token = owner
    cont = '%s/%s' % (account_path, unique('log'))
    call(cluster.proxy_url, 'PUT', cont, {'X-Auth-Token': token})
    payload = os.urandom(12345)
    call(cluster.proxy_url, 'PUT', cont + '/logged', {
        'X-Auth-Token': token}, payload)
    status, headers, body = call(cluster.proxy_url, 'GET', cont + '/logged',
                                 {'X-Auth-Token': token})
    assert body == payload
    trans_id = headers['x-trans-id']
    log_path = os.path.join(cluster.data_dir, 'log', 'proxy.log')
    deadline = time.time() + 5
    while time.time() < deadline:
        with open(log_path) as fp:
            lines = [line for line in fp if trans_id in line]
        if lines:
            break
        time.sleep(0.1)
    assert len(lines) == 1, lines
    line = lines[0]
    assert ' GET ' in line and '/logged' in line and ' 200 ' in line
    assert ' 12345 ' in line  # bytes sent
    with open(log_path) as fp:
        assert token not in fp.read()
