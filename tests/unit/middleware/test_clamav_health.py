"""clamav_health: the cached, single-flight PING behind /healthcheck.

Runs against tests/unit/middleware/fake_clamd.py (a real unix socket)
or, to hold a PING in flight deterministically, an address whose PING
waits on an event.  The cache's clock is a fake one, so nothing sleeps.
"""
import logging
import time

import eventlet
import pytest
from eventlet.event import Event

from middleware import clamav_health
from middleware.clamav_health import UNREACHABLE, ClamdHealth
from objproxy.common.clamd import ClamdAddress, ClamdUnavailable
from tests.unit.middleware.fake_clamd import FakeClamd


class LevelLogger(logging.Logger):
    def __init__(self):
        super().__init__('clamav-health-test')
        self.lines = []

    def _log(self, level, msg, args, **kwargs):
        self.lines.append((logging.getLevelName(level), msg % args))


class Clock(object):
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(clamav_health.time, 'monotonic', clock)
    return clock


@pytest.fixture
def fakes(tmp_path):
    made = []

    def factory(name='clamd.sock', **kwargs):
        fake = FakeClamd(str(tmp_path / name), **kwargs)
        made.append(fake)
        return fake
    yield factory
    for fake in made:
        fake.close()


class GatedAddress(object):
    """A clamd address whose PING answers when the test says so."""

    def __init__(self):
        self.pings = 0
        self.gate = Event()
        self.fail = False

    def ping(self, timeout=None):
        self.pings += 1
        self.gate.wait()
        if self.fail:
            raise ClamdUnavailable('clamd at gated does not answer PING')
        return True

    def __str__(self):
        return 'gated'


def test_answering_clamd_is_healthy_and_pinged_once_per_cache_period(
        fakes, clock):
    fake = fakes()
    health = ClamdHealth(ClamdAddress(fake.socket_path), 2, 10,
                         LevelLogger())
    assert health.check() is None
    clock.now += 9.9
    for _ in range(5):
        assert health.check() is None
    assert fake.commands.count('PING') == 1
    clock.now += 0.2
    assert health.check() is None
    assert fake.commands.count('PING') == 2


def test_zero_ping_cache_pings_every_time(fakes, clock):
    fake = fakes()
    health = ClamdHealth(ClamdAddress(fake.socket_path), 2, 0,
                         LevelLogger())
    for _ in range(3):
        assert health.check() is None
    assert fake.commands.count('PING') == 3


def test_unreachable_clamd_is_reported_and_logged_once(tmp_path, clock):
    logger = LevelLogger()
    address = ClamdAddress(str(tmp_path / 'nobody.sock'))
    health = ClamdHealth(address, 1, 1, logger)
    for _ in range(3):
        assert health.check() == UNREACHABLE
        clock.now += 2
    assert len(logger.lines) == 1
    level, line = logger.lines[0]
    assert level == 'ERROR'
    assert line.startswith('clamav: health check: clamd at %s ' % address)
    assert 'PING' in line


def test_unreachable_result_is_cached_too(tmp_path, clock, fakes):
    path = str(tmp_path / 'later.sock')
    health = ClamdHealth(ClamdAddress(path), 1, 10, LevelLogger())
    assert health.check() == UNREACHABLE
    fake = fakes('later.sock')
    assert health.check() == UNREACHABLE
    assert fake.commands == []
    clock.now += 10
    assert health.check() is None
    assert fake.commands == ['PING']


def test_clamd_going_down_and_up_is_logged_each_time(tmp_path, clock):
    logger = LevelLogger()
    path = tmp_path / 'flaky.sock'
    health = ClamdHealth(ClamdAddress(str(path)), 1, 1, logger)
    fake = FakeClamd(str(path))
    try:
        assert health.check() is None
    finally:
        fake.close()
    path.unlink()
    assert logger.lines == []
    clock.now += 1
    assert health.check() == UNREACHABLE
    fake = FakeClamd(str(path))
    try:
        clock.now += 1
        assert health.check() is None
        clock.now += 1
        assert health.check() is None
    finally:
        fake.close()
    assert [level for level, _ in logger.lines] == ['ERROR', 'INFO']
    assert logger.lines[1][1] == (
        'clamav: health check: clamd at unix:%s answers again' % path)


def test_one_ping_in_flight_the_other_callers_share_its_result(clock):
    address = GatedAddress()
    address.fail = True
    logger = LevelLogger()
    health = ClamdHealth(address, 1, 10, logger)
    pool = eventlet.GreenPool()
    results = [pool.spawn(health.check) for _ in range(5)]
    deadline = time.monotonic() + 5
    # wait until one caller is in PING and the other four wait for it
    while health._lock.balance > -4 and time.monotonic() < deadline:
        eventlet.sleep(0)
    assert address.pings == 1
    address.gate.send(None)
    assert [r.wait() for r in results] == [UNREACHABLE] * 5
    assert address.pings == 1
    assert len(logger.lines) == 1


def test_hung_clamd_answers_unreachable_within_ping_timeout(fakes, clock):
    fake = fakes(hang_all=True)
    health = ClamdHealth(ClamdAddress(fake.socket_path), 0.3, 10,
                         LevelLogger())
    started = time.monotonic()
    pool = eventlet.GreenPool()
    results = list(pool.imap(lambda _: health.check(), range(4)))
    elapsed = time.monotonic() - started
    assert results == [UNREACHABLE] * 4
    assert elapsed < 2, elapsed
    assert fake.connections == 1
