"""ContainerBroker / AccountBroker on real SQLite files."""
import fcntl
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time

import eventlet
import pytest

from objproxy.common.offload import run_in_thread
from objproxy.storage.account_broker import AccountBroker
from objproxy.storage.container_broker import ContainerBroker
from objproxy.storage.db_broker import DatabaseAlreadyExists
from objproxy.storage.db_connection import DatabaseNotFound
from objproxy.storage.db_pending import LockTimeout
from objproxy.storage.listing_query import upper_bound
from tests.unit.storage.hub_watch import FlockHolder, HubWatch, WriteLockHolder


def make_cb(tmp_path, name='c.db', ts='1'):
    broker = ContainerBroker(str(tmp_path / 'x' / name), 'a', 'c',
                             fsync=False)
    broker.initialize(ts)
    return broker


def make_ab(tmp_path, ts='1'):
    broker = AccountBroker(str(tmp_path / 'acct' / 'a.db'), 'a',
                           fsync=False)
    broker.initialize(ts)
    return broker


def obj(name, ts, size=1, deleted=0, etag='e'):
    return {'name': name, 'created_at': ts, 'size': size,
            'content_type': 'text/plain', 'etag': etag, 'deleted': deleted}


def test_initialize_wal_and_refuses_twice(tmp_path):
    broker = make_cb(tmp_path)
    mode = broker.conn.execute('PRAGMA journal_mode').fetchone()[0]
    assert mode == 'wal'
    with pytest.raises(DatabaseAlreadyExists):
        broker.initialize('2')
    leftovers = [f for f in os.listdir(broker.db_dir) if '.tmp' in f]
    assert leftovers == []
    info = broker.get_info()
    assert info['put_timestamp'] == '0000000001.00000'
    assert len(info['id']) == 36


def test_missing_db(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'nope.db'), 'a', 'c')
    with pytest.raises(DatabaseNotFound):
        broker.get_info()


def test_counts_and_newest_wins(tmp_path):
    broker = make_cb(tmp_path)
    broker.put_object('o', '2', 10, 'text/plain', 'e1')
    broker.put_object('o', '1', 99, 'text/plain', 'old')   # older: ignored
    info = broker.get_info()
    assert (info['object_count'], info['bytes_used']) == (1, 10)
    broker.put_object('o', '3', 20, 'text/plain', 'e2')
    assert broker.get_info()['bytes_used'] == 20
    broker.delete_object('o', '4')
    info = broker.get_info()
    assert (info['object_count'], info['bytes_used']) == (0, 0)
    assert broker.list_objects_iter(10) == []
    broker.put_object('o', '3.5', 5, 'x', 'e')  # older than the delete
    assert broker.get_info()['object_count'] == 0
    rows = broker.get_items_since(-1, 10)
    assert [(r['name'], r['deleted']) for r in rows] == [('o', 1)]


