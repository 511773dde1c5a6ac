"""listing_rows on a plain SQLite table: markers, delimiters, path=."""
import sqlite3

import pytest

from objproxy.storage.listing_query import listing_rows


@pytest.fixture
def conn():
    db = sqlite3.connect(':memory:')
    db.execute('CREATE TABLE item (name TEXT, deleted INTEGER DEFAULT 0)')
    db.execute('CREATE INDEX ix ON item (deleted, name)')
    yield db
    db.close()


def fill(db, names):
    db.executemany('INSERT INTO item (name) VALUES (?)',
                   [(n,) for n in names])


def names(db, limit=100, marker='', end_marker='', prefix='', delimiter='',
          reverse=False, path=None):
    rows = listing_rows(db, 'item', ('name',), limit, marker, end_marker,
                        prefix, delimiter, reverse, path,
                        lambda n: (n + ' (subdir)',))
    return [r[0] for r in rows]


def test_multi_character_delimiter(conn):
    fill(conn, ['test', 'test-&bar', 'test-&foo', "test-'baz", 'test-'])
    assert names(conn, delimiter='-&') == [
        'test', 'test-', 'test-& (subdir)', "test-'baz"]
    assert names(conn, delimiter='-&', reverse=True) == [
        "test-'baz", 'test-& (subdir)', 'test-', 'test']
    # a page that ended on the subdir does not repeat it
    assert names(conn, delimiter='-&', marker='test-&') == ["test-'baz"]
    assert names(conn, delimiter='-&', reverse=True, end_marker='test-&') \
        == ["test-'baz"]
    assert names(conn, delimiter='-&', prefix='test-&') == [
        'test-&bar', 'test-&foo']


def test_reverse_markers_with_nul_are_inclusive_bounds(conn):
    fill(conn, ['A', 'B2', 'a1', 'b1', 'b2', 'c'])
    # marker 'b1\x00' is just past 'b1'; end_marker 'B1' is just before 'B2'
    # (binary order: upper case sorts first)
    assert names(conn, reverse=True, marker='b1\x00', end_marker='B1') == [
        'b1', 'a1', 'B2']
    assert names(conn, marker='B2\x00', end_marker='b1\x00') == ['a1', 'b1']


def test_path_lists_direct_children_without_the_directory_marker(conn):
    fill(conn, ['/dir1/', '/dir1/file2', '/dir1/sub/', '/dir1/sub/f',
                '/file1', 'dir1/', 'dir1/file2', 'dir1/sub/', 'dir1/sub/f',
                'file1'])
    assert names(conn, path='') == ['dir1/', 'file1']
    assert names(conn, path='/') == ['/dir1/', '/file1']
    for path in ('/dir1', '/dir1/'):
        assert names(conn, path=path) == ['/dir1/file2', '/dir1/sub/']
    assert names(conn, path='dir1/') == ['dir1/file2', 'dir1/sub/']
    assert names(conn, path='dir1/sub') == ['dir1/sub/f']
    assert names(conn, path='dir1', reverse=True) == [
        'dir1/sub/', 'dir1/file2']
    assert names(conn, path='nothing') == []


def test_path_traversal_terminates(conn):
    stored = ['a/', 'a/b/', 'a/b/c', 'a/d', 'e']
    fill(conn, stored)
    found = []

    def walk(path, depth=0):
        assert depth < 5
        for name in names(conn, path=path):
            assert name.startswith(path) and name != path
            found.append(name)
            if name.endswith('/'):
                walk(name, depth + 1)
    walk('')
    assert sorted(found) == stored


def test_limit_counts_subdirs_and_rows(conn):
    fill(conn, ['a-1', 'a-2', 'b', 'c-1', 'd'])
    assert names(conn, limit=2, delimiter='-') == ['a- (subdir)', 'b']
    assert names(conn, limit=2, delimiter='-', marker='b') == [
        'c- (subdir)', 'd']
