"""The quick start end to end: python-swiftclient's CLI against a real cluster.

Every step a new user takes in the README, through the full pipeline, and
then a look at the storage nodes' disks to prove three replicas exist and
that an infected upload left nothing anywhere.
"""
import os
import subprocess
import sys

import pytest

EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!'
         b'$H+H*')
SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')


def swift(cluster, *args, cwd=None):
    cmd = [SWIFT, '-A', cluster.auth_url, '-U', 'test:tester',
           '-K', 'testing'] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          cwd=cwd)


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def test_swift_cli_round_trip(cluster, tmp_path):
    stat = ok(swift(cluster, 'stat'))
    assert 'Account: AUTH_test' in stat

    ok(swift(cluster, 'post', 'quick'))
    assert 'quick' in ok(swift(cluster, 'list')).split()

    payload = os.urandom(300 * 1024) + b'end'
    src = tmp_path / 'up'
    src.mkdir()
    (src / 'hello.bin').write_bytes(payload)
    ok(swift(cluster, 'upload', 'quick', 'hello.bin', cwd=str(src)))
    assert ok(swift(cluster, 'list', 'quick')).split() == ['hello.bin']

    files = cluster.object_files('AUTH_test', 'quick', 'hello.bin')
    with_data = [i for i, names in files.items()
                 if any(n.endswith('.data') for n in names)]
    assert len(with_data) == 3, files

    dst = tmp_path / 'down'
    dst.mkdir()
    ok(swift(cluster, 'download', 'quick', 'hello.bin', cwd=str(dst)))
    assert (dst / 'hello.bin').read_bytes() == payload

    ok(swift(cluster, 'delete', 'quick', 'hello.bin'))
    assert ok(swift(cluster, 'list', 'quick')).split() == []
    ok(swift(cluster, 'delete', 'quick'))
    assert 'quick' not in ok(swift(cluster, 'list')).split()


def test_eicar_upload_is_refused_and_stored_nowhere(cluster, tmp_path):
    ok(swift(cluster, 'post', 'scan'))
    (tmp_path / 'eicar.com').write_bytes(EICAR)
    result = swift(cluster, 'upload', 'scan', 'eicar.com', cwd=str(tmp_path))
    assert result.returncode != 0
    assert '403' in result.stdout + result.stderr
    assert ok(swift(cluster, 'list', 'scan')).split() == []
    files = cluster.object_files('AUTH_test', 'scan', 'eicar.com')
    assert not any(n.endswith('.data') for names in files.values()
                   for n in names), files


@pytest.mark.parametrize('path', ['/healthcheck'])
def test_healthcheck_needs_no_token(cluster, path):
    import urllib.request
    with urllib.request.urlopen(cluster.proxy_url + path, timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == b'OK'


def test_one_size_limit_and_a_413_that_says_to_segment(cluster):
    """/info's max_file_size is the scan limit, and an upload over it is
    refused with a body that tells the user how to segment it."""
    import http.client
    info = cluster.info()
    limit = info['swift']['max_file_size']
    if 'clamav' in info:
        assert info['clamav']['max_scan_size'] == limit
    storage_url, token = cluster.token()
    host_port = storage_url.split('//')[1].split('/')[0]
    conn = http.client.HTTPConnection(host_port, timeout=10)
    try:
        ok(swift(cluster, 'post', 'toolarge'))
        conn.putrequest('PUT', '/' + storage_url.split('/', 3)[3] +
                        '/toolarge/big')
        conn.putheader('X-Auth-Token', token)
        conn.putheader('Content-Length', str(limit + 1))
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 413
    assert b'swift upload --segment-size' in body
