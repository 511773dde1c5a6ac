"""Test helpers: is the eventlet hub still running, and who holds a lock.

``HubWatch`` is a green thread that ticks every 10 ms and remembers the
longest gap between two ticks: any call that blocks the hub (SQLite's busy
handler, ``time.sleep``, a blocking ``flock``) shows up as a long gap.

``WriteLockHolder`` holds a database's SQLite write lock from another OS
thread, as another process or a pool thread would, until released.
``FlockHolder`` does the same for a pending file's flock.
"""
import fcntl
import os
import sqlite3
import threading
import time

import eventlet


class HubWatch(object):
    def __init__(self, interval=0.01):
        self.interval = interval
        self.max_gap = 0.0
        self.ticks = 0
        self.on_tick = []     # callables(ticks) run by the ticker
        self._running = False
        self._thread = None

    def __enter__(self):
        self._running = True
        self._thread = eventlet.spawn(self._run)
        eventlet.sleep(0)
        return self

    def _run(self):
        last = time.monotonic()
        while self._running:
            eventlet.sleep(self.interval)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now
            self.ticks += 1
            for callback in list(self.on_tick):
                callback(self.ticks)

    def __exit__(self, *exc):
        self._running = False
        self._thread.wait()


class WriteLockHolder(object):
    """``BEGIN IMMEDIATE`` on ``db_file`` in an OS thread until release()."""

    def __init__(self, db_file):
        self.db_file = db_file
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread = None
        self.error = None

    def __enter__(self):
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()
        assert self._held.wait(10), 'could not take the write lock'
        if self.error:
            raise self.error
        return self

    def _hold(self):
        try:
            conn = sqlite3.connect(self.db_file, timeout=10,
                                   isolation_level=None)
            conn.execute('BEGIN IMMEDIATE')
        except Exception as err:
            self.error = err
            self._held.set()
            return
        self._held.set()
        self._release.wait(60)
        conn.execute('ROLLBACK')
        conn.close()

    def release(self, *_args):
        self._release.set()

    def __exit__(self, *exc):
        self.release()
        self._thread.join(10)


class FlockHolder(object):
    """An exclusive flock on ``path`` through its own open file (so it
    conflicts with any other open of the file, even in this process)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def release(self, *_args):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc):
        self.release()
