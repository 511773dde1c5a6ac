"""The per-device expiry queue: entries are durable, found when due, and
never found early."""
import json
import os

from objproxy.storage import expiry_queue


def test_an_entry_is_found_once_its_time_has_come(tmp_path):
    expiry_queue.enqueue(str(tmp_path), 7200 + 5, 'abc', 3, 'AUTH_a', 'c',
                         'o', fsync=False)
    assert list(expiry_queue.due_entries(str(tmp_path), 7200 + 4)) == []
    [entry] = expiry_queue.due_entries(str(tmp_path), 7200 + 5)
    assert (entry.account, entry.container, entry.obj, entry.partition,
            entry.delete_at) == ('AUTH_a', 'c', 'o', '3', 7205)


def test_entries_come_oldest_first_across_hour_buckets(tmp_path):
    for delete_at, name in ((10000, 'late'), (3601, 'early'),
                            (3700, 'middle')):
        expiry_queue.enqueue(str(tmp_path), delete_at, name, 1, 'a', 'c',
                             name, fsync=True)
    names = [e.obj for e in expiry_queue.due_entries(str(tmp_path), 20000)]
    assert names == ['early', 'middle', 'late']


def test_queueing_the_same_expiry_again_keeps_one_entry(tmp_path):
    for _ in range(2):
        expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                             fsync=False)
    assert len(list(expiry_queue.due_entries(str(tmp_path), 6000))) == 1


def test_a_removed_entry_is_gone_and_its_empty_bucket_is_pruned(tmp_path):
    expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                         fsync=False)
    for entry in expiry_queue.due_entries(str(tmp_path), 6000):
        entry.remove()
    assert list(expiry_queue.due_entries(str(tmp_path), 6000)) == []
    assert os.listdir(tmp_path / expiry_queue.QUEUE_DIR) == []


def test_an_unreadable_entry_is_reported_and_skipped(tmp_path):
    path = expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                                fsync=False)
    with open(path, 'w') as fp:
        fp.write('{not json')
    expiry_queue.enqueue(str(tmp_path), 5001, 'g', 1, 'a', 'c', 'p',
                         fsync=False)
    bad = []
    found = list(expiry_queue.due_entries(
        str(tmp_path), 6000, lambda p, err: bad.append(p)))
    assert [e.obj for e in found] == ['p'] and bad == [path]


def test_names_outside_ascii_round_trip(tmp_path):
    expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'AUTH_a', 'c\u00e9',
                         'o/\u2603', fsync=False)
    [entry] = expiry_queue.due_entries(str(tmp_path), 6000)
    assert (entry.container, entry.obj) == ('c\u00e9', 'o/\u2603')
    with open(entry.path, 'rb') as fp:
        assert json.loads(fp.read())['obj'] == 'o/\u2603'


def test_an_entry_keeps_the_timestamp_of_the_state_that_set_the_expiry(
        tmp_path):
    expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                         fsync=False, timestamp='0000004000.12345')
    [entry] = expiry_queue.due_entries(str(tmp_path), 6000)
    assert entry.timestamp.internal == '0000004000.12345'


def test_queueing_again_with_a_newer_state_rewrites_the_one_entry(tmp_path):
    for stamp in ('0000004000.00000', '0000004500.00000'):
        expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                             fsync=False, timestamp=stamp)
    [entry] = expiry_queue.due_entries(str(tmp_path), 6000)
    assert entry.timestamp.internal == '0000004500.00000'


def test_an_entry_from_before_timestamps_were_recorded_has_none(tmp_path):
    expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                         fsync=False)
    [entry] = expiry_queue.due_entries(str(tmp_path), 6000)
    assert entry.timestamp is None


def test_an_entry_with_a_bad_timestamp_is_reported_not_fatal(tmp_path):
    path = expiry_queue.enqueue(str(tmp_path), 5000, 'h', 1, 'a', 'c', 'o',
                                fsync=False, timestamp='1e999')
    bad = []
    assert list(expiry_queue.due_entries(
        str(tmp_path), 6000, lambda p, err: bad.append(p))) == []
    assert bad == [path]
