"""Remembering which storage nodes keep failing, so requests skip them.

A node that times out or answers 5xx costs every request that tries it a
full timeout; after ``suppression_limit`` errors it is skipped for
``suppression_interval`` seconds (Swift's error limiting), and a node that
says its device is gone (507) is skipped at once.  State is per process.

Only node faults count: a node that answers 5xx for one request alone
(its database was busy, ``X-Backend-Busy``) is healthy and stays in use,
so a hot container can never get a whole node skipped.
"""
import threading
import time

from objproxy.common.config import config_true_value
from objproxy.common.response import is_server_error


def node_key(node):
    return '%s:%s/%s' % (node['ip'], node['port'], node['device'])


def is_busy_answer(headers):
    """The node failed this request only (e.g. a locked database)."""
    return config_true_value((headers or {}).get('x-backend-busy'))


class ErrorLimiter(object):
    def __init__(self, suppression_interval=60, suppression_limit=10,
                 logger=None, clock=time.time):
        self.interval = suppression_interval
        self.limit = suppression_limit
        self.logger = logger
        self.clock = clock
        self._stats = {}  # key -> [error count, time of last error]
        self._lock = threading.Lock()

    def is_limited(self, node):
        key = node_key(node)
        stats = self._stats.get(key)
        if not stats:
            return False
        if self.clock() - stats[1] > self.interval:
            with self._lock:
                self._stats.pop(key, None)
            return False
        return stats[0] > self.limit

    def error_occurred(self, node, why=''):
        key = node_key(node)
        with self._lock:
            stats = self._stats.setdefault(key, [0, 0.0])
            stats[0] += 1
            stats[1] = self.clock()
            count = stats[0]
        if self.logger:
            self.logger.warning('node %s error %d: %s', key, count, why)
            if count == self.limit + 1:
                self.logger.error('node %s error limited for %ss', key,
                                  self.interval)

    def answered(self, node, status, headers=None):
        """Account for one answer (``headers`` lower-cased): 507 skips the
        node now, any other 5xx is an error unless the node said the
        failure was the request's alone."""
        if status == 507:
            self.limit_now(node, 'insufficient storage')
        elif is_server_error(status) and not is_busy_answer(headers):
            self.error_occurred(node, 'status %d' % status)

    def limit_now(self, node, why=''):
        """Skip the node right away (e.g. its device answered 507)."""
        key = node_key(node)
        with self._lock:
            self._stats[key] = [self.limit + 1, self.clock()]
        if self.logger:
            self.logger.error('node %s error limited: %s', key, why)

    def errors(self, node):
        stats = self._stats.get(node_key(node))
        return stats[0] if stats else 0
