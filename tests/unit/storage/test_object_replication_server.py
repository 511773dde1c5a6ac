"""REPLICATE on a storage node: suffix hashes and listings off the hub,
pushed replicas queued for expiry where they land, answers with the
shared status lines."""
import hashlib
import json
import struct
import time

import pytest
from webob import Request

from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.common.offload import on_main_thread
from objproxy.common.timestamp import Timestamp
from objproxy.storage import expiry_queue
from objproxy.storage import object_replication_server as ors
from objproxy.storage.object_format import encode_metadata
from tests.unit.daemons.conftest import write_object


def replicate(app, op, body):
    req = Request.blank('/sdb', method='REPLICATE', body=json.dumps(
        body).encode(), headers={'X-Backend-Replicate-Op': op})
    return req.get_response(app)


def test_hashing_and_listing_run_off_the_hub(tmp_path, monkeypatch):
    """Hashing a busy partition rewrites hashes.json and reads every
    suffix: seconds of work under load, which must not stop the node's
    other requests, so it runs in a pool thread."""
    set_hash_config('unitprefix', 'unitsuffix')
    dev = tmp_path / 'sdb'
    write_object(str(dev), 5, 'obj', b'data', 1000000000)
    seen = []
    real_read, real_list = ors.read_hashes, ors.list_suffix

    def read_hashes(*args, **kwargs):
        seen.append(('hashes', on_main_thread()))
        return real_read(*args, **kwargs)

    def list_suffix(*args, **kwargs):
        seen.append(('list', on_main_thread()))
        return real_list(*args, **kwargs)

    monkeypatch.setattr(ors, 'read_hashes', read_hashes)
    monkeypatch.setattr(ors, 'list_suffix', list_suffix)
    app = ors.ObjectReplicationServer({'devices': str(tmp_path),
                                       'fsync': 'false'})
    resp = replicate(app, 'hashes', {'partitions': [5]})
    assert resp.status_int == 200
    hashes = json.loads(resp.body)['5']
    assert len(hashes) == 1
    suffix = list(hashes)[0]
    resp = replicate(app, 'list', {'partitions': {'5': [suffix]}})
    assert resp.status_int == 200
    assert list(json.loads(resp.body)['5'][suffix].values())
    assert seen == [('hashes', False), ('list', False)]


# -- replicas that arrive by replication are queued for expiry -----------
NOW = int(time.time())


def object_file(name, offset, ext, **extra):
    """(record name, bytes) of an object file as a replicator pushes it,
    written ``offset`` seconds before now."""
    stamp = NOW - 10000 + offset
    body = b'data' if ext == '.data' else b''
    meta = {'name': '/AUTH_a/c/%s' % name,
            'X-Timestamp': Timestamp(stamp).internal}
    if ext == '.data':
        meta.update({'Content-Length': str(len(body)),
                     'ETag': hashlib.md5(body).hexdigest()})
    meta.update(extra)
    name_hash = hash_path('AUTH_a', 'c', name)
    record = '5/%s/%s/%s%s' % (name_hash[-3:], name_hash,
                               Timestamp(stamp).internal, ext)
    return record, body + encode_metadata(meta)


def push(app, *files):
    body = b''
    for record, data in files:
        head = json.dumps({'name': record, 'size': len(data)}).encode()
        body += struct.pack('>I', len(head)) + head + data
    req = Request.blank('/sdb', method='REPLICATE', body=body, headers={
        'X-Backend-Replicate-Op': 'push'})
    resp = req.get_response(app)
    assert resp.status_int == 200, resp.body
    return json.loads(resp.body)


def queued(tmp_path):
    return [(e.obj, e.partition, e.delete_at,
             e.timestamp.internal if e.timestamp else None)
            for e in expiry_queue.due_entries(str(tmp_path / 'sdb'),
                                              10 ** 10)]


