"""Real storage nodes for the proxy's unit tests that need replicas.

The proxy ``Application`` under test runs in-process (driven with webob
requests) against real storage-node processes of an all-in-one cluster.
"""
import pytest

from tests.cluster import Cluster


@pytest.fixture(scope='session')
def nodes_cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp('proxy-unit'),
                      pipeline='catch_errors proxy_server')
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def proxy_app(nodes_cluster):
    from objproxy.proxy.server import Application
    return Application({'objproxy_dir': nodes_cluster.objproxy_dir,
                        'log_file': '/dev/null'})
