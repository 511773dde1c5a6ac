"""Whether clamd answers, for /healthcheck, at a bounded cost.

Why a module of its own: load balancers poll /healthcheck often, and a
clamd connection per poll would load the scanner the proxy depends on.
One PING result is reused for ``ping_cache`` seconds, and at most one
PING per worker is in flight (the others wait for its result).  The PING
uses a green socket bounded by ``ping_timeout``, so the hub never blocks.
"""
import time

from eventlet.semaphore import Semaphore

from objproxy.common.clamd import ClamdError

UNREACHABLE = 'clamd unreachable'


class ClamdHealth(object):
    """The cached answer to "does clamd answer PING?"."""

    def __init__(self, address, ping_timeout, ping_cache, logger):
        self.address = address
        self.ping_timeout = ping_timeout
        self.ping_cache = ping_cache
        self.logger = logger
        self._result = None
        self._checked_at = None
        self._lock = Semaphore(1)

    def check(self):
        """None while clamd answers PING, else a short reason."""
        if self._fresh():
            return self._result
        with self._lock:
            if self._fresh():
                return self._result
            try:
                self.address.ping(timeout=self.ping_timeout)
                result = None
            except ClamdError as err:
                result = UNREACHABLE
                if self._result is None:
                    self.logger.error('clamav: health check: %s', err)
            if result is None and self._result is not None:
                self.logger.info('clamav: health check: clamd at %s '
                                 'answers again', self.address)
            self._result = result
            self._checked_at = time.monotonic()
        return self._result

    def _fresh(self):
        return self._checked_at is not None and \
            time.monotonic() - self._checked_at < self.ping_cache
