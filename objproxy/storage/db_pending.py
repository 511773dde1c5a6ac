"""A database's ``.pending`` file: row updates queued as appended lines.

Why: one SQLite write transaction (and fsync) per object update would
serialize a burst of uploads into one container on the database lock, so
updates are appended here under an ``flock`` and merged into SQLite many
at a time (see ``objproxy.storage.db_broker`` for when, and for the
durability trade-off).

Each record is written as ``\\n<json list>\\n`` in a single ``write``, so a
record torn by a crash is the unfinished piece after the last newline and
is skipped, and the leading newline keeps the next record parseable.  A
merge holds the lock for read + merge + truncate: a record appended
meanwhile waits and lands in the emptied file, so nothing is lost.
"""
import fcntl
import json
import os
import time
from contextlib import contextmanager

import eventlet

# Swift's PENDING_CAP: merge once the pending file holds this many bytes
PENDING_CAP = 131072
# how long an append or a merge waits for the pending file's lock
PENDING_LOCK_TIMEOUT = 10.0


class LockTimeout(Exception):
    """The pending file stayed locked longer than the lock timeout."""


class PendingFile(object):
    """Records of ``fields`` (a tuple of names) queued in ``path``.

    ``merge(items)`` writes a list of row dicts to the database; it is
    called with the lock held.
    """

    def __init__(self, path, fields, merge, cap=PENDING_CAP,
                 timeout=PENDING_LOCK_TIMEOUT):
        self.path = path
        self.fields = fields
        self.merge = merge
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
        """Queue ``item``; when the file is full, merge it all now.

        A missing file is made only if ``may_create()`` (its database
        exists: one pushed by replication comes without a pending file);
        FileNotFoundError otherwise.
        """
        record = self.encode(item)
        with self.locked(may_create) as fd:
            if os.fstat(fd).st_size + len(record) > self.cap:
                self._merge_locked(fd, [item])
            else:
                os.write(fd, record)

    def drain(self):
        """Merge every queued record; how many there were."""
        if not self.size():
            return 0
        try:
            with self.locked() as fd:
                return self._merge_locked(fd)
        except FileNotFoundError:
            return 0

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

    def _merge_locked(self, fd, extra=()):
        """With the lock held: read, merge, truncate."""
        chunks = []
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                break
            chunks.append(data)
        items = self.decode(b''.join(chunks)) + list(extra)
        if items:
            self.merge(items)
        if chunks:
            os.ftruncate(fd, 0)
        return len(items)

    @contextmanager
    def locked(self, may_create=None):
        """The file open for appending, under an exclusive flock; a missing
        file is made only if ``may_create()`` says so.

        Waits cooperatively (other green threads run) up to ``timeout``.
        """
        flags = os.O_RDWR | os.O_APPEND
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            if may_create is None or not may_create():
                raise
            fd = os.open(self.path, flags | os.O_CREAT, 0o644)
        try:
            deadline = time.time() + self.timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.time() >= deadline:
                        raise LockTimeout(self.path)
                    eventlet.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield fd
        finally:
            os.close(fd)  # closing drops the flock
