"""The object expirer against a real cluster: expired objects leave every
replica and their listing row, only for the expiry they were queued with,
and a node that was down expires its replica when it comes back."""
import subprocess
import sys
import time
import uuid

import pytest
import swiftclient

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
    for index in range(len(cluster.nodes)):
        if index not in skip:
            run_expirer(cluster, index)


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
