"""Waiting in tests on a condition rather than for a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or
too long everywhere else (a slow one).  ``wait_for`` polls the condition
and returns as soon as it holds; ``FakeClock`` stands in for ``time`` in
a module whose logic depends on elapsed time, so a test moves the clock
instead of waiting for it.
"""
import time


def wait_for(condition, timeout=10.0, interval=0.01, what=None,
             sleep=time.sleep):
    """Poll ``condition()`` until it returns a true value; return that.

    Raises AssertionError (naming ``what``) when ``timeout`` seconds pass
    first.  Pass ``sleep=eventlet.sleep`` when other green threads must
    run for the condition to become true.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.1fs waiting for %s'
                                 % (timeout, what or condition))
        sleep(interval)


class FakeClock(object):
    """A ``time`` module replacement whose ``time()`` only moves when the
    test calls ``advance``; install it with monkeypatch on the module
    under test (``monkeypatch.setattr(module, 'time', FakeClock())``)."""

    def __init__(self, start=None):
        self.now = time.time() if start is None else start

    def time(self):
        return self.now

    def monotonic(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
