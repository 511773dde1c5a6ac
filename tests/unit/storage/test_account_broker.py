"""An account database on a real SQLite file: how container reports
merge, when a container counts as deleted, and the totals that follow."""
import pytest

from objproxy.storage.account_broker import AccountBroker, _fold


@pytest.fixture
def broker(tmp_path):
    b = AccountBroker(str(tmp_path / 'acct' / 'a.db'), 'AUTH_a', fsync=False)
    b.initialize('1')
    return b


def totals(broker):
    info = broker.get_info()
    return (info['container_count'], info['object_count'],
            info['bytes_used'])


def rows(broker):
    return sorted((r['name'], r['put_timestamp'], r['delete_timestamp'],
                   r['object_count'], r['bytes_used'], r['deleted'])
                  for r in broker.get_items_since(-1, 100))


def report(name, put_ts, delete_ts, count=0, used=0):
    return {'name': name, 'put_timestamp': put_ts,
            'delete_timestamp': delete_ts, 'object_count': count,
            'bytes_used': used}


# -- _fold: merging two reports of one container ------------------------------
def test_fold_keeps_the_newest_of_each_timestamp():
    assert _fold(['3', '1', 5, 50], ['2', '4', 0, 0])[:2] == ['3', '4']


def test_fold_takes_counters_of_the_newer_report():
    assert _fold(['1', '0', 5, 50], ['2', '0', 7, 70]) == ['2', '0', 7, 70]


def test_fold_ignores_counters_of_a_report_stale_on_both_timestamps():
    assert _fold(['2', '1', 5, 50], ['1', '1', 9, 90]) == ['2', '1', 5, 50]
    assert _fold(['1', '2', 0, 0], ['1', '1', 9, 90]) == ['1', '2', 0, 0]


def test_fold_of_a_report_with_equal_timestamps_refreshes_counters():
    """The same container re-reporting new counts keeps its timestamps."""
    assert _fold(['2', '1', 5, 50], ['2', '1', 6, 60]) == ['2', '1', 6, 60]


# -- rows and totals ----------------------------------------------------------
def test_totals_follow_reports_and_deletes(broker):
    broker.put_container('c1', '2', '0', 3, 30)
    broker.put_container('c2', '2', '0', 1, 10)
    assert totals(broker) == (2, 4, 40)
    broker.put_container('c1', '2', '0', 5, 50)
    assert totals(broker) == (2, 6, 60)
    broker.put_container('c2', '2', '3', 0, 0)
    assert totals(broker) == (1, 5, 50)
    assert [r[0] for r in broker.list_containers_iter(10)] == ['c1']


def test_delete_of_a_container_still_holding_objects_keeps_it_listed(broker):
    """Only an emptied container whose delete is newest is a deleted row."""
    broker.put_container('c', '2', '3', 4, 40)
    assert totals(broker) == (1, 4, 40)
    assert rows(broker)[0][-1] == 0


def test_late_stale_report_does_not_resurrect_a_deleted_container(broker):
    broker.put_container('c', '2', '3', 0, 0)
    broker.put_container('c', '2', '0', 8, 80)
    assert totals(broker) == (0, 0, 0)
    assert rows(broker) == [('c', '0000000002.00000', '0000000003.00000',
                             0, 0, 1)]


def test_duplicates_in_one_batch_fold_like_separate_merges(tmp_path):
    reports = [report('c', '2', '0', 3, 30), report('c', '4', '0', 1, 1),
               report('c', '1', '3', 0, 0), report('d', '2', '0', 1, 2)]
    one = AccountBroker(str(tmp_path / 'one.db'), 'AUTH_a', fsync=False)
    one.initialize('1')
    one.merge_items(reports)
    many = AccountBroker(str(tmp_path / 'many.db'), 'AUTH_a', fsync=False)
    many.initialize('1')
    for item in reports:
        many.merge_items([item])
    assert rows(one) == rows(many)
    assert totals(one) == totals(many) == (2, 1, 2)
    assert one.get_info()['hash'] == many.get_info()['hash']


def test_repeating_a_report_changes_nothing(broker):
    broker.merge_items([report('c', '2', '0', 3, 30)])
    before = (rows(broker), broker.get_info()['hash'], broker.get_max_row())
    broker.merge_items([report('c', '2', '0', 3, 30)])
    assert (rows(broker), broker.get_info()['hash'],
            broker.get_max_row()) == before


def test_reclaim_drops_only_old_deleted_containers(broker):
    broker.put_container('old', '1', '2', 0, 0)
    broker.put_container('recent', '1', '9', 0, 0)
    broker.put_container('live', '5', '0', 1, 1)
    broker.reclaim('5')
    assert [r[0] for r in rows(broker)] == ['live', 'recent']


def test_listing_rolls_up_subdirs_and_reports_columns(broker):
    broker.merge_items([report('a/1', '2', '0', 1, 10),
                        report('a/2', '2', '0', 1, 10),
                        report('b', '3', '0', 2, 20)])
    listing = broker.list_containers_iter(10, delimiter='/')
    assert listing == [('a/', None, None, None),
                       ('b', 2, 20, '0000000003.00000')]
    assert broker.list_containers_iter(10, prefix='a/', reverse=True) == [
        ('a/2', 1, 10, '0000000002.00000'),
        ('a/1', 1, 10, '0000000002.00000')]


# -- account state ------------------------------------------------------------
def test_account_with_newer_delete_and_no_containers_is_deleted(broker):
    assert not broker.is_deleted()
    broker.merge_timestamps('1', '1', '5')
    assert broker.is_deleted()


def test_account_with_containers_is_not_deleted_by_a_delete_timestamp(
        broker):
    broker.put_container('c', '2', '0', 0, 0)
    broker.merge_timestamps('1', '1', '5')
    assert not broker.is_deleted()


def test_empty_counts_containers_still_in_the_pending_file(broker):
    assert broker.empty()
    broker.put_container('c', '2', '0', 0, 0)
    assert broker.pending_size() > 0
    assert not broker.empty()
