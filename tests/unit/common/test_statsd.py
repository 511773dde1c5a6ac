"""StatsD client: wire format, prefix, sampling, never failing a caller."""
import socket

import pytest

from objproxy.common.statsd import StatsdClient


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    sock.settimeout(1)
    yield sock
    sock.close()


def recv_all(sock, timeout=0.2):
    sock.settimeout(timeout)
    got = []
    while True:
        try:
            got.append(sock.recv(1000).decode())
        except socket.timeout:
            return got


def test_wire_format(receiver):
    client = StatsdClient('127.0.0.1', receiver.getsockname()[1],
                          prefix='objp.proxy-server.')
    client.increment('hits')
    client.decrement('hits')
    client.update_stats('bytes', 42)
    client.timing('t', 1.5)
    client.gauge('g', 7)
    assert recv_all(receiver) == [
        'objp.proxy-server.hits:1|c', 'objp.proxy-server.hits:-1|c',
        'objp.proxy-server.bytes:42|c', 'objp.proxy-server.t:1.500|ms',
        'objp.proxy-server.g:7|g']


def test_sampling(receiver):
    client = StatsdClient('127.0.0.1', receiver.getsockname()[1],
                          default_sample_rate=0.5)
    for _ in range(200):
        client.increment('x')
    got = recv_all(receiver)
    assert 40 < len(got) < 160
    assert all(p == 'x:1|c|@0.5' for p in got)
    client = StatsdClient('127.0.0.1', receiver.getsockname()[1],
                          sample_rate_factor=0)
    client.increment('never')
    assert recv_all(receiver) == []


def test_unreachable_or_unknown_host_never_raises():
    StatsdClient('no-such-host.invalid', 8125).increment('x')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    client = StatsdClient('127.0.0.1', port)
    for _ in range(3):
        client.timing_since('t', 0)
