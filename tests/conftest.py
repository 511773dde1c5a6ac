"""Shared fixtures: one real cluster per test session (started lazily)."""
import pytest


@pytest.fixture(scope='session')
def cluster(tmp_path_factory):
    from tests.cluster import Cluster
    cluster = Cluster(tmp_path_factory.mktemp('aio'))
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()
