"""The SQLite machinery shared by container and account databases.

A container (or account) is one SQLite file per replica.  Replicas converge
because every change is a *row* carrying a timestamp: rows merge with
"newest timestamp wins" whatever order they arrive in, and a replaced row
is deleted and re-inserted so it gets a fresh ROWID.  That ROWID order is
the replication log: ``get_items_since(n)`` hands out every row changed
after row ``n``, and the ``incoming_sync``/``outgoing_sync`` tables remember
how far each remote replica (named by its database ``id``) has got.

The single-row ``*_stat`` table holds the database-level state (put/delete
timestamps, counters, a running XOR hash of the rows so two replicas can
compare contents cheaply, and metadata as JSON ``{key: [value, ts]}``, each
key merged by its own timestamp).

Row updates go through a pending file first (Swift's ``.pending`` design).
An object server sends one container update per object PUT/DELETE, and a
burst of uploads into one container would otherwise cost one SQLite write
transaction -- and one fsync -- each, serialized on the database lock.
Instead ``put_record`` appends one small line to ``<db>.pending`` under an
``flock`` and returns; the pending lines are merged into SQLite in *one*
transaction when

* the pending file would grow past ``pending_cap`` bytes (128 KiB),
* anything reads data that must be current: ``get_info`` (HEAD counters,
  emptiness before DELETE, account reports), listings, and everything
  replication reads (``get_items_since``, ``get_max_row``,
  ``get_replication_info``),
* or periodically (the servers commit what they left pending).

``objproxy.storage.db_pending`` keeps the file (locking, torn lines).  A
crash after a merge committed but before the truncate re-merges the same
rows later, which is harmless: merging a row twice changes nothing.

Durability trade-off (the same as Swift's): appends are *not* fsynced.  A
power loss can lose the newest pending rows of a container, but never the
object itself (the object server fsyncs object data before it answers),
and a lost row comes back: replication merges the row from the other
container replicas, and an object PUT whose update never reached a
quorum of them is retried from the object server's async pending.  The
SQLite transactions themselves stay durable (``synchronous=FULL`` when the
node fsyncs, ``NORMAL`` otherwise) and use WAL journaling so listings
read while a writer commits.

Locks never freeze a server: see ``objproxy.storage.db_connection``.

Lock order: the database write lock, then the pending file's flock.  A
merge of the pending file takes them in that order; an append takes only
the flock, for one ``write``.  So nobody waits for the database while
holding the flock, and an append never waits longer than one merge.
"""
import errno
import hashlib
import json
import os
import time
import uuid

from objproxy.common.timestamp import Timestamp
from objproxy.storage.db_pending import (
    PENDING_CAP, PENDING_LOCK_TIMEOUT, LockTimeout, PendingFile)
from objproxy.storage.db_connection import (
    BUSY_TIMEOUT_MS, DatabaseError, DatabaseNotFound, SqliteAccess)
from objproxy.storage.dirsync import fsync_dir
from objproxy.storage.listing_query import listing_rows

ZERO_TS = Timestamp(0).internal


class DatabaseAlreadyExists(DatabaseError):
    """initialize() on a path that already holds a database."""


def norm_ts(value):
    """Any timestamp form -> Timestamp.internal (sorts lexically by time)."""
    if value is None or value == '':
        return ZERO_TS
    return Timestamp(value).internal


def row_hash(*fields):
    """128-bit int of one row's identity; XOR-summed into the DB hash."""
    text = '-'.join(str(f) for f in fields)
    return int(hashlib.md5(text.encode('utf-8', 'surrogateescape'))
               .hexdigest(), 16)


