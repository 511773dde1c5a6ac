"""The object updater against real loopback container "nodes": which
replicas get each async pending, and what is left on disk afterwards."""
import json
import logging
import os
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from objproxy.daemons.updater import ObjectUpdater
from objproxy.storage.object_updates import (
    ASYNC_DIR, load_async_pending, write_async_pending)

NAME_HASH = 'a' * 29 + 'f00'
OTHER_HASH = 'b' * 29 + 'f00'


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ContainerNodes(object):
    """A WSGI app standing in for container servers: answers by device
    name (``bad*`` devices answer 503) and records every request."""

    def __init__(self):
        self.seen = []
        self.down = set()

    def __call__(self, env, start_response):
        device = env['PATH_INFO'].split('/')[1]
        self.seen.append({
            'method': env['REQUEST_METHOD'], 'path': env['PATH_INFO'],
            'device': device,
            'timestamp': env.get('HTTP_X_TIMESTAMP'),
            'layer': env.get('HTTP_X_BACKEND_LAYER'),
            'size': env.get('HTTP_X_SIZE')})
        if device in self.down:
            start_response('503 Service Unavailable',
                           [('Content-Length', '0')])
        else:
            start_response('201 Created', [('Content-Length', '0')])
        return [b'']


@pytest.fixture(scope='module')
def node_server():
    """One server for the module (stopping one takes half a second)."""
    app = ContainerNodes()
    server = make_server('127.0.0.1', 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.host = '127.0.0.1:%d' % server.server_port
    yield app
    server.shutdown()
    server.server_close()


@pytest.fixture
def nodes(node_server):
    node_server.seen = []
    node_server.down = set()
    return node_server


@pytest.fixture
def devices(tmp_path):
    root = tmp_path / 'srv'
    (root / 'sda').mkdir(parents=True)
    return root


def make_updater(devices, logger=None):
    return ObjectUpdater({'devices': str(devices), 'objects_per_second': '0',
                          'fsync': 'false', 'recon_cache_path':
                          str(devices)}, logger=logger)


def pending(devices, targets, timestamp='1700000001.00000',
            name_hash=NAME_HASH, op='PUT', obj='o', device='sda'):
    record = {'op': op, 'account': 'AUTH_a', 'container': 'c', 'obj': obj,
              'headers': {'X-Timestamp': timestamp, 'X-Size': '5'},
              'container_partition': '17',
              'container_host': ','.join(h for h, _ in targets),
              'container_device': ','.join(d for _, d in targets)}
    return write_async_pending(str(devices / device), name_hash, timestamp,
                               record, fsync=False)


def test_update_reaching_every_replica_removes_the_record(devices, nodes):
    path = pending(devices, [(nodes.host, 'sdb1'), (nodes.host, 'sdc1')])
    stats = make_updater(devices).run_once()
    assert (stats['successes'], stats['failures'], stats['unlinks']) == (
        2, 0, 1)
    assert not os.path.exists(path)
    assert sorted(r['path'] for r in nodes.seen) == [
        '/sdb1/17/AUTH_a/c/o', '/sdc1/17/AUTH_a/c/o']
    for req in nodes.seen:
        assert (req['method'], req['timestamp'], req['size'],
                req['layer']) == ('PUT', '1700000001.00000', '5',
                                  'container')


def test_empty_suffix_dir_is_removed_after_a_pass(devices, nodes):
    path = pending(devices, [(nodes.host, 'sdb1')])
    make_updater(devices).run_once()
    assert not os.path.exists(os.path.dirname(path))
    assert os.listdir(str(devices / 'sda' / ASYNC_DIR)) == []


def test_record_is_narrowed_to_the_replicas_that_failed(devices, nodes):
    nodes.down.add('sdc1')
    path = pending(devices, [(nodes.host, 'sdb1'), (nodes.host, 'sdc1')])
    stats = make_updater(devices).run_once()
    assert (stats['successes'], stats['failures'], stats['unlinks']) == (
        1, 1, 0)
    record = load_async_pending(path)
    assert (record['container_host'], record['container_device']) == (
        nodes.host, 'sdc1')
    # once it is back, only the replica still missing the row hears it
    nodes.down.clear()
    del nodes.seen[:]
    stats = make_updater(devices).run_once()
    assert [r['device'] for r in nodes.seen] == ['sdc1']
    assert stats['unlinks'] == 1 and not os.path.exists(path)


def test_record_failing_everywhere_is_kept_unchanged(devices, nodes):
    nodes.down.update(['sdb1', 'sdc1'])
    path = pending(devices, [(nodes.host, 'sdb1'), (nodes.host, 'sdc1')])
    with open(path, 'rb') as fp:
        before = fp.read()
    stats = make_updater(devices).run_once()
    assert (stats['successes'], stats['failures']) == (0, 2)
    with open(path, 'rb') as fp:
        assert fp.read() == before


def test_unreachable_or_malformed_host_counts_as_a_failure(devices, nodes):
    path = pending(devices, [('127.0.0.1:1', 'sdb1'), ('no-port', 'sdc1'),
                             (nodes.host, 'sdd1')])
    stats = make_updater(devices).run_once()
    assert (stats['successes'], stats['failures']) == (1, 2)
    record = load_async_pending(path)
    assert record['container_device'] == 'sdb1,sdc1'


def test_oldest_change_is_sent_first(devices, nodes):
    pending(devices, [(nodes.host, 'sdb1')], timestamp='1700000009.00000',
            name_hash=NAME_HASH, obj='newer')
    pending(devices, [(nodes.host, 'sdb1')], timestamp='1700000002.00000',
            name_hash=OTHER_HASH, obj='older')
    make_updater(devices).run_once()
    assert [r['path'].rsplit('/', 1)[1] for r in nodes.seen] == [
        'older', 'newer']


def test_delete_is_sent_as_a_delete(devices, nodes):
    pending(devices, [(nodes.host, 'sdb1')], op='DELETE')
    make_updater(devices).run_once()
    assert [r['method'] for r in nodes.seen] == ['DELETE']


@pytest.mark.parametrize('content', [
    b'{not json', json.dumps({'version': 2, 'op': 'PUT'}).encode(),
    json.dumps(['a list']).encode()])
def test_unreadable_record_is_logged_and_left(devices, nodes, caplog,
                                              content):
    path = pending(devices, [(nodes.host, 'sdb1')])
    with open(path, 'wb') as fp:
        fp.write(content)
    logger = logging.getLogger('test-updater')
    with caplog.at_level(logging.ERROR, logger='test-updater'):
        stats = make_updater(devices, logger).run_once()
    assert stats['errors'] == 1 and nodes.seen == []
    assert os.path.exists(path)
    assert 'unreadable async pending %s' % path in caplog.text


def test_record_missing_a_field_is_logged_and_left(devices, nodes, caplog):
    path = pending(devices, [(nodes.host, 'sdb1')])
    record = load_async_pending(path)
    del record['container_partition']
    with open(path, 'w') as fp:
        json.dump(record, fp)
    logger = logging.getLogger('test-updater')
    with caplog.at_level(logging.ERROR, logger='test-updater'):
        stats = make_updater(devices, logger).run_once()
    assert stats['errors'] == 1 and nodes.seen == []
    assert "lacks 'container_partition'" in caplog.text


def test_temp_files_in_the_queue_are_not_sent(devices, nodes):
    path = pending(devices, [(nodes.host, 'sdb1')])
    os.rename(path, path + '.abc.tmp')
    stats = make_updater(devices).run_once()
    assert nodes.seen == [] and stats['successes'] == 0
    assert os.path.exists(path + '.abc.tmp')


def test_only_the_named_devices_are_processed(devices, nodes):
    (devices / 'sdb').mkdir()
    kept = pending(devices, [(nodes.host, 'sdb1')], device='sdb')
    done = pending(devices, [(nodes.host, 'sdb1')], device='sda')
    stats = make_updater(devices).run_once(devices=['sda'])
    assert stats['unlinks'] == 1
    assert os.path.exists(kept) and not os.path.exists(done)