def test_merge_order_independence(tmp_path):
    updates = []
    for i in range(60):
        name = 'obj%02d' % (i % 15)
        deleted = i % 7 == 0
        updates.append(obj(name, '%d.%05d' % (100 + i // 3, i),
                           size=i, deleted=1 if deleted else 0,
                           etag='e%d' % i))
    # identical timestamps with different content still order the same way
    updates.append(obj('tie', '5', size=1, etag='a'))
    updates.append(obj('tie', '5', size=2, etag='b'))
    states = []
    for seed in range(4):
        shuffled = list(updates)
        random.Random(seed).shuffle(shuffled)
        broker = make_cb(tmp_path, 'c%d.db' % seed)
        # half one by one, the rest as one batch
        for item in shuffled[:30]:
            broker.merge_items([item])
        broker.merge_items(shuffled[30:])
        info = broker.get_info()
        rows = sorted((r['name'], r['created_at'], r['size'], r['deleted'])
                      for r in broker.get_items_since(-1, 1000))
        states.append((info['object_count'], info['bytes_used'],
                       info['hash'], rows))
    assert all(s == states[0] for s in states[1:])
    count, used, _, rows = states[0]
    live = [r for r in rows if not r[3]]
    assert count == len(live) and used == sum(r[2] for r in live)
    assert len(rows) == 16  # one row per name, deleted rows included


def test_items_since_and_syncs(tmp_path):
    src = make_cb(tmp_path, 'src.db')
    dst = make_cb(tmp_path, 'dst.db')
    for i in range(5):
        src.put_object('o%d' % i, str(10 + i), i, 't', 'e')
    first = src.get_items_since(-1, 3)
    assert [r['name'] for r in first] == ['o0', 'o1', 'o2']
    remote_id = src.get_info()['id']
    dst.merge_items(first, source=remote_id)
    assert dst.get_sync(remote_id) == first[-1]['ROWID']
    rest = src.get_items_since(dst.get_sync(remote_id), 100)
    assert [r['name'] for r in rest] == ['o3', 'o4']
    dst.merge_items(rest, source=remote_id)
    assert dst.get_info()['hash'] == src.get_info()['hash']
    # sync points never go backwards
    dst.merge_syncs([{'remote_id': remote_id, 'sync_point': 1}])
    assert dst.get_sync(remote_id) == rest[-1]['ROWID']
    src.merge_syncs([{'remote_id': 'peer', 'sync_point': 7}], incoming=False)
    assert src.get_sync('peer', incoming=False) == 7
    assert src.get_sync('unknown') == -1
    rinfo = src.get_replication_info()
    assert rinfo['max_row'] == src.get_max_row() and rinfo['count'] == 5


def test_replaced_row_gets_new_rowid(tmp_path):
    broker = make_cb(tmp_path)
    broker.put_object('a', '1', 1, 't', 'e')
    broker.put_object('b', '1', 1, 't', 'e')
    point = broker.get_max_row()
    broker.put_object('a', '2', 2, 't', 'e')
    assert [r['name'] for r in broker.get_items_since(point, 10)] == ['a']


def test_metadata_per_key_timestamps(tmp_path):
    broker = make_cb(tmp_path)
    broker.update_metadata({'X-Container-Meta-A': ('1', '5'),
                            'X-Container-Meta-B': ('x', '5')})
    broker.update_metadata({'X-Container-Meta-A': ('old', '4'),
                            'x-container-meta-b': ('new', '6')})
    meta = broker.metadata
    assert meta['X-Container-Meta-A'] == ('1', '0000000005.00000')
    assert meta['x-container-meta-b'] == ('new', '0000000006.00000')
    assert 'X-Container-Meta-B' not in meta


def test_delete_revive_and_status(tmp_path):
    broker = make_cb(tmp_path, ts='1')
    broker.update_metadata({'X-Container-Meta-A': ('1', '1')})
    assert not broker.is_deleted()
    broker.delete_db('2')
    assert broker.is_deleted()
    info = broker.get_info()
    assert info['status_changed_at'] == '0000000002.00000'
    assert broker.metadata['X-Container-Meta-A'][0] == ''
    assert broker.update_put_timestamp('3')
    assert not broker.is_deleted()
    assert not broker.update_put_timestamp('2.5')
    # merge_timestamps adopts newer ones only
    broker.merge_timestamps('0.5', '1', '9')
    info = broker.get_info()
    assert info['delete_timestamp'] == '0000000009.00000'
    assert info['put_timestamp'] == '0000000003.00000'
    assert info['created_at'] == '0000000000.50000'
    assert broker.is_deleted()
    assert info['status_changed_at'] == '0000000009.00000'


def test_reclaim_drops_old_tombstones(tmp_path):
    broker = make_cb(tmp_path)
    broker.delete_object('gone', '5')
    broker.put_object('live', '5', 1, 't', 'e')
    broker.reclaim('10')
    assert [r['name'] for r in broker.get_items_since(-1, 10)] == ['live']


def test_report_state(tmp_path):
    broker = make_cb(tmp_path)
    needs, stats = broker.report_state()
    assert needs
    broker.reported(stats['put_timestamp'], stats['delete_timestamp'],
                    stats['object_count'], stats['bytes_used'])
    assert not broker.report_state()[0]
    broker.put_object('o', '2', 3, 't', 'e')
    needs, stats = broker.report_state()
    assert needs and stats['object_count'] == 1
    broker.set_account_targets([('127.0.0.1:1', '3', 'sda')])
    assert broker.get_account_targets() == [('127.0.0.1:1', '3', 'sda')]


# -- listings ----------------------------------------------------------------
@pytest.fixture
def listing_broker(tmp_path):
    broker = make_cb(tmp_path)
    names = ['a', 'b/1', 'b/2', 'b/c/1', 'b/c/', 'c', 'd/1', 'd/2', 'e',
             'b']
    broker.merge_items([obj(n, '2') for n in names])
    broker.delete_object('e', '3')
    return broker


def names(rows):
    return [r[0] for r in rows]


def test_listing_plain_params(listing_broker):
    b = listing_broker
    assert names(b.list_objects_iter(100)) == [
        'a', 'b', 'b/1', 'b/2', 'b/c/', 'b/c/1', 'c', 'd/1', 'd/2']
    assert names(b.list_objects_iter(2, marker='b/1')) == ['b/2', 'b/c/']
    assert names(b.list_objects_iter(100, marker='b/2', end_marker='c')) \
        == ['b/c/', 'b/c/1']
    assert names(b.list_objects_iter(100, prefix='d/')) == ['d/1', 'd/2']
    assert names(b.list_objects_iter(3, reverse=True)) == ['d/2', 'd/1', 'c']
    assert names(b.list_objects_iter(100, reverse=True, marker='b/2',
                                     end_marker='a')) == ['b/1', 'b']


def test_listing_delimiter(listing_broker):
    b = listing_broker
    assert names(b.list_objects_iter(100, delimiter='/')) == [
        'a', 'b', 'b/', 'c', 'd/']
    subdir = b.list_objects_iter(100, delimiter='/')[2]
    assert subdir[1] is None
    assert names(b.list_objects_iter(100, delimiter='/', reverse=True)) == [
        'd/', 'c', 'b/', 'b', 'a']
    assert names(b.list_objects_iter(100, prefix='b/', delimiter='/')) == [
        'b/1', 'b/2', 'b/c/']
    # paging with a subdir as marker does not repeat it
    assert names(b.list_objects_iter(100, delimiter='/', marker='b/')) == [
        'c', 'd/']
    assert names(b.list_objects_iter(2, delimiter='/')) == ['a', 'b']


def test_listing_path(listing_broker):
    b = listing_broker
    assert names(b.list_objects_iter(100, path='b')) == ['b/1', 'b/2',
                                                         'b/c/']
    assert names(b.list_objects_iter(100, path='b/', reverse=True)) == [
        'b/c/', 'b/2', 'b/1']
    assert names(b.list_objects_iter(100, path='')) == ['a', 'b', 'c']


def test_listing_limit_10000_and_subdir_seek(tmp_path):
    broker = make_cb(tmp_path)
    rows = [obj('dir%d/%05d' % (i % 3, i), '2') for i in range(12000)]
    rows += [obj('top%05d' % i, '2') for i in range(10)]
    broker.merge_items(rows)
    page = broker.list_objects_iter(10000)
    assert len(page) == 10000
    assert names(broker.list_objects_iter(10000, marker=page[-1][0]))[-1] \
        == 'top00009'
    # delimiter collapses 12000 rows into 3 subdirs without scanning them
    statements = []
    broker.conn.set_trace_callback(statements.append)
    listed = names(broker.list_objects_iter(10000, delimiter='/'))
    broker.conn.set_trace_callback(None)
    assert listed[:3] == ['dir0/', 'dir1/', 'dir2/'] and len(listed) == 13
    assert len(statements) <= 6


def test_upper_bound():
    assert upper_bound('ab') == 'ac'
    assert upper_bound('') is None
    assert upper_bound('a\U0010ffff') is None
    assert upper_bound('\ud7ff') == '\ue000'


# -- accounts ----------------------------------------------------------------
def test_account_rows(tmp_path):
    broker = make_ab(tmp_path)
    broker.put_container('c1', '1', '0', 3, 30)
    broker.put_container('c2', '1', '0', 1, 5)
    info = broker.get_info()
    assert (info['container_count'], info['object_count'],
            info['bytes_used']) == (2, 4, 35)
    broker.put_container('c1', '1', '0', 4, 40)   # new counts
    broker.put_container('c2', '1', '2', 0, 0)    # deleted
    info = broker.get_info()
    assert (info['container_count'], info['object_count'],
            info['bytes_used']) == (1, 4, 40)
    # a stale report from before the delete cannot resurrect it
    broker.put_container('c2', '1', '0', 9, 9)
    assert broker.get_info()['container_count'] == 1
    assert [r[0] for r in broker.list_containers_iter(10)] == ['c1']
    # a newer put revives it
    broker.put_container('c2', '3', '0', 0, 0)
    assert [r[0] for r in broker.list_containers_iter(10)] == ['c1', 'c2']


def test_account_merge_order_independence(tmp_path):
    updates = [{'name': 'c%d' % (i % 4), 'put_timestamp': str(1 + i % 5),
                'delete_timestamp': str(i % 3) if i % 2 else '0',
                'object_count': 0, 'bytes_used': 0} for i in range(30)]
    results = []
    for seed in range(3):
        shuffled = list(updates)
        random.Random(seed).shuffle(shuffled)
        broker = AccountBroker(str(tmp_path / ('a%d.db' % seed)), 'a',
                               fsync=False)
        broker.initialize('1')
        for item in shuffled:
            broker.merge_items([item])
        results.append((broker.get_info()['hash'],
                        sorted((r['name'], r['put_timestamp'],
                                r['delete_timestamp'], r['deleted'])
                               for r in broker.get_items_since(-1, 100))))
    assert all(r == results[0] for r in results)


def test_account_deleted_status(tmp_path):
    broker = make_ab(tmp_path)
    broker.delete_db('5')
    assert broker.is_status_deleted() and broker.is_deleted()


def test_corrupt_db_raises(tmp_path):
    path = tmp_path / 'bad.db'
    path.write_bytes(b'this is not sqlite' * 100)
    broker = ContainerBroker(str(path), 'a', 'c')
    with pytest.raises(sqlite3.DatabaseError):
        broker.get_info()


# -- the pending file ---------------------------------------------------------
def sql_rows(broker):
    """Rows really in SQLite (no pending merge), via a separate connection."""
    conn = sqlite3.connect(broker.db_file)
    try:
        return conn.execute('SELECT name FROM %s ORDER BY name'
                            % broker.item_table).fetchall()
    finally:
        conn.close()


def test_put_object_only_appends_until_read(tmp_path):
    broker = make_cb(tmp_path)
    assert os.path.getsize(broker.pending.path) == 0  # made with the DB
    broker.put_object('o1', '2', 10, 'text/plain', 'e1')
    broker.delete_object('o2', '3')
    assert sql_rows(broker) == []
    assert broker.pending_size() > 0
    info = broker.get_info()      # HEAD counters include pending rows
    assert (info['object_count'], info['bytes_used']) == (1, 10)
    assert sql_rows(broker) == [('o1',), ('o2',)]
    assert broker.pending_size() == 0


def test_stale_info_does_not_merge(tmp_path):
    broker = make_cb(tmp_path)
    broker.put_object('o1', '2', 10, 'text/plain', 'e1')
    assert broker.get_info(fresh=False)['object_count'] == 0
    assert broker.pending_size() > 0


def test_listing_and_replication_include_pending(tmp_path):
    broker = make_cb(tmp_path)
    broker.put_object('b', '2', 1, 't', 'e')
    assert [r[0] for r in broker.list_objects_iter(10)] == ['b']
    broker.put_object('a', '3', 1, 't', 'e')
    assert [r['name'] for r in broker.get_items_since(-1, 10)] == ['b', 'a']
    broker.put_object('c', '4', 1, 't', 'e')
    assert broker.get_max_row() == 3
    broker.put_object('d', '5', 1, 't', 'e')
    rinfo = broker.get_replication_info()
    assert rinfo['count'] == 4 and rinfo['object_count'] == 4
    assert rinfo['max_row'] == 4


def test_torn_records_are_skipped(tmp_path):
    broker = make_cb(tmp_path)
    broker.put_object('good1', '2', 1, 't', 'e')
    with open(broker.pending.path, 'ab') as fp:
        fp.write(b'\n["torn", "000')     # a crash mid-write
    broker.put_object('good2', '3', 2, 't', 'e')   # appended after it
    with open(broker.pending.path, 'ab') as fp:
        fp.write(b'\n{"not": "a record"}\n\n["x"]\n\n["last", "00')
    assert broker.commit_pending() == 2
    assert sql_rows(broker) == [('good1',), ('good2',)]
    assert broker.get_info()['bytes_used'] == 3
    assert broker.pending_size() == 0


def test_odd_names_round_trip(tmp_path):
    broker = make_cb(tmp_path)
    names = ['new\nline', 'uni\u00e9\U0001f600', 'quote"back\\slash']
    for i, name in enumerate(names):
        broker.put_object(name, str(2 + i), i, 'text/plain', 'e')
    assert sorted(r[0] for r in broker.list_objects_iter(10)) == \
        sorted(names)


def test_pending_cap_merges_on_append(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'x' / 'c.db'), 'a', 'c',
                             fsync=False, pending_cap=400)
    broker.initialize('1')
    for i in range(20):
        broker.put_object('o%02d' % i, str(2 + i), 1, 't', 'e')
        assert broker.pending_size() <= 400
    # merges happened on the way, without any read
    assert 0 < len(sql_rows(broker)) < 20
    assert broker.get_info()['object_count'] == 20