class DatabaseBroker(SqliteAccess):
    """Common base of ContainerBroker and AccountBroker.

    Subclasses set ``db_type`` ('container'/'account'), ``item_table``
    and implement ``_create_tables``, ``_merge_rows`` and ``is_deleted``.
    """

    db_type = None
    item_table = None
    # columns returned by get_items_since (after ROWID)
    item_columns = ()

    # the fields of one pending record, in order (see put_record)
    pending_fields = ()

    def __init__(self, db_file, account=None, container=None, fsync=True,
                 timeout=BUSY_TIMEOUT_MS / 1000.0, pending_cap=PENDING_CAP,
                 pending_timeout=PENDING_LOCK_TIMEOUT, offload=None):
        self.db_file = db_file
        self.db_dir = os.path.dirname(db_file)
        self.account = account
        self.container = container
        self.fsync = fsync
        # how long to wait for a lock before LockTimeout (seconds)
        self.timeout = timeout
        # a cap of 0 disables the pending file: put_record merges at once
        self.pending = PendingFile(db_file + '.pending', self.pending_fields,
                                   pending_cap, pending_timeout)
        SqliteAccess.__init__(self, offload)

    def exists(self):
        return os.path.exists(self.db_file)

    # -- creation --------------------------------------------------------
    def initialize(self, put_timestamp=None, **kwargs):
        """Create the database file atomically (tmp file + rename).

        Raises DatabaseAlreadyExists if another request created it first;
        callers treat that as "exists" and carry on.  The (empty) pending
        file is created first, so a database never exists without one.
        """
        return self.offload(self._initialize, put_timestamp, **kwargs)

    def _initialize(self, put_timestamp=None, **kwargs):
        put_timestamp = norm_ts(put_timestamp or Timestamp.now())
        os.makedirs(self.db_dir, exist_ok=True)
        if self.exists():
            raise DatabaseAlreadyExists(self.db_file)
        tmp = '%s.%s.tmp' % (self.db_file, uuid.uuid4().hex)
        conn = self._connect(tmp)
        try:
            conn.execute('PRAGMA journal_mode = WAL')
            conn.execute('BEGIN')
            conn.execute('CREATE TABLE incoming_sync (remote_id TEXT '
                         'PRIMARY KEY, sync_point INTEGER, updated_at TEXT)')
            conn.execute('CREATE TABLE outgoing_sync (remote_id TEXT '
                         'PRIMARY KEY, sync_point INTEGER, updated_at TEXT)')
            self._create_tables(conn, put_timestamp, **kwargs)
            conn.execute('COMMIT')
            # checkpoint so the -wal file can go with the rename
            conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        except BaseException:
            conn.close()
            _unlink_quiet(tmp)
            raise
        conn.close()
        for ext in ('-wal', '-shm'):
            _unlink_quiet(tmp + ext)
        self.pending.create()
        if self.fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        try:
            # link() fails if a concurrent initialize won: never clobber
            os.link(tmp, self.db_file)
        except OSError as err:
            if err.errno == errno.EEXIST:
                raise DatabaseAlreadyExists(self.db_file)
            raise
        finally:
            _unlink_quiet(tmp)
        if self.fsync:
            fsync_dir(self.db_dir)

    def _create_tables(self, conn, put_timestamp, **kwargs):
        raise NotImplementedError

    def _stat_columns(self, extra):
        """DDL for the stat table columns every DB type has."""
        return '''
            account TEXT,
            %s
            created_at TEXT,
            put_timestamp TEXT DEFAULT '%s',
            delete_timestamp TEXT DEFAULT '%s',
            status_changed_at TEXT DEFAULT '%s',
            status TEXT DEFAULT '',
            object_count INTEGER DEFAULT 0,
            bytes_used INTEGER DEFAULT 0,
            hash TEXT DEFAULT '00000000000000000000000000000000',
            id TEXT,
            metadata TEXT DEFAULT ''
        ''' % (extra, ZERO_TS, ZERO_TS, ZERO_TS)

    @property
    def stat_table(self):
        return '%s_stat' % self.db_type

    # -- stat / info -----------------------------------------------------
    def get_info(self, fresh=True):
        """The stat row as a dict (metadata left as the raw JSON text).

        ``fresh`` merges pending rows first so the counters are current
        (as Swift, a pending file locked for too long is left for later:
        the answer is then slightly stale rather than an error).
        """
        if fresh:
            self.commit_pending(stale_ok=True)
        return self.run_read(self._stat_row)

    def _stat_row(self, conn):
        cur = conn.execute('SELECT * FROM %s' % self.stat_table)
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            raise DatabaseError('%s has no stat row' % self.db_file)
        return dict(zip(names, row))

    def get_info_and_metadata(self, fresh=True):
        """(stat row, metadata) read in one call (HEAD, GET)."""
        if fresh:
            self.commit_pending(stale_ok=True)
        return self.run_read(lambda conn: (self._stat_row(conn),
                                        self._metadata(conn)))

    def is_status_deleted(self):
        return self.get_info()['status'] == 'DELETED'

    def update_put_timestamp(self, timestamp):
        """Newer put timestamps win; returns True if it changed."""
        ts = norm_ts(timestamp)
        return self.run_write(lambda conn: conn.execute(
            'UPDATE %s SET put_timestamp = ? WHERE put_timestamp < ?'
            % self.stat_table, (ts, ts)).rowcount > 0)

    def update_status_changed_at(self, timestamp):
        ts = norm_ts(timestamp)
        self.run_write(lambda conn: conn.execute(
            'UPDATE %s SET status_changed_at = ? WHERE status_changed_at < ?'
            % self.stat_table, (ts, ts)))

    def delete_db(self, timestamp):
        """Mark deleted at ``timestamp``; user metadata is cleared as Swift
        does, so a re-created database starts without the old metadata."""
        ts = norm_ts(timestamp)

        def delete(conn):
            cleared = dict((key, ('', ts)) for key in self._metadata(conn))
            self._update_metadata(conn, cleared)
            conn.execute(
                'UPDATE %s SET delete_timestamp = ?, status = ?, '
                'status_changed_at = ? WHERE delete_timestamp < ?'
                % self.stat_table, (ts, 'DELETED', ts, ts))
        self.run_write(delete)

    def merge_timestamps(self, created_at, put_timestamp, delete_timestamp):
        """Replication: adopt a remote's newer put/delete timestamps."""
        created_at = norm_ts(created_at)
        put_ts = norm_ts(put_timestamp)
        del_ts = norm_ts(delete_timestamp)

        def merge(conn):
            before = self._deleted_state(conn)
            conn.execute(
                'UPDATE %s SET created_at = MIN(?, created_at), '
                'put_timestamp = MAX(?, put_timestamp), '
                'delete_timestamp = MAX(?, delete_timestamp)'
                % self.stat_table, (created_at, put_ts, del_ts))
            if before != self._deleted_state(conn):
                changed = max(put_ts, del_ts)
                conn.execute('UPDATE %s SET status_changed_at = ? '
                             'WHERE status_changed_at < ?'
                             % self.stat_table, (changed, changed))
        self.run_write(merge)

    # the counter that must be zero for the database to count as deleted
    count_column = 'object_count'

    def _deleted_state(self, conn):
        row = conn.execute(
            'SELECT put_timestamp, delete_timestamp, %s FROM %s'
            % (self.count_column, self.stat_table)).fetchone()
        return (row[2] in (0, None)) and row[1] > row[0]

    # -- metadata --------------------------------------------------------
    @property
    def metadata(self):
        """{key: (value, timestamp)} including cleared ('') keys."""
        return self.run_read(self._metadata)

    def _metadata(self, conn):
        row = conn.execute(
            'SELECT metadata FROM %s' % self.stat_table).fetchone()
        return _load_meta(row[0] if row else '')

    def update_metadata(self, new_meta):
        """Merge {key: (value, timestamp)}; per key, newest timestamp wins.

        Keys are stored with their case as given but compared
        case-insensitively (HTTP header names).
        """
        if not new_meta:
            return
        self.run_write(self._update_metadata, new_meta)

    def _update_metadata(self, conn, new_meta):
        row = conn.execute('SELECT metadata FROM %s'
                           % self.stat_table).fetchone()
        current = _load_meta(row[0] if row else '')
        by_lower = dict((k.lower(), k) for k in current)
        changed = False
        for key, (value, ts) in new_meta.items():
            ts = norm_ts(ts)
            old_key = by_lower.get(key.lower())
            if old_key is not None:
                if current[old_key][1] >= ts:
                    continue
                del current[old_key]
            current[key] = (value, ts)
            by_lower[key.lower()] = key
            changed = True
        if changed:
            conn.execute('UPDATE %s SET metadata = ?' % self.stat_table,
                         (json.dumps(current),))

    # -- rows and replication -------------------------------------------
    def merge_items(self, items, source=None):
        """Merge row dicts; newest timestamp wins per name.

        ``source`` is the remote DB id the rows came from: its incoming
        sync point moves to the highest ROWID seen in ``items``.
        """
        items = list(items)

        def merge(conn):
            if items:
                self._merge_rows(conn, items)
            if source:
                max_row = max((item.get('ROWID', -1) for item in items),
                              default=-1)
                if max_row >= 0:
                    self._merge_syncs(conn, [{'remote_id': source,
                                              'sync_point': max_row}],
                                      incoming=True)
        self.run_write(merge)

    def _merge_rows(self, conn, items):
        raise NotImplementedError

    # -- the pending file (objproxy.storage.db_pending) -------------------
    def put_record(self, item):
        """Queue one row update: append it to the pending file.

        Cheap (no SQLite, no fsync): see the module docstring for when it
        is merged and what that trades.  When the pending file is full, it
        is merged now together with ``item``.  Raises DatabaseNotFound
        when there is no database, LockTimeout when a lock stays held.
        """
        if not self.pending.cap:
            self.merge_items([item])
            return
        try:
            if self.pending.append(item, may_create=self.exists):
                return
        except FileNotFoundError:
            raise DatabaseNotFound(self.db_file)
        self._merge_pending([item])

    def commit_pending(self, stale_ok=False):
        """Merge every pending record into SQLite in one transaction.

        Returns how many records were merged.  With ``stale_ok`` a lock
        held too long by someone else is not an error (0 is returned).
        """
        if not self.pending.size():
            return 0
        try:
            return self._merge_pending()
        except LockTimeout:
            if stale_ok:
                return 0
            raise

    def pending_size(self):
        return self.pending.size()

    def _merge_pending(self, extra=()):
        """Database write lock first, then the pending file's flock (see
        the module docstring): read, merge, commit, truncate."""
        return self.run_write(self._merge_pending_locked, list(extra))

    def _merge_pending_locked(self, conn, extra):
        def merge(items):
            self._merge_rows(conn, items)
            self._commit(conn)
        return self.pending.merge_all(merge, extra)

    def _apply_changes(self, conn, hash_delta, deltas):
        """Fold a row-hash XOR and counter deltas {column: n} into stat."""
        row = conn.execute('SELECT hash FROM %s'
                           % self.stat_table).fetchone()
        new_hash = '%032x' % (int(row[0] or '0', 16) ^ hash_delta)
        cols = sorted(deltas)
        sets = ''.join(', %s = %s + ?' % (c, c) for c in cols)
        conn.execute('UPDATE %s SET hash = ?%s' % (self.stat_table, sets),
                     [new_hash] + [deltas[c] for c in cols])

    def get_max_row(self):
        self.commit_pending()
        return self.run_read(self._max_row)

    def _max_row(self, conn):
        row = conn.execute('SELECT MAX(ROWID) FROM %s'
                           % self.item_table).fetchone()
        return row[0] if row and row[0] is not None else -1

    def get_items_since(self, start, count):
        """Up to ``count`` rows with ROWID > start, oldest change first."""
        self.commit_pending()
        cols = ', '.join(('ROWID',) + tuple(self.item_columns))

        def items(conn):
            cur = conn.execute(
                'SELECT %s FROM %s WHERE ROWID > ? ORDER BY ROWID LIMIT ?'
                % (cols, self.item_table), (start, count))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur]
        return self.run_read(items)

    def get_sync(self, remote_id, incoming=True):
        table = 'incoming_sync' if incoming else 'outgoing_sync'

        def sync(conn):
            row = conn.execute(
                'SELECT sync_point FROM %s WHERE remote_id = ?' % table,
                (remote_id,)).fetchone()
            return row[0] if row else -1
        return self.run_read(sync)

    def merge_syncs(self, sync_points, incoming=True):
        """Record sync points [{'remote_id', 'sync_point'}]; never go back."""
        self.run_write(self._merge_syncs, sync_points, incoming)

    def _merge_syncs(self, conn, sync_points, incoming):
        table = 'incoming_sync' if incoming else 'outgoing_sync'
        now = Timestamp.now().internal
        for rec in sync_points:
            conn.execute(
                'INSERT INTO %s (remote_id, sync_point, updated_at) '
                'VALUES (?, ?, ?) ON CONFLICT(remote_id) DO UPDATE SET '
                'sync_point = MAX(sync_point, excluded.sync_point), '
                'updated_at = excluded.updated_at' % table,
                (rec['remote_id'], int(rec['sync_point']), now))

    def get_replication_info(self):
        """What a replicator compares before deciding what to send."""
        self.commit_pending()

        def read(conn):
            info = self._stat_row(conn)
            info['max_row'] = self._max_row(conn)
            info['count'] = conn.execute(
                'SELECT COUNT(*) FROM %s' % self.item_table).fetchone()[0]
            info['metadata'] = info.get('metadata') or ''
            return info
        return self.run_read(read)

    def reclaim(self, age_timestamp):
        """Drop deleted rows older than age_timestamp (tombstone reaping).

        Their hash contribution stays (Swift's semantics differ only in
        bookkeeping); a replica that still has the row newer wins anyway.
        """
        ts = norm_ts(age_timestamp)
        self.commit_pending()
        self.run_write(self._reclaim, ts)

    def _reclaim(self, conn, ts):
        raise NotImplementedError

    # -- listing ----------------------------------------------------------
    def _iter_listing(self, select_cols, limit, marker='', end_marker='',
                      prefix='', delimiter='', reverse=False, path=None,
                      make_subdir=None, allow_reserved=False):
        """Rows for one listing page, seeking past whole sub-directories.

        Uses the (deleted, name) index: each query is a range scan
        ``name > marker [AND name < end]`` ordered by name (or descending
        for ``reverse``).  With a delimiter, the first row inside a
        sub-directory yields a ``subdir`` entry and the next query starts
        past the whole sub-directory, so a page costs one query per
        sub-directory, not one row per object.  ``path`` lists only the
        direct children of a pseudo-directory (Swift's ``path=``).
        Reserved (NUL-led) names are listed only with ``allow_reserved``.
        Pending rows are merged first (as Swift, a pending file locked for
        too long leaves the listing slightly stale rather than failing
        it); the queries run in one ``run_read``.
        """
        self.commit_pending(stale_ok=True)
        return self.run_read(
            listing_rows, self.item_table, select_cols, limit,
            marker, end_marker, prefix, delimiter, reverse, path,
            make_subdir, allow_reserved)


def _load_meta(text):
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        return {}
    return dict((k, (v[0], v[1])) for k, v in raw.items())


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def now_internal():
    return Timestamp(time.time()).internal
