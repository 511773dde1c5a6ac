"""Large objects and unscanned objects are judged as clients read them
(real clamd, the default pipeline).

* An SLO whose segments each hold a harmless piece of the EICAR file
  (``swift upload --segment-size 10``) is refused when its manifest is
  uploaded: no readable infected object is left.
* A DLO of the same pieces is judged as it is read: the body is cut off
  before its end.
* An object stored without a verdict (here through a proxy that has no
  clamav filter) is scanned on its first read, cut off, marked infected,
  and refused with 403 from then on; a clean one is served whole and gets
  its verdict recorded.
"""
import http.client
import subprocess
import sys
import os
import time
import uuid
from urllib.parse import urlparse

import pytest

from objproxy.common.clamd import EICAR_TEST_FILE
from tests.functional.test_pipeline import call

SWIFT = os.path.join(os.path.dirname(sys.executable), 'swift')


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    path = urlparse(storage_url).path
    container = '%s/lo-scan-%s' % (path, uuid.uuid4().hex[:8])
    assert call(cluster.proxy_url, 'PUT', container,
                {'X-Auth-Token': token})[0] == 201
    return container, {'X-Auth-Token': token}


def raw_get(base_url, path, headers):
    """(status, bytes received, whether the body ended short)."""
    parsed = urlparse(base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=30)
    try:
        conn.request('GET', path, headers=headers)
        resp = conn.getresponse()
        try:
            return resp.status, resp.read(), False
        except http.client.IncompleteRead as err:
            return resp.status, err.partial, True
    finally:
        conn.close()


def wait_for_verdict(url, path, auth, wanted, timeout=10):
    """The verdict update is sent in the background: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        headers = call(url, 'HEAD', path, auth)[1]
        if headers.get('x-object-av-verdict') == wanted or \
                time.monotonic() > deadline:
            return headers
        time.sleep(0.05)


def test_a_virus_split_across_slo_segments_is_refused(cluster, tmp_path):
    container = 'photos-%s' % uuid.uuid4().hex[:8]
    (tmp_path / 'eicar.com').write_bytes(EICAR_TEST_FILE)
    result = subprocess.run(
        [SWIFT, '-A', cluster.auth_url, '-U', 'test:tester', '-K',
         'testing', 'upload', container, 'eicar.com', '--segment-size',
         '10'], capture_output=True, text=True, timeout=120,
        cwd=str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert '403' in output and 'virus signature' in output
    storage_url, token = cluster.token('test:tester', 'testing')
    base = urlparse(storage_url).path
    auth = {'X-Auth-Token': token}
    assert call(cluster.proxy_url, 'HEAD', '%s/%s/eicar.com' % (
        base, container), auth)[0] == 404
    # every segment that was stored is harmless on its own
    status, _h, listing = call(cluster.proxy_url, 'GET', '%s/%s_segments' % (
        base, container), auth)
    names = listing.decode().split()
    assert status == 200 and len(names) == 7
    for name in names:
        status, _h, body = call(cluster.proxy_url, 'GET', '%s/%s_segments/%s'
                                % (base, container, name), auth)
        assert status == 200 and len(body) <= 10


def test_a_virus_split_across_dlo_segments_is_cut_off(cluster, owner):
    container, auth = owner
    url = cluster.proxy_url
    for i in range(0, len(EICAR_TEST_FILE), 10):
        assert call(url, 'PUT', '%s/dlo-seg/%03d' % (container, i), auth,
                    EICAR_TEST_FILE[i:i + 10])[0] == 201
    assert call(url, 'PUT', container + '/dlo', dict(auth, **{
        'X-Object-Manifest': '%s/dlo-seg/' % container.split('/')[-1]}),
        b'')[0] == 201
    status, got, short = raw_get(url, container + '/dlo', auth)
    # cut off: a dropped connection after the headers, or (when the server
    # had not flushed the headers yet) an error status; never the whole file
    assert (status == 200 and short) or status >= 500
    assert EICAR_TEST_FILE not in got


@pytest.fixture(scope='module')
def unscanned(cluster):
    """A proxy on the same cluster without the clamav filter."""
    pipeline = cluster.aio.pipeline.replace(' clamav', '')
    with cluster.extra_proxy('proxy-no-clamav', pipeline=pipeline) as extra:
        yield extra.url


@pytest.mark.parametrize('size', [1000, 2 * 1024 * 1024],
                         ids=['one-chunk', 'many-chunks'])
def test_an_unscanned_infected_object_is_caught_on_first_read(
        cluster, owner, unscanned, size):
    container, auth = owner
    path = container + '/old-virus-%d' % size
    body = b'x' * size + EICAR_TEST_FILE
    assert call(unscanned, 'PUT', path, auth, body)[0] == 201
    headers = call(cluster.proxy_url, 'HEAD', path, auth)[1]
    assert 'x-object-av-verdict' not in headers     # HEAD does not scan
    status, got, short = raw_get(cluster.proxy_url, path, auth)
    if size > 1000:          # the answer began: the body is cut short
        assert status == 200 and short and len(got) < len(body)
    else:                    # judged before any byte was sent
        assert status == 403 and b'EICAR' in got
    headers = wait_for_verdict(cluster.proxy_url, path, auth, 'infected')
    assert headers['x-object-av-verdict'] == 'infected'
    status, _h, answer = call(cluster.proxy_url, 'GET', path, auth)
    assert status == 403 and b'EICAR' in answer


def test_an_unscanned_clean_object_is_served_and_recorded(
        cluster, owner, unscanned):
    container, auth = owner
    path = container + '/old-clean'
    body = os.urandom(300000)
    assert call(unscanned, 'PUT', path, dict(
        auth, **{'X-Object-Meta-Kept': 'yes'}), body)[0] == 201
    status, got, short = raw_get(cluster.proxy_url, path, auth)
    assert (status, got, short) == (200, body, False)
    headers = wait_for_verdict(cluster.proxy_url, path, auth, 'clean')
    assert headers['x-object-av-verdict'] == 'clean'
    assert headers['x-object-av-signatures']


def test_a_ranged_read_of_an_unscanned_object_scans_it_whole(
        cluster, owner, unscanned):
    container, auth = owner
    path = container + '/old-ranged'
    assert call(unscanned, 'PUT', path, auth,
                b'y' * 1000 + EICAR_TEST_FILE)[0] == 201
    status, _h, _b = call(cluster.proxy_url, 'GET', path,
                          dict(auth, Range='bytes=0-99'))
    assert status == 403
