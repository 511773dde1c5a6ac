"""DBServer, the request plumbing the container and account servers share:
path checks, header parsing, metadata limits, the mapping of failures to
answers, and merging rows left in pending files.

``Probe`` is a DBServer whose handlers do what a test asks (raise a given
error, parse given headers); the real ContainerServer is used where a
database is needed.
"""
import os
import sqlite3

import pytest
from webob import Request

from objproxy.common.exceptions import ConfigError
from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage.container_server import ContainerServer
from objproxy.storage.db_connection import DatabaseNotFound
from objproxy.storage.db_pending import LockTimeout
from objproxy.storage.db_server import (
    BUSY_HEADER, DBServer, HTTPError, busy_response, plain_response,
    stored_metadata_error)
from objproxy.storage.listing import ListingError


class Probe(DBServer):
    server_type = 'container'
    datadir = 'containers'
    save_headers = ('x-container-read',)
    allowed_methods = ('GET', 'PUT', 'POST', 'DELETE')

    def __init__(self, conf, logger=None):
        super().__init__(conf, logger)
        self.error = None
        self.parsed = None

    def handle_GET(self, req):
        raise self.error

    def handle_PUT(self, req):
        self.parsed = self.split(req, 3, 5)
        return plain_response(201)

    def handle_POST(self, req):
        ts = self.timestamp(req)
        self.parsed = (ts, self.timestamp(req, 'X-Other', required=False),
                       self.int_header(req, 'X-Count'),
                       self.int_header(req, 'X-Size', default=7),
                       self.metadata_from(req, ts))
        return plain_response(204)

    def handle_DELETE(self, req):
        return plain_response(204)

    def handle_HEAD(self, req):     # defined but not allowed
        return plain_response(204)


class Lines(object):
    def __init__(self):
        self.lines = []

    def _log(self, level, msg, *args):
        self.lines.append((level, msg % args))

    def warning(self, msg, *args):
        self._log('warning', msg, *args)

    def error(self, msg, *args):
        self._log('error', msg, *args)

    def exception(self, msg, *args):
        self._log('exception', msg, *args)


@pytest.fixture
def devices(tmp_path):
    set_hash_config('test-prefix', 'test-suffix')
    (tmp_path / 'sda').mkdir()
    return tmp_path


@pytest.fixture
def probe(devices):
    return Probe({'devices': str(devices), 'fsync': 'false'},
                 logger=Lines())


@pytest.fixture
def containers(devices):
    return ContainerServer({'devices': str(devices), 'fsync': 'false',
                            'log_address': '/nonexistent'})


def call(app, path, method='GET', headers=None):
    return Request.blank(path, environ={'REQUEST_METHOD': method},
                         headers=headers or {}).get_response(app)


# --- answers ------------------------------------------------------------------

def test_plain_response_types_only_answers_with_a_body():
    empty = plain_response(204, headers={'X-A': 1})
    assert empty.get_header('Content-Type') is None
    assert empty.get_header('X-A') == '1'
    text = plain_response(400, 'bad')
    assert text.get_header('Content-Type') == 'text/plain; charset=utf-8'
    listing = plain_response(200, '[]', content_type='application/json')
    assert listing.get_header('Content-Type') == 'application/json'


def test_busy_response_marks_the_node_healthy():
    resp = busy_response()
    assert resp.status_int == 503
    assert resp.get_header(BUSY_HEADER) == 'true'


@pytest.mark.parametrize('method', ['HEAD', 'REPLICATE', 'COPY'])
def test_a_method_not_handled_is_405_with_allow(probe, method):
    resp = call(probe, '/sda/1/a/c', method)
    assert resp.status_int == 405
    assert resp.headers['Allow'] == 'GET, PUT, POST, DELETE'


@pytest.mark.parametrize('error, status, busy', [
    (HTTPError(418, 'teapot', {'X-Why': 'test'}), 418, False),
    (ListingError(412, 'bad marker'), 412, False),
    (DatabaseNotFound('gone'), 404, False),
    (LockTimeout('pending file locked'), 503, True),
    (sqlite3.OperationalError('database is locked'), 503, True),
    (sqlite3.OperationalError('database or disk is full'), 507, False),
    (sqlite3.OperationalError('disk I/O error'), 503, False),
    (sqlite3.DatabaseError('file is not a database'), 500, False),
    (KeyError('bug'), 500, False),
], ids=['http', 'listing', 'not-found', 'lock-timeout', 'sqlite-busy',
        'disk-full', 'io-error', 'corrupt', 'bug'])
