"""One SQLite connection, used so that it never blocks the eventlet hub.

Locks never freeze a server.  SQLite's own busy handler sleeps in C
(``clock_nanosleep``) in whatever thread runs the statement; on the
eventlet hub that stops every request of the server for up to the whole
busy timeout.  So connections have *no* busy timeout: a statement that
finds the database locked fails at once, and the broker retries it after
a short ``pause`` (a green sleep on the hub: other requests run), with
backoff, until ``timeout`` seconds have passed, and then raises
``LockTimeout`` for this one request (the servers answer 503 with
``X-Backend-Busy: true``, which the proxy does not count against the
node).  Every SQLite call (connecting, reads, listings, whole write
transactions from ``BEGIN IMMEDIATE`` to ``COMMIT``, closing, which may
checkpoint) runs through ``offload`` (e.g.
``objproxy.common.offload.run_in_thread``), so slow I/O stalls only the
request that needs it; the write lock is held only inside one such call,
never while the hub serves something else.

A sqlite3 connection used by two threads at once can crash the process,
so one offloaded call uses a broker's connection at a time: a real lock,
taken without waiting (a busy connection is retried like a busy database),
and a close waits for the call using it.
"""
import random
import sqlite3
import time

from eventlet.patcher import original

from objproxy.common.offload import pause, run_inline
from objproxy.storage.db_pending import LockTimeout

# how long a broker waits for the database's write lock by default (the
# servers pass their own, shorter ``db_lock_timeout``)
BUSY_TIMEOUT_MS = 25000
# SQLite page cache per connection (KiB); a connection lives for one request
CACHE_KIB = 2048
# SQLite result codes (the low byte of an extended code)
SQLITE_BUSY = 5
SQLITE_LOCKED = 6


def is_busy_error(err):
    """True for SQLite's "database is locked/busy" (worth a retry)."""
    if not isinstance(err, sqlite3.OperationalError):
        return False
    code = getattr(err, 'sqlite_errorcode', None)
    if code is not None:
        return code & 0xff in (SQLITE_BUSY, SQLITE_LOCKED)
    text = str(err).lower()
    return 'locked' in text or 'busy' in text


class DatabaseError(Exception):
    """The database is missing, corrupt or cannot be changed."""


class DatabaseNotFound(DatabaseError):
    """No database file at the expected path."""


class SqliteAccess(object):
    """Connection handling and lock-aware retries for a database broker
    (which sets ``db_file``, ``fsync``, ``timeout`` and ``exists()``)."""

    def __init__(self, offload=None):
        self.offload = offload or run_inline
        self._conn = None
        self._conn_lock = original('threading').Lock()
        self._close_when_idle = False

    def _connect(self, path):
        # no busy timeout: SQLite would sleep in C, in this thread, for as
        # long as the lock is held; the broker's retries wait instead
        conn = sqlite3.connect(path, timeout=0, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute('PRAGMA busy_timeout = 0')
            conn.execute('PRAGMA synchronous = %s'
                         % ('FULL' if self.fsync else 'NORMAL'))
            conn.execute('PRAGMA temp_store = MEMORY')
            conn.execute('PRAGMA cache_size = -%d' % CACHE_KIB)
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def conn(self):
        """The open connection (made on first use, in the calling
        thread: use it inside ``run_read``/``run_write`` calls)."""
        if self._conn is None:
            if not self.exists():
                raise DatabaseNotFound(self.db_file)
            self._conn = self._connect(self.db_file)
        return self._conn

    def close(self):
        if self._conn is not None:
            # the last connection to a WAL database checkpoints on close
            self.offload(self._close_if_idle)

    def _close_if_idle(self):
        if not self._conn_lock.acquire(blocking=False):
            self._close_when_idle = True     # the call using it closes it
            return
        try:
            self._close_now()
        finally:
            self._conn_lock.release()

    def _close_now(self):
        conn, self._conn = self._conn, None
        self._close_when_idle = False
        if conn is not None:
            conn.close()

    def _exclusive(self, attempt, args):
        """``attempt(*args)`` holding the connection; (False, None), as
        for a busy database, while another call holds it."""
        if not self._conn_lock.acquire(blocking=False):
            return False, None
        try:
            return attempt(*args)
        finally:
            if self._close_when_idle:
                self._close_now()
            self._conn_lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- running SQL without ever blocking the hub -----------------------
    def _retry(self, attempt, args):
        """``offload(attempt, *args)`` until it reports done; between tries
        ``pause`` (cooperative on the hub) with backoff and jitter, at most
        ``timeout`` seconds in all, then LockTimeout."""
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            done, value = self.offload(self._exclusive, attempt, args)
            if done:
                return value
            if time.monotonic() >= deadline:
                raise LockTimeout('%s: database locked for more than %.1f s'
                                  % (self.db_file, self.timeout))
            pause(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.02)

    def run_read(self, func, *args):
        """``func(conn, *args)``, retried while the database is locked."""
        return self._retry(self._try_read, (func, args))

    def _try_read(self, func, args):
        # connecting may find the database locked too (a closing
        # connection checkpointing, a recovery): retried the same way
        try:
            return True, func(self.conn, *args)
        except sqlite3.OperationalError as err:
            if is_busy_error(err):
                return False, None
            raise

    def run_write(self, func, *args):
        """``func(conn, *args)`` in one write transaction (``BEGIN
        IMMEDIATE`` .. ``COMMIT``), all in one offloaded call, so the lock
        is held only while the work runs.  Waits for the write lock as
        ``_retry`` does; rolled back on any error.  ``func`` may commit
        itself (the pending-file merge does)."""
        return self._retry(self._try_write, (func, args))

    def _try_write(self, func, args):
        try:
            conn = self.conn
            conn.execute('BEGIN IMMEDIATE')
        except sqlite3.OperationalError as err:
            if is_busy_error(err):
                return False, None
            raise
        try:
            value = func(conn, *args)
            if conn.in_transaction:
                self._commit(conn)
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute('ROLLBACK')
                except sqlite3.Error:
                    pass
            raise
        return True, value

    def _commit(self, conn):
        """COMMIT.  In WAL mode it never waits for a lock; a database in
        rollback-journal mode (a copy being checked) may have to wait for
        its readers, polling within ``timeout``."""
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            try:
                conn.execute('COMMIT')
                return
            except sqlite3.OperationalError as err:
                if not is_busy_error(err) or time.monotonic() >= deadline:
                    raise
            pause(delay)
            delay = min(delay * 2, 0.02)
