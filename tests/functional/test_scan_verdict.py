"""The scan verdict through the full default pipeline (real clamd).

The verdict is system metadata: it never shows up as, or counts against,
the client's own metadata, survives a metadata POST, and travels with a
server-side copy; reads show it as ``X-Object-Av-*``.
"""
import uuid
from urllib.parse import urlparse

import pytest

from objproxy.common.constraints import raise_header_limit
from tests.functional.test_pipeline import call

raise_header_limit()         # answers carry 90 metadata headers and more


@pytest.fixture(scope='module')
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    path = urlparse(storage_url).path
    container = '%s/verdict-%s' % (path, uuid.uuid4().hex[:8])
    status, _h, _b = call(cluster.proxy_url, 'PUT', container,
                          {'X-Auth-Token': token})
    assert status == 201
    return cluster.proxy_url, container, {'X-Auth-Token': token}


def test_a_clean_upload_reads_back_its_verdict(owner):
    url, container, auth = owner
    assert call(url, 'PUT', container + '/clean', auth, b'hello')[0] == 201
    status, headers, _body = call(url, 'HEAD', container + '/clean', auth)
    assert status == 200
    assert headers['x-object-av-verdict'] == 'clean'
    assert headers['x-object-av-engine'].startswith('ClamAV ')
    assert headers['x-object-av-scanned-at'].endswith('Z')
    assert not any(name.startswith('x-object-meta-') for name in headers)
    assert not any('sysmeta' in name for name in headers)


def test_swifts_maximum_metadata_fits_beside_the_verdict(owner):
    url, container, auth = owner
    meta = dict(auth)
    meta.update(('X-Object-Meta-K%02d' % i, 'v') for i in range(90))
    assert call(url, 'PUT', container + '/full', meta, b'x')[0] == 201
    _s, headers, _b = call(url, 'GET', container + '/full', auth)
    assert sum(1 for n in headers if n.startswith('x-object-meta-')) == 90
    assert headers['x-object-av-verdict'] == 'clean'


def test_the_verdict_survives_post_and_travels_with_a_copy(owner):
    url, container, auth = owner
    assert call(url, 'PUT', container + '/src', auth, b'data')[0] == 201
    assert call(url, 'POST', container + '/src',
                dict(auth, **{'X-Object-Meta-Color': 'red'}))[0] == 202
    _s, headers, _b = call(url, 'HEAD', container + '/src', auth)
    assert headers['x-object-meta-color'] == 'red'
    assert headers['x-object-av-verdict'] == 'clean'
    copy = dict(auth, **{'X-Copy-From': container.split('/')[-1] + '/src'})
    assert call(url, 'PUT', container + '/dst', copy, b'')[0] == 201
    _s, headers, _b = call(url, 'HEAD', container + '/dst', auth)
    assert headers['x-object-av-verdict'] == 'clean'


def test_a_client_cannot_forge_a_verdict(owner):
    url, container, auth = owner
    forged = dict(auth, **{'X-Object-Sysmeta-Av-Verdict': 'forged',
                           'X-Object-Av-Verdict': 'forged'})
    assert call(url, 'PUT', container + '/f', forged, b'x')[0] == 201
    assert call(url, 'POST', container + '/f', forged)[0] == 202
    _s, headers, _b = call(url, 'HEAD', container + '/f', auth)
    assert headers['x-object-av-verdict'] == 'clean'


def test_a_client_cannot_send_a_verdict_update(owner):
    """The gatekeeper strips X-Backend-* and sysmeta from clients: a POST
    dressed as a verdict update is an ordinary metadata POST."""
    url, container, auth = owner
    assert call(url, 'PUT', container + '/u', dict(auth, **{
        'X-Object-Meta-Color': 'blue'}), b'x')[0] == 201
    forged = dict(auth, **{'X-Backend-Verdict-Update': 'true',
                           'X-Object-Sysmeta-Av-Verdict': 'infected',
                           'X-Object-Meta-Shape': 'round'})
    assert call(url, 'POST', container + '/u', forged)[0] == 202
    _s, headers, _b = call(url, 'HEAD', container + '/u', auth)
    assert headers['x-object-av-verdict'] == 'clean'
    assert headers['x-object-meta-shape'] == 'round'   # a normal POST
    assert 'x-object-meta-color' not in headers
    assert call(url, 'GET', container + '/u', auth)[0] == 200


def test_info_lists_the_scanning_settings(cluster):
    info = cluster.info()['clamav']
    assert info['scan_on_read'] == 'missing'
    assert info['deny_infected_reads'] is True
    assert 'X-Object-Av-Signatures' in info['verdict_headers']