def test_failures_become_answers(probe, error, status, busy):
    probe.error = error
    resp = call(probe, '/sda/1/a/c', headers={'X-Trans-Id': 'tx9'})
    assert resp.status_int == status
    assert (resp.headers.get(BUSY_HEADER) == 'true') is busy
    assert resp.headers['X-Trans-Id'] == 'tx9'
    if status >= 500:
        # no traceback or internal detail goes to the caller
        assert b'Traceback' not in resp.body and b'bug' not in resp.body


def test_an_http_error_carries_its_body_and_headers(probe):
    probe.error = HTTPError(418, 'teapot', {'X-Why': 'test'})
    resp = call(probe, '/sda/1/a/c')
    assert resp.body == b'teapot'
    assert resp.headers['X-Why'] == 'test'


def test_unexpected_errors_are_logged(probe):
    probe.error = KeyError('bug')
    call(probe, '/sda/1/a/c')
    probe.error = sqlite3.DatabaseError('file is not a database')
    call(probe, '/sda/1/a/c')
    levels = [level for level, _line in probe.logger.lines]
    assert levels == ['exception', 'error']
    assert 'corrupt database' in probe.logger.lines[1][1]


# --- paths ------------------------------------------------------------------------

def test_split_gives_device_partition_and_names(probe):
    assert call(probe, '/sda/7/a/c/o', 'PUT').status_int == 201
    assert probe.parsed == ['sda', '7', 'a', 'c', 'o']
    assert call(probe, '/sda/7/a', 'PUT').status_int == 201
    assert probe.parsed == ['sda', '7', 'a', None, None]


def test_split_allows_reserved_names(probe):
    assert call(probe, '/sda/1/a/%00versions%00c', 'PUT').status_int == 201
    assert probe.parsed[3] == '\x00versions\x00c'


@pytest.mark.parametrize('path, status', [
    ('/sda/1', 400),
    ('/sda/x/a', 400),
    ('/sda/-1/a', 400),
    ('/sda/%d/a' % 2 ** 32, 400),
    ('/sda/1/a/..', 400),
    ('/sda/1/./c', 400),
    ('/sda/1/a/' + 'c' * 257, 400),
    ('/sd%2Fa/1/a', 400),
    ('/..%2F/1/a', 400),
    ('/sdz/1/a', 507),
])
def test_bad_paths_are_refused(probe, path, status):
    resp = call(probe, path, 'PUT')
    assert resp.status_int == status
    assert probe.parsed is None


def test_mount_check_wants_a_mount_point(devices):
    probe = Probe({'devices': str(devices), 'mount_check': 'true'})
    assert call(probe, '/sda/1/a', 'PUT').status_int == 507


def test_db_path_is_under_the_name_hash(probe, devices):
    name_hash = hash_path('a', 'c')
    assert probe.db_path('sda', '5', 'a', 'c') == os.path.join(
        str(devices), 'sda', 'containers', '5', name_hash[-3:], name_hash,
        name_hash + '.db')
    assert probe.db_path('sda', 5, 'a').endswith(
        hash_path('a') + '.db')


# --- headers -------------------------------------------------------------------------

def post(probe, **headers):
    return call(probe, '/sda/1/a/c', 'POST', headers=headers)


def test_headers_are_parsed(probe):
    resp = post(probe, **{'X-Timestamp': '1700000000.5', 'X-Count': '3',
                          'x-container-meta-colour': 'red',
                          'X-CONTAINER-READ': '.r:*',
                          'X-Container-Sysmeta-Quota': '9',
                          'X-Object-Meta-Not-Mine': 'no'})
    assert resp.status_int == 204
    ts, other, count, size, meta = probe.parsed
    assert ts == Timestamp('1700000000.5') and other is None
    assert (count, size) == (3, 7)
    stamp = ts.internal
    assert meta == {'X-Container-Meta-Colour': ('red', stamp),
                    'X-Container-Read': ('.r:*', stamp),
                    'X-Container-Sysmeta-Quota': ('9', stamp)}


@pytest.mark.parametrize('headers, message', [
    ({}, b'Missing X-Timestamp header'),
    ({'X-Timestamp': 'soon'}, b'Invalid X-Timestamp header'),
    ({'X-Timestamp': '1', 'X-Other': 'x'}, b'Invalid X-Other header'),
    ({'X-Timestamp': '1'}, b'Missing X-Count header'),
    ({'X-Timestamp': '1', 'X-Count': ''}, b'Missing X-Count header'),
    ({'X-Timestamp': '1', 'X-Count': 'two'}, b'Invalid X-Count header'),
    ({'X-Timestamp': '1', 'X-Count': '-1'}, b'Invalid X-Count header'),
    ({'X-Timestamp': '1', 'X-Count': '1', 'X-Size': '-2'},
     b'Invalid X-Size header'),
])
def test_bad_headers_are_400(probe, headers, message):
    resp = post(probe, **headers)
    assert resp.status_int == 400
    assert resp.body == message


