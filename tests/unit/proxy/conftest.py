"""The proxy Application in-process, over rings whose nodes never answer.

Unit tests of routing, validation and config need no storage node: the
rings point at loopback ports nothing listens on, so anything that does
reach a node gets 503.  Tests that need node answers script them
(``test_getter.py``) or live in tests/functional/ (real nodes).
"""
import os

import pytest

from objproxy.cli.aio_layout import AioLayout
from tests.ports import free_ports


@pytest.fixture(scope='session')
def etc_dir(tmp_path_factory):
    ports = free_ports(5)
    layout = AioLayout(str(tmp_path_factory.mktemp('proxy-unit')), ports[0],
                       ports[1:])
    os.makedirs(layout.etc_dir)
    layout.write_hash_conf()
    layout.write_rings()
    return layout.etc_dir


@pytest.fixture
def proxy_app(etc_dir):
    from objproxy.proxy.server import Application
    return Application({'objproxy_dir': etc_dir, 'log_file': '/dev/null',
                        'conn_timeout': '0.1', 'node_timeout': '0.5'})
