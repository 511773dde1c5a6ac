import os
import sqlite3

import pytest

from objproxy.storage.db_connection import (
    DatabaseNotFound, SqliteAccess, is_busy_error)
from objproxy.storage.db_pending import LockTimeout


class Db(SqliteAccess):
    def __init__(self, path, timeout=0.2):
        SqliteAccess.__init__(self)
        self.db_file = path
        self.fsync = False
        self.timeout = timeout

    def exists(self):
        return os.path.exists(self.db_file)


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / 'x.db')
    conn = sqlite3.connect(path)
    conn.execute('PRAGMA journal_mode = WAL')
    conn.execute('CREATE TABLE t (v INTEGER)')
    conn.commit()
    conn.close()
    return Db(path)


def test_reads_and_writes_go_through_one_connection(db):
    db.run_write(lambda conn: conn.execute('INSERT INTO t VALUES (1)'))
    assert db.run_read(
        lambda conn: conn.execute('SELECT v FROM t').fetchall()) == [(1,)]
    db.close()
    assert db._conn is None


def test_a_held_write_lock_ends_in_lock_timeout_not_a_freeze(db):
    holder = sqlite3.connect(db.db_file, isolation_level=None)
    holder.execute('BEGIN IMMEDIATE')
    try:
        with pytest.raises(LockTimeout):
            db.run_write(lambda conn: conn.execute('INSERT INTO t VALUES (2)'))
    finally:
        holder.execute('ROLLBACK')
        holder.close()


def test_a_missing_database_is_not_created(tmp_path):
    with pytest.raises(DatabaseNotFound):
        Db(str(tmp_path / 'none.db')).run_read(lambda conn: None)


def test_busy_errors_are_told_apart():
    assert is_busy_error(sqlite3.OperationalError('database is locked'))
    assert not is_busy_error(sqlite3.OperationalError('no such table: t'))
    assert not is_busy_error(ValueError('locked'))


def test_a_connection_is_used_by_one_call_at_a_time_and_closed_when_idle(
        db):
    """sqlite3 connections crash the process when two threads use one at
    once: while a call holds the connection another call is told "busy"
    (and retries), and a close waits until the holder is done."""
    db.run_read(lambda conn: conn.execute('SELECT 1').fetchall())
    assert db._conn is not None
    db._conn_lock.acquire()              # a call in another thread
    try:
        assert db._exclusive(lambda: (True, 'ran'), ()) == (False, None)
        db.close()
        assert db._conn is not None      # still in use: not closed yet
    finally:
        db._conn_lock.release()
    assert db._exclusive(lambda: (True, 'ran'), ()) == (True, 'ran')
    assert db._conn is None              # closed by the call that held it
