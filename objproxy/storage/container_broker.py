"""One container's database: its object rows, counters and account report.

Object rows arrive from object servers (and later from replicas) in any
order; ``merge_items`` keeps, per name, the row with the newest timestamp
(a deleted flag row is a row like any other), so every replica ends up
with the same rows.  ``object_count``/``bytes_used`` are kept up to date in
the same transaction, so HEAD never has to count.  Object-row updates
from object servers are queued in the pending file (``put_record``, see
db_broker) and merged in batches; everything that reads counters or rows
merges them first.

The container also remembers where its account replicas are (from the
``X-Account-*`` headers of the container PUT/DELETE) and what it last
reported to them: "needs a report" is simply "the stats differ from the
reported ones", which survives a restart for free.
"""
import json
import uuid

from objproxy.storage.db_broker import (
    DatabaseBroker, norm_ts, now_internal, row_hash, ZERO_TS)

MERGE_CHUNK = 400


class ContainerBroker(DatabaseBroker):
    db_type = 'container'
    item_table = 'object'
    item_columns = ('name', 'created_at', 'size', 'content_type', 'etag',
                    'deleted')
    pending_fields = item_columns

    def _create_tables(self, conn, put_timestamp, **kwargs):
        conn.execute('''
            CREATE TABLE object (
                ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                created_at TEXT NOT NULL,
                size INTEGER NOT NULL DEFAULT 0,
                content_type TEXT NOT NULL DEFAULT '',
                etag TEXT NOT NULL DEFAULT '',
                deleted INTEGER NOT NULL DEFAULT 0)''')
        conn.execute('CREATE INDEX ix_object_deleted_name '
                     'ON object (deleted, name)')
        conn.execute('CREATE TABLE container_stat (%s)' % self._stat_columns(
            '''container TEXT,
            reported_put_timestamp TEXT DEFAULT '%s',
            reported_delete_timestamp TEXT DEFAULT '%s',
            reported_object_count INTEGER DEFAULT 0,
            reported_bytes_used INTEGER DEFAULT 0,
            account_targets TEXT DEFAULT '[]',
            x_container_sync_point1 INTEGER DEFAULT -1,
            x_container_sync_point2 INTEGER DEFAULT -1,''' % (ZERO_TS,
                                                              ZERO_TS)))
        conn.execute(
            'INSERT INTO container_stat (account, container, created_at, '
            'put_timestamp, status_changed_at, id) VALUES (?, ?, ?, ?, ?, ?)',
            (self.account, self.container, now_internal(), put_timestamp,
             put_timestamp, str(uuid.uuid4())))

    # -- state -------------------------------------------------------------
    def is_deleted(self, fresh=True):
        info = self.get_info(fresh)
        return (not info['object_count'] and
                info['delete_timestamp'] > info['put_timestamp'])

    def empty(self):
        """No rows, counting the pending ones: a lock held too long is a
        LockTimeout here, never a stale "empty" (that would allow a
        DELETE of a database that still has rows)."""
        self.commit_pending()
        return not self.get_info(fresh=False)['object_count']

    # -- object rows -------------------------------------------------------
    def put_object(self, name, timestamp, size, content_type, etag,
                   deleted=0):
        """Queue an object row (merged with the pending file's batch)."""
        self.put_record({
            'name': name, 'created_at': norm_ts(timestamp),
            'size': int(size),
            'content_type': content_type or '', 'etag': etag or '',
            'deleted': 1 if deleted else 0})

    def delete_object(self, name, timestamp):
        self.put_object(name, timestamp, 0, 'application/deleted',
                        'noetag', deleted=1)

    def _merge_rows(self, conn, items):
        # newest per name inside the batch first (order independence)
        best = {}
        for item in items:
            rec = (norm_ts(item['created_at']),
                   1 if item.get('deleted') else 0,
                   item.get('etag') or '', int(item.get('size') or 0),
                   item.get('content_type') or '')
            name = item['name']
            if name not in best or rec > best[name]:
                best[name] = rec
        names = list(best)
        hash_delta = 0
        count_delta = 0
        bytes_delta = 0
        for start in range(0, len(names), MERGE_CHUNK):
            chunk = names[start:start + MERGE_CHUNK]
            marks = ','.join('?' * len(chunk))
            existing = {}
            for row in conn.execute(
                    'SELECT ROWID, name, created_at, deleted, etag, size, '
                    'content_type FROM object WHERE deleted IN (0, 1) '
                    'AND name IN (%s)' % marks, chunk):
                existing[row[1]] = row
            drop = []
            add = []
            for name in chunk:
                rec = best[name]
                old = existing.get(name)
                if old is not None:
                    if (old[2], old[3], old[4], old[5], old[6]) >= rec:
                        continue
                    drop.append((old[0],))
                    hash_delta ^= row_hash(name, old[2])
                    if not old[3]:
                        count_delta -= 1
                        bytes_delta -= old[5]
                created_at, deleted, etag, size, ctype = rec
                add.append((name, created_at, size, ctype, etag, deleted))
                hash_delta ^= row_hash(name, created_at)
                if not deleted:
                    count_delta += 1
                    bytes_delta += size
            if drop:
                conn.executemany('DELETE FROM object WHERE ROWID = ?', drop)
            if add:
                conn.executemany(
                    'INSERT INTO object (name, created_at, size, '
                    'content_type, etag, deleted) VALUES (?, ?, ?, ?, ?, ?)',
                    add)
        self._apply_changes(conn, hash_delta, {'object_count': count_delta,
                                               'bytes_used': bytes_delta})

    def _reclaim(self, conn, ts):
        conn.execute('DELETE FROM object WHERE deleted = 1 AND '
                     'created_at < ?', (ts,))

    # -- listing -----------------------------------------------------------
    def list_objects_iter(self, limit, marker='', end_marker='', prefix='',
                          delimiter='', path=None, reverse=False,
                          allow_reserved=False):
        """[(name, created_at, size, content_type, etag)]; a subdir entry
        is (name, None, None, None, None)."""
        return self._iter_listing(
            ('name', 'created_at', 'size', 'content_type', 'etag'),
            limit, marker=marker, end_marker=end_marker, prefix=prefix,
            delimiter=delimiter, reverse=reverse, path=path,
            make_subdir=lambda n: (n, None, None, None, None),
            allow_reserved=allow_reserved)

    # -- account reporting -------------------------------------------------
    def get_account_targets(self):
        """[(host 'ip:port', partition, device)] to report to."""
        raw = self.get_info().get('account_targets') or '[]'
        try:
            return [tuple(t) for t in json.loads(raw)]
        except ValueError:
            return []

    def set_account_targets(self, targets):
        value = json.dumps([list(t) for t in targets])
        self.run_write(lambda conn: conn.execute(
            'UPDATE container_stat SET account_targets = ?', (value,)))

    def report_state(self):
        """(needs_report, stats dict) with what would be sent."""
        info = self.get_info()
        stats = {'put_timestamp': info['put_timestamp'],
                 'delete_timestamp': info['delete_timestamp'],
                 'object_count': info['object_count'],
                 'bytes_used': info['bytes_used']}
        needs = (info['put_timestamp'] != info['reported_put_timestamp'] or
                 info['delete_timestamp'] !=
                 info['reported_delete_timestamp'] or
                 info['object_count'] != info['reported_object_count'] or
                 info['bytes_used'] != info['reported_bytes_used'])
        return needs, stats

    def reported(self, put_timestamp, delete_timestamp, object_count,
                 bytes_used):
        """Remember what every account replica has acknowledged."""
        self.run_write(lambda conn: conn.execute(
            'UPDATE container_stat SET reported_put_timestamp = ?, '
            'reported_delete_timestamp = ?, reported_object_count = ?, '
            'reported_bytes_used = ?',
            (put_timestamp, delete_timestamp, object_count, bytes_used)))