def test_pending_cap_zero_merges_at_once(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'x' / 'c.db'), 'a', 'c',
                             fsync=False, pending_cap=0)
    broker.initialize('1')
    broker.put_object('o', '2', 1, 't', 'e')
    assert sql_rows(broker) == [('o',)] and broker.pending_size() == 0


class SlowMergeBroker(ContainerBroker):
    """Its merges hold the locks for ``merge_delay`` seconds."""
    merge_delay = 0.6

    def _merge_rows(self, conn, items):
        self.merge_started = time.time()
        time.sleep(self.merge_delay)
        return super()._merge_rows(conn, items)


def test_append_during_merge_is_not_lost(tmp_path):
    """A record appended by another process while a merge holds the lock
    waits, then lands in the truncated file and is merged later."""
    broker = SlowMergeBroker(str(tmp_path / 'x' / 'c.db'), 'a', 'c',
                             fsync=False)
    broker.initialize('1')
    broker.put_object('first', '2', 1, 't', 'e')
    script = textwrap.dedent('''
        import os, sys, time
        from objproxy.storage.container_broker import ContainerBroker
        b = ContainerBroker(sys.argv[1], 'a', 'c', fsync=False)
        print('ready', flush=True)
        while not os.path.exists(sys.argv[2]):  # the merge has begun
            time.sleep(0.005)
        start = time.time()
        b.put_object('second', '3', 2, 't', 'e')
        print(time.time() - start, flush=True)
        ''')
    flag = str(tmp_path / 'merging')
    child = subprocess.Popen([sys.executable, '-c', script, broker.db_file,
                              flag], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b'ready'
        orig = broker._merge_rows

        def merge_and_signal(conn, items):
            open(flag, 'w').close()
            return orig(conn, items)
        broker._merge_rows = merge_and_signal
        assert broker.commit_pending() == 1
        waited = float(child.communicate(timeout=30)[0])
    finally:
        if child.poll() is None:
            child.kill()
    del broker._merge_rows
    assert sql_rows(broker) == [('first',)]
    assert waited > 0.1          # it really waited for the merge's lock
    assert broker.pending_size() > 0
    assert broker.commit_pending() == 1
    assert sql_rows(broker) == [('first',), ('second',)]


def test_lock_timeout(tmp_path):
    broker = make_cb(tmp_path)
    broker.pending.timeout = 0.05
    broker.put_object('o', '2', 1, 't', 'e')
    with open(broker.pending.path, 'rb') as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(LockTimeout):
            broker.put_object('p', '3', 1, 't', 'e')
        with pytest.raises(LockTimeout):
            broker.commit_pending()
        # stale reads are allowed to carry on
        assert broker.get_info()['object_count'] == 0
    assert broker.get_info()['object_count'] == 1


def test_put_record_needs_the_database(tmp_path):
    broker = ContainerBroker(str(tmp_path / 'x' / 'c.db'), 'a', 'c',
                             fsync=False)
    os.makedirs(broker.db_dir)
    with pytest.raises(DatabaseNotFound):
        broker.put_object('o', '2', 1, 't', 'e')
    assert not os.path.exists(broker.pending.path)
    # a database that arrived without a pending file (replication push)
    broker.initialize('1')
    os.unlink(broker.pending.path)
    assert broker.commit_pending() == 0
    broker.put_object('o', '2', 1, 't', 'e')
    assert broker.get_info()['object_count'] == 1


def test_account_rows_pending(tmp_path):
    broker = make_ab(tmp_path)
    broker.put_container('c1', '1', '0', 3, 30)
    broker.put_container('c2', '1', '0', 1, 5)
    assert sql_rows(broker) == []
    assert not broker.is_deleted(fresh=False)
    info = broker.get_info()
    assert (info['container_count'], info['object_count'],
            info['bytes_used']) == (2, 4, 35)
    broker.put_container('c2', '1', '2', 0, 0)
    assert [r[0] for r in broker.list_containers_iter(10)] == ['c1']


# -- locks never stall the hub ------------------------------------------------
def _hub_safe_broker(tmp_path, offload, timeout):
    broker = ContainerBroker(str(tmp_path / 'x' / 'c.db'), 'a', 'c',
                             fsync=False, timeout=timeout, offload=offload,
                             pending_timeout=timeout)
    broker.initialize('1')
    return broker


@pytest.mark.parametrize('offload', [None, run_in_thread],
                         ids=['inline', 'thread_pool'])
def test_waiting_for_the_write_lock_lets_other_green_threads_run(
        tmp_path, offload):
    """A write that finds the SQLite write lock held by another thread
    waits cooperatively: a green thread ticking every 10 ms keeps ticking,
    and the write goes through once the lock is released."""
    broker = _hub_safe_broker(tmp_path, offload, timeout=5)
    with WriteLockHolder(broker.db_file) as holder, HubWatch() as watch:
        # the holder lets go only after the hub has run for ~0.4 s: if the
        # write blocked the hub, the lock would never be released
        watch.on_tick.append(lambda ticks: ticks >= 40 and holder.release())
        broker.update_metadata({'X-Container-Meta-K': ('v', '2')})
        assert watch.ticks >= 40
    assert watch.max_gap < 0.5
    assert broker.metadata['X-Container-Meta-K'][0] == 'v'


@pytest.mark.parametrize('offload', [None, run_in_thread],
                         ids=['inline', 'thread_pool'])
def test_write_lock_held_too_long_is_a_lock_timeout(tmp_path, offload):
    """Past the broker's timeout the write gives up with LockTimeout (the
    request's own error), and the hub was never stalled meanwhile."""
    broker = _hub_safe_broker(tmp_path, offload, timeout=0.3)
    with WriteLockHolder(broker.db_file), HubWatch() as watch:
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            broker.update_put_timestamp('5')
        assert time.monotonic() - start < 3
        with pytest.raises(LockTimeout):
            broker.merge_items([obj('o', '2')])
    assert watch.max_gap < 0.5
    assert broker.get_info()['put_timestamp'] == '0000000001.00000'


def test_append_does_not_wait_for_a_merge_waiting_for_the_database(
        tmp_path):
    """A merge of the pending file takes the database write lock before
    the pending file's lock, so while it waits for a busy database an
    append (an object update) still goes through at once."""
    attempts = []

    def offload(func, *args):
        result = run_in_thread(func, *args)
        attempts.append(result)
        return result
    broker = _hub_safe_broker(tmp_path, offload, timeout=5)
    broker.put_object('first', '2', 1, 't', 'e')
    other = ContainerBroker(broker.db_file, 'a', 'c', fsync=False,
                            timeout=5, pending_timeout=1,
                            offload=run_in_thread)
    with WriteLockHolder(broker.db_file) as holder, HubWatch() as watch:
        del attempts[:]
        merging = eventlet.spawn(broker.commit_pending)
        while not attempts and not merging.dead:
            eventlet.sleep(0.005)         # until the merge found it busy
        assert not merging.dead
        start = time.monotonic()
        other.put_object('second', '3', 1, 't', 'e')
        appended_in = time.monotonic() - start
        holder.release()
        assert merging.wait() == 2
    assert appended_in < 0.3
    assert watch.max_gap < 0.5
    assert sql_rows(broker) == [('first',), ('second',)]


def test_emptiness_is_never_judged_on_stale_rows(tmp_path):
    """empty() (what a DELETE checks) merges the pending rows first; when
    it cannot, it fails instead of calling a container with queued rows
    empty."""
    broker = _hub_safe_broker(tmp_path, None, timeout=0.2)
    broker.put_object('o', '2', 1, 't', 'e')
    with FlockHolder(broker.pending.path):
        with pytest.raises(LockTimeout):
            broker.empty()
    assert not broker.empty()


def test_listing_of_a_busy_database_is_served_stale(tmp_path):
    """As Swift: a listing whose pending rows cannot be merged in time
    shows what SQLite holds instead of failing."""
    broker = _hub_safe_broker(tmp_path, None, timeout=0.2)
    broker.merge_items([obj('merged', '2')])
    broker.put_object('queued', '3', 1, 't', 'e')
    with WriteLockHolder(broker.db_file):
        assert names(broker.list_objects_iter(10)) == ['merged']
    assert names(broker.list_objects_iter(10)) == ['merged', 'queued']


def test_connections_have_no_sqlite_busy_timeout(tmp_path):
    """SQLite's own busy handler would sleep in C on the calling thread
    (the hub): connections must fail at once and let the broker wait."""
    broker = make_cb(tmp_path)
    assert broker.run_read(
        lambda conn: conn.execute('PRAGMA busy_timeout').fetchone()[0]) == 0

