"""Quoted ETags by opt-in, through the shipped pipeline and real nodes.

Clients that follow RFC 7232 want ``ETag: "<md5>"``; Swift clients expect
the bare MD5.  An account or container opts in with Swift's flags, a
container's ``false`` overrides its account's ``true``, and a removed flag
falls back to the bare form.
"""
import hashlib
import uuid
from urllib.parse import urlparse

import pytest

from tests.functional.test_pipeline import call

BODY = b'etag me'
BARE = hashlib.md5(BODY).hexdigest()


@pytest.fixture(scope='module')
def account(cluster):
    """The admin user's own account, which other tests keep no objects
    in, so the account flag changes no other test's ETags."""
    storage_url, token = cluster.token('admin:admin', 'admin')
    path = urlparse(storage_url).path
    auth = {'X-Auth-Token': token}
    yield path, auth
    call(cluster.proxy_url, 'POST', path,
         dict(auth, **{'X-Remove-Account-Rfc-Compliant-Etags': 'x'}))


def stored_object(cluster, account, **container_headers):
    path, auth = account
    cont = '%s/quote-%s' % (path, uuid.uuid4().hex[:8])
    assert call(cluster.proxy_url, 'PUT', cont,
                dict(auth, **container_headers))[0] in (201, 202)
    status, headers, _b = call(cluster.proxy_url, 'PUT', cont + '/obj',
                               auth, BODY)
    assert status == 201
    return cont


def etag(cluster, account, cont, method='GET'):
    status, headers, _b = call(cluster.proxy_url, method, cont + '/obj',
                               account[1])
    assert status == 200
    return headers['etag']


def test_a_container_flag_quotes_its_object_etags(cluster, account):
    plain = stored_object(cluster, account)
    quoted = stored_object(cluster, account, **{
        'X-Container-Rfc-Compliant-Etags': 'true'})
    assert etag(cluster, account, plain) == BARE
    for method in ('GET', 'HEAD'):
        assert etag(cluster, account, quoted, method) == '"%s"' % BARE
    headers = call(cluster.proxy_url, 'HEAD', quoted, account[1])[1]
    # shown back as stored, Swift's spelling of a true flag
    assert headers['x-container-rfc-compliant-etags'] == 'True'


def test_a_containers_false_overrides_its_accounts_true(cluster, account):
    path, auth = account
    opted_out = stored_object(cluster, account, **{
        'X-Container-Rfc-Compliant-Etags': 'false'})
    inherits = stored_object(cluster, account)
    assert call(cluster.proxy_url, 'POST', path, dict(auth, **{
        'X-Account-Rfc-Compliant-Etags': 'true'}))[0] == 204
    assert etag(cluster, account, inherits) == '"%s"' % BARE
    assert etag(cluster, account, opted_out) == BARE
    assert call(cluster.proxy_url, 'POST', path, dict(auth, **{
        'X-Remove-Account-Rfc-Compliant-Etags': 'x'}))[0] == 204
    assert etag(cluster, account, inherits) == BARE
