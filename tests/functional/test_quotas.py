"""Container and account quotas through a real cluster.

Container quotas are the owner's to set; account quotas only a reseller
admin's (tempauth's ``.reseller_admin``), and both refuse an upload -- a
server-side copy included -- that would exceed them with Swift's 413.
"""
import json
import uuid
from urllib.parse import urlparse

import pytest

from tests.functional.test_pipeline import call

EXCEEDED = b'Upload exceeds quota.'


@pytest.fixture(scope='module')
def proxy(cluster):
    with cluster.extra_proxy('proxy-quotas') as extra:
        yield extra


@pytest.fixture(scope='module')
def owner(cluster, proxy):
    storage_url, token = cluster.token('test:tester', 'testing')
    return urlparse(storage_url).path, {'X-Auth-Token': token}


@pytest.fixture(scope='module')
def reseller(cluster, proxy):
    _url, token = cluster.token('admin:admin', 'admin')
    return {'X-Auth-Token': token}


@pytest.fixture(scope='module')
def test2(cluster, proxy):
    storage_url, token = cluster.token('test2:tester2', 'testing2')
    return urlparse(storage_url).path, {'X-Auth-Token': token}


def new_container(proxy, account, auth, **headers):
    path = '%s/quota-%s' % (account, uuid.uuid4().hex[:8])
    assert call(proxy.url, 'PUT', path, dict(auth, **headers))[0] == 201
    return path


def test_info_lists_both_quota_filters(proxy):
    info = json.loads(call(proxy.url, 'GET', '/info')[2])
    assert info['container_quotas'] == {}
    assert info['account_quotas'] == {}


def test_container_byte_quota(proxy, owner):
    account, auth = owner
    path = new_container(proxy, account, auth,
                         **{'X-Container-Meta-Quota-Bytes': '10'})
    status, _h, body = call(proxy.url, 'PUT', path + '/big', auth,
                            b'01234567890')
    assert (status, body) == (413, EXCEEDED)
    assert call(proxy.url, 'PUT', path + '/fits', auth,
                b'0123456789')[0] == 201
    assert call(proxy.url, 'HEAD', path + '/big', auth)[0] == 404


def test_container_count_quota(proxy, owner):
    # usage comes from the cached container info (as in Swift), so a
    # quota of 0 is what a test can rely on without waiting for expiry
    account, auth = owner
    path = new_container(proxy, account, auth,
                         **{'X-Container-Meta-Quota-Count': '0'})
    status, _h, body = call(proxy.url, 'PUT', path + '/one', auth, b'1')
    assert (status, body) == (413, EXCEEDED)
    assert call(proxy.url, 'POST', path, dict(
        auth, **{'X-Container-Meta-Quota-Count': '1'}))[0] == 204
    assert call(proxy.url, 'PUT', path + '/one', auth, b'1')[0] == 201


def test_a_bad_container_quota_is_400(proxy, owner):
    account, auth = owner
    path = new_container(proxy, account, auth)
    status, _h, body = call(proxy.url, 'POST', path,
                            dict(auth, **{'X-Container-Meta-Quota-Bytes':
                                          'ten'}))
    assert (status, body) == (400, b'Invalid bytes quota.')


def test_a_copy_counts_against_the_container_quota(proxy, owner):
    account, auth = owner
    source = new_container(proxy, account, auth)
    assert call(proxy.url, 'PUT', source + '/src', auth, b'x' * 100)[0] == 201
    target = new_container(proxy, account, auth,
                           **{'X-Container-Meta-Quota-Bytes': '50'})
    copy_from = source.split('/', 3)[3] + '/src'
    status, _h, body = call(proxy.url, 'PUT', target + '/copy',
                            dict(auth, **{'X-Copy-From': copy_from}), b'')
    assert (status, body) == (413, EXCEEDED)
    status, _h, body = call(proxy.url, 'COPY', source + '/src',
                            dict(auth, Destination=target.split('/', 3)[3] +
                                 '/copy2'))
    assert (status, body) == (413, EXCEEDED)


def post_account(proxy, account, auth, headers):
    return call(proxy.url, 'POST', account, dict(auth, **headers))[0]


@pytest.mark.parametrize('header', [
    'X-Account-Quota-Bytes', 'X-Account-Meta-Quota-Bytes',
    'X-Account-Quota-Count', 'X-Account-Quota-Bytes-Policy-Policy-0'])
def test_an_account_owner_cannot_set_its_quota(proxy, test2, header):
    account, auth = test2
    assert post_account(proxy, account, auth, {header: '0'}) == 403


@pytest.fixture
def quota(proxy, test2, reseller):
    """Sets account test2's quota headers as the reseller; removes them
    afterwards."""
    account, _auth = test2
    set_headers = []

    def setter(headers):
        set_headers.extend(headers)
        assert post_account(proxy, account, reseller, headers) == 204
    yield setter
    post_account(proxy, account, reseller,
                 dict(('X-Remove-' + h[2:], 't') for h in set_headers))


def test_an_account_byte_quota_refuses_uploads_past_it(proxy, test2, quota):
    account, auth = test2
    path = new_container(proxy, account, auth)
    quota({'X-Account-Quota-Bytes': '0'})
    status, headers, _b = call(proxy.url, 'HEAD', account, auth)
    assert headers['x-account-quota-bytes'] == '0'
    status, _h, body = call(proxy.url, 'PUT', path + '/o', auth, b'data')
    assert (status, body) == (413, EXCEEDED)
    assert call(proxy.url, 'PUT', path + '/empty', auth, b'')[0] == 201


def test_an_account_count_quota_refuses_new_objects(proxy, test2, quota):
    account, auth = test2
    path = new_container(proxy, account, auth)
    quota({'X-Account-Quota-Count': '0'})
    status, _h, body = call(proxy.url, 'PUT', path + '/o', auth, b'')
    assert (status, body) == (413, EXCEEDED)


def test_a_policy_quota_is_shown_and_enforced(proxy, test2, quota):
    account, auth = test2
    path = new_container(proxy, account, auth)
    quota({'X-Account-Quota-Bytes-Policy-Policy-0': '0'})
    _s, headers, _b = call(proxy.url, 'HEAD', account, auth)
    assert headers['x-account-quota-bytes-policy-policy-0'] == '0'
    status, _h, body = call(proxy.url, 'PUT', path + '/o', auth, b'data')
    assert (status, body) == (413, b'Upload exceeds policy quota.')


def test_removing_the_quota_lets_uploads_in_again(proxy, test2, reseller):
    account, auth = test2
    path = new_container(proxy, account, auth)
    assert post_account(proxy, account, reseller,
                        {'X-Account-Meta-Quota-Bytes': '0'}) == 204
    assert call(proxy.url, 'PUT', path + '/o', auth, b'data')[0] == 413
    assert post_account(proxy, account, reseller,
                        {'X-Remove-Account-Meta-Quota-Bytes': 't'}) == 204
    _s, headers, _b = call(proxy.url, 'HEAD', account, auth)
    assert 'x-account-quota-bytes' not in headers
    assert call(proxy.url, 'PUT', path + '/o', auth, b'data')[0] == 201


def test_a_reseller_quota_must_be_a_number(proxy, test2, reseller):
    account, _auth = test2
    assert post_account(proxy, account, reseller,
                        {'X-Account-Quota-Bytes': 'lots'}) == 400