@pytest.fixture
def receiver(tmp_path):
    set_hash_config('unitprefix', 'unitsuffix')
    (tmp_path / 'sdb').mkdir()
    return ors.ObjectReplicationServer({'devices': str(tmp_path),
                                        'fsync': 'false'})


def test_a_replicated_object_with_an_expiry_is_queued_where_it_lands(
        receiver, tmp_path):
    """A handoff revert, a rebalance or a replaced disk moves replicas by
    replication only; if every replica of a partition moved, nothing
    would ever expire the object unless the receiving node queues it."""
    result = push(receiver,
                  object_file('gone', 1000, '.data', **{'X-Delete-At':
                                                        '3000'}),
                  object_file('kept', 1000, '.data'))
    assert result['stored'] == 2
    assert queued(tmp_path) == [('gone', '5', 3000,
                                 Timestamp(NOW - 9000).internal)]


def test_a_replicated_post_queues_the_expiry_it_sets(receiver, tmp_path):
    push(receiver, object_file('o', 1000, '.data'))
    push(receiver, object_file('o', 1500, '.meta', **{'X-Delete-At':
                                                      '3000'}))
    assert queued(tmp_path) == [
        ('o', '5', 3000, Timestamp(NOW - 8500).internal)]


def test_queueing_an_arrival_is_idempotent(receiver, tmp_path):
    record = object_file('o', 1000, '.data', **{'X-Delete-At': '3000'})
    push(receiver, record)
    other = object_file('o', 1000, '.data', **{'X-Delete-At': '3000'})
    assert push(receiver, other)['existing'] == 1
    push(receiver, object_file('o', 1500, '.meta', **{'X-Delete-At':
                                                      '3000'}))
    assert queued(tmp_path) == [
        ('o', '5', 3000, Timestamp(NOW - 8500).internal)]


def test_a_data_file_arriving_after_its_expiring_meta_queues_it_again(
        receiver, tmp_path):
    """The .meta came first and was queued; an expirer pass that ran
    before the .data arrived found no object and dropped the entry."""
    push(receiver, object_file('o', 1500, '.meta', **{'X-Delete-At':
                                                      '3000'}))
    for entry in expiry_queue.due_entries(str(tmp_path / 'sdb'), 10 ** 10):
        entry.remove()
    push(receiver, object_file('o', 1000, '.data'))
    assert queued(tmp_path) == [
        ('o', '5', 3000, Timestamp(NOW - 8500).internal)]


@pytest.mark.parametrize('newer', [
    ('.ts', {}),                                 # deleted since
    ('.meta', {}),                               # expiry removed since
    ('.data', {}),                               # replaced since
])
def test_an_arrival_that_a_newer_local_state_overrides_is_not_queued(
        receiver, tmp_path, newer):
    ext, extra = newer
    if ext == '.meta':
        push(receiver, object_file('o', 500, '.data'))
    push(receiver, object_file('o', 2000, ext, **extra))
    push(receiver, object_file('o', 1000, '.data', **{'X-Delete-At':
                                                      '3000'}))
    assert queued(tmp_path) == []


def test_replication_answers_use_the_shared_status_lines(receiver):
    resp = Request.blank('/sdb', method='REPLICATE', headers={
        'X-Backend-Replicate-Op': 'nonsense'}).get_response(receiver)
    assert resp.status == '400 Bad Request'
    assert resp.headers['Content-Type'].startswith('text/plain')
    assert resp.body == b"unknown replication op 'nonsense'"
    resp = Request.blank('/sdb', method='GET').get_response(receiver)
    assert resp.status == '405 Method Not Allowed'
    resp = Request.blank('/nodev', method='REPLICATE').get_response(
        receiver)
    assert resp.status == '507 Insufficient Storage'
    resp = replicate(receiver, 'hashes', {'partitions': [5]})
    assert resp.status == '200 OK'
    assert resp.headers['Content-Type'] == 'application/json'
    assert int(resp.headers['Content-Length']) == len(resp.body)
