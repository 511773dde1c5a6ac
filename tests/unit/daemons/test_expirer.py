"""The expirer against real object servers (one WSGI app per node): one
conditional DELETE per due entry to the node's own object server, the
entry kept until the answer is final, and no delete when another replica
holds a newer state without that expiry."""
import os
import time
from urllib.parse import quote

import pytest
from webob import Request

from objproxy.common.hashing import hash_path
from objproxy.common.timestamp import Timestamp
from objproxy.daemons import expirer as expirer_mod
from objproxy.storage import expiry_queue
from objproxy.storage.object_server import ObjectServer

PART = 5
BASE = int(time.time()) - 1000
DELETE_AT = BASE + 100          # past: due now
DEVS = [{'id': i, 'ip': '10.0.0.%d' % i, 'port': 6200 + i,
         'device': 'sd%s' % 'abc'[i]} for i in range(3)]


class FakeRing(object):
    def __init__(self, devs):
        self.devs = devs

    def get_nodes(self, account, container=None, obj=None):
        return PART, list(self.devs)


class Cluster(object):
    """Three object servers reached through the expirer's ``request``;
    a node in ``down`` refuses connections."""

    def __init__(self, root):
        self.root = root
        self.apps = {}
        for dev in DEVS:
            devices = root / dev['device']
            (devices / dev['device']).mkdir(parents=True)
            self.apps[(dev['ip'], dev['port'])] = ObjectServer(
                {'devices': str(devices), 'fsync': 'false',
                 'disk_tpool': 'false'})
        self.down = set()
        self.calls = []
        self.answers = {}       # method -> statuses to answer instead

    def request(self, pool, node, method, path, headers=None, **kwargs):
        self.calls.append((node['ip'], method, path, dict(headers or {})))
        if node['ip'] in self.down:
            raise ConnectionRefusedError('refused')
        canned = self.answers.get(method)
        if canned:
            answer = canned.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer, {}, b''
        # the container updates are another test's business
        headers = dict((k, v) for k, v in (headers or {}).items()
                       if not k.startswith('X-Container-'))
        req = Request.blank(quote(path), environ={'REQUEST_METHOD': method},
                            headers=headers)
        if kwargs.get('body') is not None:
            req.body = kwargs['body']
        resp = req.get_response(self.apps[(node['ip'], int(node['port']))])
        return resp.status_int, dict(
            (k.lower(), v) for k, v in resp.headers.items()), resp.body

    def call(self, index, method, t, obj='o', **headers):
        """A backend write at BASE + t (past expiries allowed)."""
        dev = DEVS[index]
        headers.update({'X-Timestamp': Timestamp(BASE + t).internal,
                        'X-Backend-Replication': 'true',
                        'Content-Type': 'text/plain'})
        path = '/%s/%d/AUTH_a/c/%s' % (dev['device'], PART, obj)
        body = b'data' if method == 'PUT' else None
        return self.request(None, dev, method, path, headers, body=body)[0]

    def files(self, index, obj='o'):
        dev = DEVS[index]
        name_hash = hash_path('AUTH_a', 'c', obj)
        path = os.path.join(str(self.root), dev['device'], dev['device'],
                            'objects', str(PART), name_hash[-3:], name_hash)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def entries(self, index):
        dev = DEVS[index]
        return list(expiry_queue.due_entries(
            os.path.join(str(self.root), dev['device'], dev['device']),
            time.time()))

    def expirer(self, index=0):
        dev = DEVS[index]
        return expirer_mod.ObjectExpirer(
            {'devices': str(self.root / dev['device']),
             'bind_ip': dev['ip'], 'bind_port': str(dev['port']),
             'objects_per_second': '0', 'log_level': 'ERROR'},
            container_ring=FakeRing(DEVS), object_ring=FakeRing(DEVS))


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    cluster = Cluster(tmp_path)
    monkeypatch.setattr(expirer_mod, 'request', cluster.request)
    return cluster


def put_everywhere(cluster, t=0, obj='o', **headers):
    for index in range(3):
        assert cluster.call(index, 'PUT', t, obj, **headers) == 201


def deletes(cluster):
    return [c for c in cluster.calls if c[1] == 'DELETE']


def test_a_due_entry_becomes_a_conditional_delete_at_the_expiry_time(
        cluster):
    put_everywhere(cluster, obj='caf\u00e9', **{'X-Delete-At':
                                                str(DELETE_AT)})
    cluster.calls = []
    stats = cluster.expirer().run_once()
    [(ip, method, path, headers)] = deletes(cluster)
    assert ip == '10.0.0.0'
    # the path goes raw: the connection encodes the request line once
    assert (method, path) == ('DELETE', '/sda/5/AUTH_a/c/caf\u00e9')
    assert headers['X-Timestamp'] == Timestamp(DELETE_AT).internal
    assert headers['X-If-Delete-At'] == str(DELETE_AT)
    assert headers['X-Container-Host'] == \
        '10.0.0.0:6200,10.0.0.1:6201,10.0.0.2:6202'
    assert headers['X-Container-Device'] == 'sda,sdb,sdc'
    assert headers['X-Container-Partition'] == str(PART)
    assert stats['expired'] == 1
    assert cluster.files(0, 'caf\u00e9') == [
        Timestamp(DELETE_AT).internal + '.ts']
    assert cluster.entries(0) == []


def test_the_other_primaries_are_asked_with_a_head_that_sees_expired_ones(
        cluster):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    cluster.calls = []
    cluster.expirer().run_once()
    heads = sorted((ip, path, h.get('X-Backend-Replication'))
                   for ip, method, path, h in cluster.calls
                   if method == 'HEAD')
    assert heads == [('10.0.0.1', '/sdb/5/AUTH_a/c/o', 'true'),
                     ('10.0.0.2', '/sdc/5/AUTH_a/c/o', 'true')]


