"""PendingFile: appends, merges, torn records and its flock."""
import os
import threading
import time

import pytest

from objproxy.storage.db_pending import LockTimeout, PendingFile
from tests.unit.storage.hub_watch import FlockHolder, HubWatch

FIELDS = ('name', 'size')


def make(tmp_path, cap=1 << 20, timeout=2.0):
    pending = PendingFile(str(tmp_path / 'db.pending'), FIELDS, cap,
                          timeout)
    pending.create()
    return pending


def test_append_then_merge_all_empties_the_file(tmp_path):
    pending = make(tmp_path)
    assert pending.append({'name': 'a', 'size': 1}, lambda: True)
    assert pending.append({'name': 'b', 'size': 2}, lambda: True)
    merged = []
    assert pending.merge_all(merged.extend) == 2
    assert merged == [{'name': 'a', 'size': 1}, {'name': 'b', 'size': 2}]
    assert pending.size() == 0


def test_a_full_file_takes_nothing_and_says_so(tmp_path):
    pending = make(tmp_path, cap=40)
    assert pending.append({'name': 'a', 'size': 1}, lambda: True)
    before = pending.size()
    assert not pending.append({'name': 'b' * 30, 'size': 2}, lambda: True)
    assert pending.size() == before
    merged = []
    assert pending.merge_all(merged.extend,
                             extra=[{'name': 'b', 'size': 2}]) == 2
    assert [m['name'] for m in merged] == ['a', 'b']


def test_a_failed_merge_keeps_every_record(tmp_path):
    """The file is emptied only after the merge committed."""
    pending = make(tmp_path)
    pending.append({'name': 'a', 'size': 1}, lambda: True)

    def fail(items):
        raise RuntimeError('disk trouble')
    with pytest.raises(RuntimeError):
        pending.merge_all(fail)
    merged = []
    assert pending.merge_all(merged.extend) == 1
    assert merged[0]['name'] == 'a'


def test_missing_file_merges_only_the_extra_items(tmp_path):
    pending = PendingFile(str(tmp_path / 'none.pending'), FIELDS)
    merged = []
    assert pending.merge_all(merged.extend) == 0
    assert pending.merge_all(merged.extend,
                             extra=[{'name': 'x', 'size': 0}]) == 1
    assert merged == [{'name': 'x', 'size': 0}]
    with pytest.raises(FileNotFoundError):
        pending.append({'name': 'y', 'size': 0}, lambda: False)


def test_torn_record_is_skipped(tmp_path):
    pending = make(tmp_path)
    pending.append({'name': 'a', 'size': 1}, lambda: True)
    with open(pending.path, 'ab') as fp:
        fp.write(b'\n["torn", 3')
    pending.append({'name': 'b', 'size': 2}, lambda: True)
    merged = []
    pending.merge_all(merged.extend)
    assert [m['name'] for m in merged] == ['a', 'b']


def test_locked_file_is_waited_for_cooperatively(tmp_path):
    """While someone else holds the flock, an append polls with green
    sleeps: a green thread ticking every 10 ms keeps ticking, and the
    append lands once the lock is released."""
    pending = make(tmp_path)
    with FlockHolder(pending.path) as holder, HubWatch() as watch:
        watch.on_tick.append(lambda ticks: ticks >= 30 and holder.release())
        assert pending.append({'name': 'a', 'size': 1}, lambda: True)
        assert watch.ticks >= 30
    assert watch.max_gap < 0.5
    assert pending.merge_all(list) == 1


def test_lock_held_too_long_is_a_lock_timeout(tmp_path):
    pending = make(tmp_path, timeout=0.2)
    with FlockHolder(pending.path), HubWatch() as watch:
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            pending.append({'name': 'a', 'size': 1}, lambda: True)
        with pytest.raises(LockTimeout):
            pending.merge_all(list)
        assert time.monotonic() - start < 3
    assert watch.max_gap < 0.5
    assert pending.size() == 0


def test_lock_wait_in_an_os_thread_needs_no_hub(tmp_path):
    """In a thread-pool thread (a merge runs there) the wait is a plain
    sleep of that thread, never a green sleep on a hub of its own."""
    pending = make(tmp_path, timeout=0.2)
    errors = []

    def append():
        try:
            pending.append({'name': 'a', 'size': 1}, lambda: True)
        except LockTimeout as err:
            errors.append(err)
    with FlockHolder(pending.path):
        thread = threading.Thread(target=append)
        thread.start()
        thread.join(10)
    assert len(errors) == 1
    assert os.path.getsize(pending.path) == 0
