"""A StatsD client: fire-and-forget UDP metrics for proxy_logging.

Metrics must never slow or fail a request, so sends are single UDP
datagrams whose errors are swallowed, and sampling (``sample_rate``) keeps
the packet rate down on busy proxies.  Names are ``<prefix>.<metric>``;
StatsD's own wire format: ``name:value|c``, ``|ms``, ``|g`` with an
optional ``|@rate``.
"""
import random
import socket
import time


class StatsdClient(object):
    """Sends counters, timings and gauges to one StatsD server."""

    def __init__(self, host, port=8125, prefix='', default_sample_rate=1.0,
                 sample_rate_factor=1.0):
        self.host = host
        self.port = int(port)
        self.prefix = prefix.strip('.') + '.' if prefix.strip('.') else ''
        self.default_sample_rate = float(default_sample_rate)
        self.sample_rate_factor = float(sample_rate_factor)
        self._target = None
        self._family = socket.AF_INET
        self._sock = None

    def _resolve(self):
        if self._target is None:
            try:
                info = socket.getaddrinfo(self.host, self.port, 0,
                                          socket.SOCK_DGRAM)[0]
            except (socket.gaierror, IndexError):
                return None
            self._family, self._target = info[0], info[4]
        return self._target

    def _send(self, metric, value, kind, sample_rate=None):
        if sample_rate is None:
            sample_rate = self.default_sample_rate
        sample_rate *= self.sample_rate_factor
        if sample_rate <= 0:
            return
        if sample_rate < 1:
            if random.random() >= sample_rate:
                return
        line = '%s%s:%s|%s' % (self.prefix, metric, value, kind)
        if sample_rate < 1:
            line += '|@%s' % sample_rate
        target = self._resolve()
        if target is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(self._family, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            self._sock.sendto(line.encode('utf-8'), target)
        except OSError:
            pass

    def increment(self, metric, sample_rate=None):
        self._send(metric, 1, 'c', sample_rate)

    def decrement(self, metric, sample_rate=None):
        self._send(metric, -1, 'c', sample_rate)

    def update_stats(self, metric, amount, sample_rate=None):
        self._send(metric, int(amount), 'c', sample_rate)

    def timing(self, metric, milliseconds, sample_rate=None):
        self._send(metric, '%.3f' % milliseconds, 'ms', sample_rate)

    def timing_since(self, metric, start, sample_rate=None):
        self.timing(metric, (time.time() - start) * 1000, sample_rate)

    def gauge(self, metric, value, sample_rate=None):
        self._send(metric, value, 'g', sample_rate)