@pytest.mark.parametrize('newer', [
    {'method': 'POST'},                                     # removed
    {'method': 'POST', 'X-Delete-At': str(DELETE_AT + 50)},  # moved
    {'method': 'PUT'},                                      # replaced
])
def test_a_stale_replica_does_not_apply_an_expiry_a_newer_write_changed(
        cluster, newer):
    """This node was down while the others took a newer write without the
    expiry: its old entry matches its old metadata, but its tombstone
    (stamped with the old expiry time, newer than that write) would
    replicate over every replica, so it deletes nothing and drops the
    entry; the newer state comes to it by replication."""
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    headers = dict(newer)
    method = headers.pop('method')
    for index in (1, 2):
        assert cluster.call(index, method, 50, **headers) in (201, 202)
    cluster.calls = []
    stats = cluster.expirer().run_once()
    assert deletes(cluster) == []
    assert stats['newer_elsewhere'] == 1 and stats['expired'] == 0
    assert cluster.files(0) == [Timestamp(BASE).internal + '.data']
    assert cluster.entries(0) == []


def test_one_newer_replica_is_enough_to_hold_the_expiry_back(cluster):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    assert cluster.call(2, 'POST', 50) == 202
    stats = cluster.expirer().run_once()
    assert deletes(cluster) == [] and stats['newer_elsewhere'] == 1


def test_peers_holding_an_older_state_do_not_hold_the_expiry_back(
        cluster):
    """Here the stale ones are the peers: this node took the POST that
    set the expiry, so it expires its replica."""
    put_everywhere(cluster)
    assert cluster.call(0, 'POST', 50, **{'X-Delete-At':
                                          str(DELETE_AT)}) == 202
    stats = cluster.expirer().run_once()
    assert stats['expired'] == 1
    assert cluster.files(0) == [Timestamp(DELETE_AT).internal + '.ts']


def test_a_peer_that_already_carried_out_this_expiry_agrees(cluster):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    assert cluster.call(1, 'DELETE', 100, **{
        'X-If-Delete-At': str(DELETE_AT)}) == 204
    stats = cluster.expirer().run_once()
    assert stats['expired'] == 1


def test_a_newer_write_keeping_the_same_expiry_does_not_hold_it_back(
        cluster):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    for index in (1, 2):
        assert cluster.call(index, 'POST', 50, **{
            'X-Delete-At': str(DELETE_AT), 'X-Object-Meta-K': 'v'}) == 202
    assert cluster.expirer().run_once()['expired'] == 1


def test_unreachable_peers_do_not_hold_the_expiry_back_and_are_asked_once(
        cluster):
    """At least once across outages: with every peer down the node still
    expires its replicas, and a down peer costs one failed connection
    per pass, not one per entry."""
    for obj in ('o1', 'o2', 'o3'):
        put_everywhere(cluster, obj=obj, **{'X-Delete-At': str(DELETE_AT)})
    cluster.down = {'10.0.0.1', '10.0.0.2'}
    cluster.calls = []
    expirer = cluster.expirer()
    expirer.concurrency = 1
    stats = expirer.run_once()
    assert stats['expired'] == 3 and stats['failures'] == 0
    asked = [c[0] for c in cluster.calls if c[1] == 'HEAD']
    assert sorted(asked) == ['10.0.0.1', '10.0.0.2']


def test_an_entry_without_a_recorded_state_is_compared_with_this_replica(
        cluster):
    """Entries queued before the state's timestamp was recorded: this
    replica's own state (one more HEAD) is what the peers must beat."""
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    for index in (1, 2):
        assert cluster.call(index, 'POST', 50) == 202
    [entry] = cluster.entries(0)
    os.unlink(entry.path)
    expiry_queue.enqueue(entry.path.split('/expiring/')[0], DELETE_AT,
                         hash_path('AUTH_a', 'c', 'o'), PART, 'AUTH_a',
                         'c', 'o', fsync=False)
    assert cluster.entries(0)[0].timestamp is None
    cluster.calls = []
    stats = cluster.expirer().run_once()
    assert ('10.0.0.0', 'HEAD') in [c[:2] for c in cluster.calls]
    assert deletes(cluster) == [] and stats['newer_elsewhere'] == 1


@pytest.mark.parametrize('status,outcome', [
    (404, 'already_gone'), (412, 'superseded'), (409, 'superseded')])
def test_a_final_answer_drops_the_entry(cluster, status, outcome):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    cluster.answers['DELETE'] = [status]
    stats = cluster.expirer().run_once()
    assert stats[outcome] == 1 and stats['failures'] == 0
    assert cluster.entries(0) == []


@pytest.mark.parametrize('answer', [503, 507, OSError('refused')])
def test_a_failed_delete_keeps_the_entry_for_the_next_pass(cluster,
                                                           answer):
    put_everywhere(cluster, **{'X-Delete-At': str(DELETE_AT)})
    cluster.answers['DELETE'] = [answer]
    expirer = cluster.expirer()
    assert expirer.run_once()['failures'] == 1
    assert len(cluster.entries(0)) == 1
    assert expirer.run_once()['expired'] == 1


def test_entries_not_yet_due_are_left_alone(cluster):
    later = int(time.time()) + 3600
    assert cluster.call(0, 'PUT', 0, **{'X-Delete-At': str(later)}) == 201
    cluster.calls = []
    assert cluster.expirer().run_once()['expired'] == 0
    assert cluster.calls == []
