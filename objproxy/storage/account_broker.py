"""One account's database: a row per container with its latest stats.

Container servers report each container's put/delete timestamps and
counters; a row merge keeps the newest put and the newest delete timestamp
for the name (so a late, stale report can never resurrect a deleted
container) and takes the counters of the incoming report, as Swift does.
A row whose delete timestamp is newer than its put timestamp, with no
objects, is a deleted container and drops out of listings and totals.
Container reports are queued in the pending file (``put_record``, see
db_broker) and merged in batches.
"""
import uuid

from objproxy.storage.db_broker import (
    DatabaseBroker, norm_ts, now_internal, row_hash)

MERGE_CHUNK = 400


class AccountBroker(DatabaseBroker):
    db_type = 'account'
    item_table = 'container'
    item_columns = ('name', 'put_timestamp', 'delete_timestamp',
                    'object_count', 'bytes_used', 'deleted')
    pending_fields = ('name', 'put_timestamp', 'delete_timestamp',
                      'object_count', 'bytes_used')
    count_column = 'container_count'

    def _create_tables(self, conn, put_timestamp, **kwargs):
        conn.execute('''
            CREATE TABLE container (
                ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                put_timestamp TEXT NOT NULL,
                delete_timestamp TEXT NOT NULL,
                object_count INTEGER NOT NULL DEFAULT 0,
                bytes_used INTEGER NOT NULL DEFAULT 0,
                deleted INTEGER NOT NULL DEFAULT 0)''')
        conn.execute('CREATE INDEX ix_container_deleted_name '
                     'ON container (deleted, name)')
        conn.execute('CREATE TABLE account_stat (%s)' % self._stat_columns(
            'container_count INTEGER DEFAULT 0,'))
        conn.execute(
            'INSERT INTO account_stat (account, created_at, put_timestamp, '
            'status_changed_at, id) VALUES (?, ?, ?, ?, ?)',
            (self.account, now_internal(), put_timestamp, put_timestamp,
             str(uuid.uuid4())))

    def is_deleted(self, fresh=True):
        """Deleted (status) or emptied after a delete.  ``fresh=False``
        skips merging pending rows (a pending row never revives an account
        whose delete is newer than its put)."""
        info = self.get_info(fresh)
        return info['status'] == 'DELETED' or (
            not info['container_count'] and
            info['delete_timestamp'] > info['put_timestamp'])

    def empty(self):
        """No rows, counting the pending ones: a lock held too long is a
        LockTimeout here, never a stale "empty" (that would allow a
        DELETE of a database that still has rows)."""
        self.commit_pending()
        return not self.get_info(fresh=False)['container_count']

    def put_container(self, name, put_timestamp, delete_timestamp,
                      object_count, bytes_used):
        """Queue a container row (merged with the pending file's batch)."""
        self.put_record({
            'name': name, 'put_timestamp': norm_ts(put_timestamp),
            'delete_timestamp': norm_ts(delete_timestamp),
            'object_count': int(object_count or 0),
            'bytes_used': int(bytes_used or 0)})

    def _merge_rows(self, conn, items):
        # within one batch, fold duplicates the same way rows fold below
        folded = {}
        for item in items:
            rec = [norm_ts(item.get('put_timestamp')),
                   norm_ts(item.get('delete_timestamp')),
                   int(item.get('object_count') or 0),
                   int(item.get('bytes_used') or 0)]
            prev = folded.get(item['name'])
            folded[item['name']] = _fold(prev, rec) if prev else rec
        names = list(folded)
        hash_delta = 0
        deltas = {'container_count': 0, 'object_count': 0, 'bytes_used': 0}
        for start in range(0, len(names), MERGE_CHUNK):
            chunk = names[start:start + MERGE_CHUNK]
            marks = ','.join('?' * len(chunk))
            existing = {}
            for row in conn.execute(
                    'SELECT ROWID, name, put_timestamp, delete_timestamp, '
                    'object_count, bytes_used, deleted FROM container '
                    'WHERE deleted IN (0, 1) AND name IN (%s)' % marks,
                    chunk):
                existing[row[1]] = row
            drop = []
            add = []
            for name in chunk:
                rec = folded[name]
                old = existing.get(name)
                if old is not None:
                    rec = _fold(list(old[2:6]), rec)
                    if rec == list(old[2:6]):
                        continue
                    drop.append((old[0],))
                    hash_delta ^= row_hash(name, *old[2:6])
                    if not old[6]:
                        deltas['container_count'] -= 1
                        deltas['object_count'] -= old[4]
                        deltas['bytes_used'] -= old[5]
                put_ts, del_ts, count, used = rec
                deleted = 1 if (del_ts > put_ts and not count) else 0
                add.append((name, put_ts, del_ts, count, used, deleted))
                hash_delta ^= row_hash(name, put_ts, del_ts, count, used)
                if not deleted:
                    deltas['container_count'] += 1
                    deltas['object_count'] += count
                    deltas['bytes_used'] += used
            if drop:
                conn.executemany('DELETE FROM container WHERE ROWID = ?',
                                 drop)
            if add:
                conn.executemany(
                    'INSERT INTO container (name, put_timestamp, '
                    'delete_timestamp, object_count, bytes_used, deleted) '
                    'VALUES (?, ?, ?, ?, ?, ?)', add)
        self._apply_changes(conn, hash_delta, deltas)

    def _reclaim(self, conn, ts):
        conn.execute('DELETE FROM container WHERE deleted = 1 AND '
                     'delete_timestamp < ?', (ts,))

    def list_containers_iter(self, limit, marker='', end_marker='',
                             prefix='', delimiter='', reverse=False,
                             allow_reserved=False):
        """[(name, object_count, bytes_used, put_timestamp)]; a subdir
        entry is (name, None, None, None)."""
        return self._iter_listing(
            ('name', 'object_count', 'bytes_used', 'put_timestamp'),
            limit, marker=marker, end_marker=end_marker, prefix=prefix,
            delimiter=delimiter, reverse=reverse,
            make_subdir=lambda n: (n, None, None, None),
            allow_reserved=allow_reserved)


def _fold(old, new):
    """Merge two [put_ts, delete_ts, count, bytes] records of one name.

    Newest put and newest delete timestamps both survive.  Counters come
    from the newer report; a report older on both timestamps than what we
    hold is stale and does not overwrite the counters.
    """
    put_ts = max(old[0], new[0])
    del_ts = max(old[1], new[1])
    if new[0] < old[0] and new[1] <= old[1] or \
            new[1] < old[1] and new[0] <= old[0]:
        count, used = old[2], old[3]
    else:
        count, used = new[2], new[3]
    return [put_ts, del_ts, count, used]
