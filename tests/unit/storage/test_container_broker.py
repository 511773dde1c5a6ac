"""A container database on a real SQLite file: which object row wins,
the counters kept with it, and what the container reports to its account."""
import random

import pytest

from objproxy.storage.container_broker import ContainerBroker


@pytest.fixture
def broker(tmp_path):
    b = ContainerBroker(str(tmp_path / 'cont' / 'c.db'), 'AUTH_a', 'c',
                        fsync=False)
    b.initialize('1')
    return b


def row(name, ts, size=1, etag='e', deleted=0, ctype='text/plain'):
    return {'name': name, 'created_at': ts, 'size': size,
            'content_type': ctype, 'etag': etag, 'deleted': deleted}


def stored(broker):
    return sorted((r['name'], r['created_at'], r['size'], r['etag'],
                   r['deleted']) for r in broker.get_items_since(-1, 100))


def counters(broker):
    info = broker.get_info()
    return info['object_count'], info['bytes_used']


def test_replacing_an_object_moves_its_bytes(broker):
    broker.put_object('o', '2', 10, 'text/plain', 'e1')
    broker.put_object('p', '2', 5, 'text/plain', 'e2')
    assert counters(broker) == (2, 15)
    broker.put_object('o', '3', 100, 'text/plain', 'e3')
    assert counters(broker) == (2, 105)
    broker.delete_object('p', '4')
    assert counters(broker) == (1, 100)


def test_delete_row_keeps_a_tombstone_for_replication(broker):
    broker.put_object('o', '2', 10, 'text/plain', 'e')
    broker.delete_object('o', '3')
    assert stored(broker) == [('o', '0000000003.00000', 0, 'noetag', 1)]
    assert broker.list_objects_iter(10) == []


def test_at_one_timestamp_the_same_row_wins_in_any_order(tmp_path):
    """Replicas that saw a PUT and a DELETE of one instant converge."""
    same_instant = [row('o', '5', size=3, etag='a'),
                    row('o', '5', size=0, etag='noetag', deleted=1),
                    row('o', '5', size=7, etag='b')]
    results = set()
    for seed in range(4):
        shuffled = list(same_instant)
        random.Random(seed).shuffle(shuffled)
        b = ContainerBroker(str(tmp_path / ('%d.db' % seed)), 'AUTH_a', 'c',
                            fsync=False)
        b.initialize('1')
        for item in shuffled:
            b.merge_items([item])
        results.add((tuple(stored(b)), counters(b), b.get_info()['hash']))
    assert len(results) == 1
    assert list(results)[0][0][0][-1] == 1      # the delete won


def test_newest_row_in_one_batch_wins(broker):
    broker.merge_items([row('o', '3', size=3), row('o', '4', size=4),
                        row('o', '2', size=2)])
    assert stored(broker) == [('o', '0000000004.00000', 4, 'e', 0)]
    assert counters(broker) == (1, 4)


def test_older_row_is_ignored_and_writes_nothing(broker):
    broker.merge_items([row('o', '4', size=4)])
    before = (broker.get_max_row(), broker.get_info()['hash'])
    broker.merge_items([row('o', '3', size=99)])
    assert (broker.get_max_row(), broker.get_info()['hash']) == before
    assert counters(broker) == (1, 4)


def test_reclaim_drops_only_old_tombstones(broker):
    broker.merge_items([row('gone', '2', deleted=1), row('late', '9',
                                                        deleted=1),
                        row('live', '1', size=3)])
    broker.reclaim('5')
    assert [r[0] for r in stored(broker)] == ['late', 'live']
    assert counters(broker) == (1, 3)


def test_listing_columns_and_subdirs(broker):
    broker.merge_items([row('d/1', '2', size=1, etag='x'),
                        row('d/2', '2', size=2, etag='y'),
                        row('top', '3', size=3, etag='z', ctype='a/b')])
    assert broker.list_objects_iter(10, delimiter='/') == [
        ('d/', None, None, None, None),
        ('top', '0000000003.00000', 3, 'a/b', 'z')]


def test_container_with_objects_is_not_deleted_by_a_newer_delete(broker):
    broker.put_object('o', '2', 1, 'text/plain', 'e')
    broker.merge_timestamps('1', '1', '5')
    assert not broker.is_deleted()
    broker.delete_object('o', '6')
    assert broker.is_deleted()


def test_empty_counts_objects_still_in_the_pending_file(broker):
    assert broker.empty()
    broker.put_object('o', '2', 1, 'text/plain', 'e')
    assert broker.pending_size() > 0
    assert not broker.empty()


def test_account_targets_round_trip(broker):
    assert broker.get_account_targets() == []
    targets = [('10.0.0.1:6202', '12', 'sda'), ('10.0.0.2:6202', '12',
                                                'sdb')]
    broker.set_account_targets(targets)
    assert broker.get_account_targets() == targets


def test_unreadable_account_targets_read_as_none(broker):
    broker.run_write(lambda conn: conn.execute(
        "UPDATE container_stat SET account_targets = '[not json'"))
    assert broker.get_account_targets() == []


def test_needs_report_until_the_account_acknowledges_the_stats(broker):
    broker.put_object('o', '2', 7, 'text/plain', 'e')
    needs, stats = broker.report_state()
    assert needs
    assert stats == {'put_timestamp': '0000000001.00000',
                     'delete_timestamp': '0000000000.00000',
                     'object_count': 1, 'bytes_used': 7}
    broker.reported(stats['put_timestamp'], stats['delete_timestamp'],
                    stats['object_count'], stats['bytes_used'])
    assert broker.report_state() == (False, stats)
    broker.delete_db('3')
    assert broker.report_state()[0]