def test_an_empty_header_takes_its_default(probe):
    post(probe, **{'X-Timestamp': '1', 'X-Count': '0', 'X-Size': ''})
    assert probe.parsed[2:4] == (0, 7)


def test_metadata_past_swifts_limits_is_400(probe):
    resp = post(probe, **{'X-Timestamp': '1', 'X-Count': '0',
                          'X-Container-Meta-' + 'n' * 129: 'v'})
    assert resp.status_int == 400
    resp = post(probe, **{'X-Timestamp': '1', 'X-Count': '0',
                          'X-Container-Meta-Big': 'v' * 257})
    assert resp.status_int == 400


# --- stored metadata ---------------------------------------------------------------

def test_stored_metadata_error_counts_only_user_metadata_with_values():
    fine = dict(('X-Container-Meta-K%d' % i, ('v', '1')) for i in range(90))
    fine['X-Container-Meta-Cleared'] = ('', '2')
    fine['X-Container-Sysmeta-Lots'] = ('x' * 5000, '1')
    assert stored_metadata_error(fine, 'container') is None
    fine['X-Container-Meta-One-More'] = ('v', '1')
    assert stored_metadata_error(fine, 'container') == \
        'Too many metadata items; max 90'
    big = {'X-Account-Meta-A': ('x' * 4096, '1')}
    assert stored_metadata_error(big, 'account') == \
        'Total metadata too large; max 4096'
    # the name counts too, without its prefix
    exact = {'X-Account-Meta-A': ('x' * 4095, '1')}
    assert stored_metadata_error(exact, 'account') is None


def test_store_metadata_rolls_back_a_merge_past_the_limits(containers):
    broker = containers.get_broker('sda', '1', 'a', 'c')
    ts = Timestamp('1')
    assert containers.create_or_open(broker, ts) is True
    assert containers.create_or_open(broker, ts) is False
    first = dict(('X-Container-Meta-K%d' % i, ('v' * 40, ts.internal))
                 for i in range(60))
    containers.store_metadata(broker, first)
    more = dict(('X-Container-Meta-M%d' % i, ('v' * 40, ts.internal))
                for i in range(40))
    with pytest.raises(HTTPError) as err:
        containers.store_metadata(broker, more)
    assert err.value.status == 400
    stored = containers.open_broker(broker.db_file, 'a', 'c').metadata
    assert sorted(stored) == sorted(first)
    containers.store_metadata(broker, {})
    assert containers.metadata_headers(broker, {
        'X-A': ('1', '1'), 'X-B': ('', '2')}) == {'X-A': '1'}


# --- pending rows --------------------------------------------------------------------

def object_row(server, name, ts):
    return call(server, '/sda/1/a/c/' + name, 'PUT', {
        'X-Timestamp': ts, 'X-Size': '4', 'X-Content-Type': 'text/plain',
        'X-Etag': 'e', 'X-Backend-Layer': 'container'})


def test_rows_left_pending_are_merged_by_commit_pending(containers):
    assert call(containers, '/sda/1/a/c', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    for i, name in enumerate(('o1', 'o2')):
        assert object_row(containers, name, str(2 + i)).status_int == 201
    timer = containers._flusher
    try:
        assert timer is not None and not timer.dead
        assert list(containers._pending.values()) == [('a', 'c')]
        assert containers.commit_pending() == 2
    finally:
        timer.cancel()
    assert containers._pending == {} and containers._flusher is None
    broker = containers.get_broker('sda', '1', 'a', 'c')
    assert broker.get_info()['object_count'] == 2
    assert containers.commit_pending() == 0


def test_no_timer_when_pending_rows_merge_at_once(devices):
    server = ContainerServer({'devices': str(devices), 'fsync': 'false',
                              'db_pending_cap': '0'})
    call(server, '/sda/1/a/c', 'PUT', {'X-Timestamp': '1'})
    assert object_row(server, 'o', '2').status_int == 201
    assert server._flusher is None and server._pending == {}
    listing = call(server, '/sda/1/a/c?format=json')
    assert b'"o"' in listing.body


# --- configuration -----------------------------------------------------------------

def test_a_config_file_naming_a_missing_hash_config_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        Probe({'devices': str(tmp_path), 'objproxy_dir': str(tmp_path),
               '__file__': str(tmp_path / 'node.conf')})
    # without a config file (tests, tools) the hash config already set
    # stays in use
    Probe({'devices': str(tmp_path), 'objproxy_dir': str(tmp_path)})
