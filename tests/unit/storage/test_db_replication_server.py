"""DbReplicationServer through webob Request.blank: locks and the hub."""
import json
import os

import eventlet
from webob import Request

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage.container_broker import ContainerBroker
from objproxy.storage.db_replication_server import (
    DbReplicationServer, db_path)
from tests.unit.storage.hub_watch import HubWatch, WriteLockHolder


def replicate(app, name_hash, op, body):
    data = json.dumps(body).encode()
    return Request.blank(
        '/sda/7/%s' % name_hash, method='REPLICATE', body=data,
        headers={'X-Backend-Layer': 'container',
                 'X-Backend-Replicate-Op': op,
                 'Content-Length': str(len(data))}).get_response(app)


def make_db(tmp_path, container):
    name_hash = hash_path('AUTH_a', container)
    broker = ContainerBroker(
        db_path(str(tmp_path / 'sda'), 'containers', 7, name_hash),
        account='AUTH_a', container=container, fsync=False)
    broker.initialize(Timestamp.now().internal)
    return broker, name_hash


def test_replicate_on_a_locked_database_is_busy_and_never_stalls_the_hub(
        tmp_path):
    """A replication request for a database whose write lock stays held
    answers 503 with X-Backend-Busy after db_lock_timeout, waiting
    cooperatively: another database's replication is served meanwhile
    and a green thread ticking every 10 ms is never held up."""
    set_hash_config('test-prefix', 'test-suffix')
    app = DbReplicationServer({'devices': str(tmp_path), 'fsync': 'false',
                               'db_lock_timeout': '0.3'})
    locked, locked_hash = make_db(tmp_path, 'c1')
    free, free_hash = make_db(tmp_path, 'c2')
    rows = [{'name': 'o', 'created_at': Timestamp.now().internal,
             'size': 1, 'content_type': 't', 'etag': 'e', 'deleted': 0,
             'ROWID': 1}]
    with WriteLockHolder(locked.db_file), HubWatch() as watch:
        busy = eventlet.spawn(replicate, app, locked_hash, 'merge_items',
                              {'items': rows, 'source': 'peer'})
        eventlet.sleep(0)
        other = replicate(app, free_hash, 'merge_items',
                          {'items': rows, 'source': 'peer'})
        assert other.status_int == 200
        assert not busy.dead       # still waiting while c2 was served
        resp = busy.wait()
    assert resp.status_int == 503
    assert resp.headers['X-Backend-Busy'] == 'true'
    assert watch.max_gap < 0.5
    assert free.get_sync('peer') == 1
    assert locked.get_sync('peer') == -1
    resp = replicate(app, locked_hash, 'merge_items',
                     {'items': rows, 'source': 'peer'})
    assert resp.status_int == 200
    assert locked.get_sync('peer') == 1
    assert os.path.exists(locked.db_file)


def test_answers_use_the_shared_status_lines(tmp_path):
    """Every answer's status line and headers come from the one response
    helper: the same reason phrases as every other objproxy server."""
    set_hash_config('test-prefix', 'test-suffix')
    app = DbReplicationServer({'devices': str(tmp_path), 'fsync': 'false'})
    (tmp_path / 'sda').mkdir()
    missing = hash_path('AUTH_a', 'nothing-here')
    resp = replicate(app, missing, 'sync', {'info': {'id': 'x'}})
    assert resp.status == '404 Not Found'
    assert resp.headers['Content-Type'].startswith('text/plain')
    assert resp.body == b'no such database'
    resp = Request.blank('/sda/7/%s' % missing, method='REPLICATE',
                         headers={'X-Backend-Layer': 'nope'}
                         ).get_response(app)
    assert resp.status == '400 Bad Request'
    resp = Request.blank('/sda/7/%s' % missing, method='GET',
                         headers={'X-Backend-Layer': 'container'}
                         ).get_response(app)
    assert resp.status == '405 Method Not Allowed'
    assert 'X-Backend-Busy' not in resp.headers
    broker, name_hash = make_db(tmp_path, 'c3')
    resp = replicate(app, name_hash, 'sync', {'info': {'id': 'peer'}})
    assert resp.status == '200 OK'
    assert resp.headers['Content-Type'] == 'application/json'
    assert int(resp.headers['Content-Length']) == len(resp.body)
    assert json.loads(resp.body)['point'] == -1
