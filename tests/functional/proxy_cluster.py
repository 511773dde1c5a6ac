"""A private cluster for the proxy's functional tests.

The fault tests stop and kill storage nodes, which must not disturb the
session-wide ``cluster`` other suites share, so each proxy test module
gets its own (same AllInOne, a pipeline without clamav/ratelimit so the
proxy is what is being exercised).
"""
import http.client
from urllib.parse import quote, urlparse

import pytest

from tests.cluster import Cluster

PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging tempauth '
            'proxy_logging proxy_server')


class Client(object):
    """Tiny Swift client over http.client (one connection per request)."""

    def __init__(self, cluster, user='test:tester', key='testing'):
        self.cluster = cluster
        self.storage_url, self.token = cluster.token(user, key)
        parsed = urlparse(self.storage_url)
        self.host, self.port, self.base = (parsed.hostname, parsed.port,
                                           parsed.path)

    def raw(self, method, path, body=None, headers=None, chunked=False):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs,
                     encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        resp.body = data
        resp.hdrs = dict((k.lower(), v) for k, v in resp.getheaders())
        return resp

    def req(self, method, path='', body=None, headers=None, chunked=False):
        return self.raw(method, self.base + quote(path), body, headers,
                        chunked)


def node_index(cluster, ring_node):
    for index, node in enumerate(cluster.nodes):
        if int(node['port']) == int(ring_node['port']):
            return index
    raise AssertionError('no cluster node for %r' % (ring_node,))


@pytest.fixture(scope='session')
def pcluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp('proxy'), pipeline=PIPELINE)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(scope='session')
def client(pcluster):
    return Client(pcluster)
