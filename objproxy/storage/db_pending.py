"""A database's ``.pending`` file: row updates queued as appended lines.

Why: one SQLite write transaction (and fsync) per object update would
serialize a burst of uploads into one container on the database lock, so
updates are appended here under an ``flock`` and merged into SQLite many
at a time (see ``objproxy.storage.db_broker`` for when, and for the
durability trade-off).

Each record is written as ``\\n<json list>\\n`` in a single ``write``, so a
record torn by a crash is the unfinished piece after the last newline and
is skipped, and the leading newline keeps the next record parseable.

Locking: an append holds the flock only for one ``write``.  A merge
(``merge_all``) holds it for read + merge + truncate, so a record appended
meanwhile waits and lands in the emptied file and nothing is lost; the
caller must already hold the database's write lock then (lock order:
database, then pending file).  Nobody ever waits for the database while
holding the flock, so an append waits at most for one merge, never for
whatever keeps the database busy.  Every wait polls with
``objproxy.common.offload.pause``: on the hub other requests run
meanwhile; after ``timeout`` seconds it gives up with ``LockTimeout``.
"""
import fcntl
import json
import os
import time
from contextlib import contextmanager

from objproxy.common.offload import pause

# Swift's PENDING_CAP: merge once the pending file holds this many bytes
PENDING_CAP = 131072
# how long an append or a merge waits for the pending file's lock
PENDING_LOCK_TIMEOUT = 10.0


class LockTimeout(Exception):
    """A lock (pending file or database) stayed held longer than the lock
    timeout.  It fails the one request that waited: the server answers a
    503 marked ``X-Backend-Busy``; the node itself is healthy."""


class PendingFile(object):
    """Records of ``fields`` (a tuple of names) queued in ``path``."""

    def __init__(self, path, fields, cap=PENDING_CAP,
                 timeout=PENDING_LOCK_TIMEOUT):
        self.path = path
        self.fields = fields
        self.cap = cap
        self.timeout = timeout

    def create(self):
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644))

    def size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def append(self, item, may_create):
        """Queue ``item``: True, or False when the file is full (nothing
        written: the caller merges the file together with ``item``).

        A missing file is made only if ``may_create()`` (its database
        exists: one pushed by replication comes without a pending file);
        FileNotFoundError otherwise.
        """
        record = self.encode(item)
        with self.locked(may_create) as fd:
            if os.fstat(fd).st_size + len(record) > self.cap:
                return False
            os.write(fd, record)
        return True

    def merge_all(self, merge, extra=()):
        """Read every queued record, ``merge(items + extra)``, truncate.

        The caller holds the database's write lock; ``merge`` must commit
        (the file is emptied only after it returned).  A missing file
        merges just ``extra``.  Returns how many items were merged.
        """
        extra = list(extra)
        try:
            fd = self._open()
        except FileNotFoundError:
            if extra:
                merge(extra)
            return len(extra)
        try:
            self._lock(fd)
            data = self._read_all(fd)
            items = self.decode(data) + extra
            if items:
                merge(items)
            if data:
                os.ftruncate(fd, 0)
            return len(items)
        finally:
            os.close(fd)  # closing drops the flock

    def encode(self, item):
        values = [item.get(field) for field in self.fields]
        return b'\n' + json.dumps(values, separators=(',', ':')).encode(
            'ascii') + b'\n'

    def decode(self, data):
        """Complete, well-formed records of ``data``; the rest skipped."""
        lines = data.split(b'\n')
        # the piece after the last newline is a torn (unfinished) write
        items = []
        for line in lines[:-1]:
            if not line:
                continue
            try:
                values = json.loads(line)
            except ValueError:
                continue
            if not isinstance(values, list) or \
                    len(values) != len(self.fields) or \
                    not isinstance(values[0], str):
                continue
            items.append(dict(zip(self.fields, values)))
        return items

    @staticmethod
    def _read_all(fd):
        chunks = []
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                break
            chunks.append(data)
        return b''.join(chunks)

    @contextmanager
    def locked(self, may_create=None):
        """The file open for appending, under an exclusive flock; a missing
        file is made only if ``may_create()`` says so."""
        fd = self._open(may_create)
        try:
            self._lock(fd)
            yield fd
        finally:
            os.close(fd)  # closing drops the flock

    def _open(self, may_create=None):
        flags = os.O_RDWR | os.O_APPEND
        try:
            return os.open(self.path, flags)
        except FileNotFoundError:
            if may_create is None or not may_create():
                raise
            return os.open(self.path, flags | os.O_CREAT, 0o644)

    def _lock(self, fd):
        """flock ``fd``, polling (``pause``: cooperative on the hub) up to
        ``timeout``, then LockTimeout."""
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout('%s locked for more than %.1f s'
                                      % (self.path, self.timeout))
                pause(delay)
                delay = min(delay * 2, 0.02)
