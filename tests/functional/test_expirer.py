"""The object expirer against a real cluster: expired objects leave every
replica and their listing row, only for the expiry they were queued with,
a node that was down expires its replica when it comes back, and a node
that was down while the expiry was removed does not apply the old one."""
import http.client
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import swiftclient
from urllib.parse import quote

from objproxy.common.timestamp import Timestamp


@pytest.fixture
def conn(cluster):
    url, token = cluster.token()
    return swiftclient.Connection(preauthurl=url, preauthtoken=token,
                                  retries=0)


def run_expirer(cluster, index):
    conf = cluster.aio.layout.node_conf(index)
    proc = subprocess.run(
        [sys.executable, '-m', 'objproxy.cli.expirer', conf, '--once',
         '--json'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def run_all_expirers(cluster, skip=()):
    return dict((index, run_expirer(cluster, index))
                for index in range(len(cluster.nodes)) if index not in skip)


def run_all_replicators(cluster):
    exe = os.path.join(os.path.dirname(sys.executable),
                       'objproxy-replicator')
    for index in range(len(cluster.nodes)):
        proc = subprocess.run(
            [exe, cluster.aio.layout.node_conf(index), '--once', '--json'],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def backend(node, method, path, headers=None, query=''):
    """(status, headers, body) of one request straight to a node."""
    conn = http.client.HTTPConnection(node['ip'], node['port'], timeout=10)
    try:
        conn.request(method, quote(path) + query, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, dict((k.lower(), v)
                                 for k, v in resp.getheaders()), body
    finally:
        conn.close()


def wait_until(moment):
    while time.time() <= moment:
        time.sleep(0.05)


def listed(conn, container):
    return [o['name'] for o in conn.get_container(container)[1]]


def account_of(conn):
    return conn.url.rstrip('/').rsplit('/', 1)[1]


def test_an_expired_object_leaves_every_replica_and_the_listing(
        cluster, conn):
    container = 'expiring-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    delete_at = int(time.time()) + 2
    expiring = ['soon', 'photos/\u00e9t\u00e9 100%.jpg']
    for name in expiring:
        conn.put_object(container, name, b'data',
                        headers={'X-Delete-At': str(delete_at)})
    conn.put_object(container, 'kept', b'data')
    assert sorted(listed(conn, container)) == sorted(expiring + ['kept'])
    wait_until(delete_at)
    run_all_expirers(cluster)
    assert listed(conn, container) == ['kept']
    for name in expiring:
        files = cluster.object_files(account_of(conn), container, name)
        assert len(files) == 3
        for names in files.values():
            assert names == [Timestamp(delete_at).internal + '.ts']


def test_a_changed_expiry_is_not_applied_early(cluster, conn):
    container = 'expiring-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    first = int(time.time()) + 2
    conn.put_object(container, 'moved', b'data',
                    headers={'X-Delete-At': str(first)})
    conn.post_object(container, 'moved',
                     headers={'X-Delete-At': str(first + 3600)})
    conn.put_object(container, 'unset', b'data',
                    headers={'X-Delete-At': str(first)})
    conn.post_object(container, 'unset', headers={'X-Remove-Delete-At': 'x'})
    wait_until(first)
    run_all_expirers(cluster)
    assert conn.head_object(container, 'moved')['x-delete-at'] == \
        str(first + 3600)
    assert 'x-delete-at' not in conn.head_object(container, 'unset')
    assert sorted(listed(conn, container)) == ['moved', 'unset']


def test_a_node_that_was_down_expires_its_replica_when_back(cluster, conn):
    container = 'expiring-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    delete_at = int(time.time()) + 2
    conn.put_object(container, 'outage', b'data',
                    headers={'X-Delete-At': str(delete_at)})
    account = account_of(conn)
    holders = sorted(cluster.object_files(account, container, 'outage'))
    down = holders[0]
    cluster.stop_node(down)
    try:
        wait_until(delete_at)
        run_all_expirers(cluster, skip={down})
        assert listed(conn, container) == []
    finally:
        cluster.start_node(down)
    assert any(name.endswith('.data') for name in
               cluster.object_files(account, container, 'outage')[down])
    run_expirer(cluster, down)
    files = cluster.object_files(account, container, 'outage')
    assert files[down] == [Timestamp(delete_at).internal + '.ts']


def test_a_stale_replica_back_after_the_old_expiry_does_not_apply_it(
        cluster, conn):
    """A node is down while a POST removes the expiry; it comes back
    after the old expiry time with its old metadata and its old entry.
    Its tombstone would be stamped with the expiry time, newer than the
    POST, and replicate everywhere: instead it asks the other replicas,
    sees the newer state, and leaves the object to replication."""
    container = 'expiring-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    account = account_of(conn)
    delete_at = int(time.time()) + 4
    conn.put_object(container, 'kept', b'data',
                    headers={'X-Delete-At': str(delete_at)})
    holders = sorted(cluster.object_files(account, container, 'kept'))
    assert len(holders) == 3
    down = holders[0]
    cluster.stop_node(down)
    try:
        conn.post_object(container, 'kept',
                         headers={'X-Remove-Delete-At': 'x',
                                  'X-Object-Meta-Kept': 'yes'})
        wait_until(delete_at)
    finally:
        cluster.start_node(down)
    files = cluster.object_files(account, container, 'kept')
    assert [f[-5:] for f in files[down]] == ['.data']      # stale
    reports = run_all_expirers(cluster)
    stale = json.loads(reports[down].strip().splitlines()[-1])
    assert stale['object-expirer']['newer_elsewhere'] == 1
    assert stale['object-expirer']['expired'] == 0
    run_all_replicators(cluster)

    assert conn.get_object(container, 'kept')[1] == b'data'
    headers = conn.head_object(container, 'kept')
    assert 'x-delete-at' not in headers
    assert headers['x-object-meta-kept'] == 'yes'
    assert listed(conn, container) == ['kept']
    ring = cluster.ring('object')
    part, nodes = ring.get_nodes(account, container, 'kept')
    for node in nodes:
        status, headers, _ = backend(node, 'HEAD', '/%s/%s/%s/%s/kept' % (
            node['device'], part, account, container))
        assert status == 200, node
        assert 'x-delete-at' not in headers
        assert headers['x-object-meta-kept'] == 'yes'
    cpart, cnodes = cluster.ring('container').get_nodes(account, container)
    for node in cnodes:
        status, _, body = backend(
            node, 'GET', '/%s/%s/%s/%s' % (node['device'], cpart, account,
                                           container),
            {'X-Backend-Layer': 'container'}, '?format=json')
        assert status == 200, node
        assert [row['name'] for row in json.loads(body)] == ['kept']


def test_clients_cannot_ask_for_an_expired_object_as_replication_does(
        cluster, conn):
    """The expirer's HEAD to other replicas (X-Backend-Replication)
    also sees expired objects; a client sending it gets nothing."""
    container = 'expiring-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    delete_at = int(time.time()) + 1
    conn.put_object(container, 'gone', b'data',
                    headers={'X-Delete-At': str(delete_at)})
    wait_until(delete_at)
    for method in (conn.head_object, conn.get_object):
        with pytest.raises(swiftclient.ClientException) as caught:
            method(container, 'gone',
                   headers={'X-Backend-Replication': 'true'})
        assert caught.value.http_status == 404
