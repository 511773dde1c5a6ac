"""Reusable fixtures for the filter tests: a real memcached on a free port."""
import socket
import subprocess
import time

import pytest

from objproxy.common import registry


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_memcached():
    """Start memcached on a free loopback port; returns (process, 'ip:port')."""
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            ['memcached', '-l', '127.0.0.1', '-p', str(port), '-U', '0',
             '-u', 'root'], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.time() + 5
        while time.time() < deadline:
            if proc.poll() is not None:
                break
            try:
                socket.create_connection(('127.0.0.1', port), 0.2).close()
                return proc, '127.0.0.1:%d' % port
            except OSError:
                time.sleep(0.02)
        stop_memcached(proc)
    raise RuntimeError('memcached did not start')


def stop_memcached(proc):
    # memcached keeps no state worth a graceful stop; SIGTERM costs ~1s
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture
def memcached_server():
    """A fresh memcached for one test; yields its 'ip:port'."""
    proc, address = start_memcached()
    try:
        yield address
    finally:
        stop_memcached(proc)


@pytest.fixture(autouse=True)
def _clean_info():
    registry.clear_info()
    yield
    registry.clear_info()
