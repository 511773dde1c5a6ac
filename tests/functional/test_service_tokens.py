"""Service accounts (SERVICE_<account>): the user's token and a service's
token together, never either alone (tempauth's <PREFIX>_require_group)."""
import pytest

from tests.functional.proxy_cluster import (  # noqa: F401 (fixtures)
    Client, client, pcluster)


@pytest.fixture(scope='module')
def service(pcluster):
    return Client(pcluster, 'test5:tester5', 'testing5')


def service_path(client):
    return client.base.replace('/AUTH_', '/SERVICE_')


def test_the_user_and_a_service_together_may_use_the_service_account(
        client, service):
    path = service_path(client) + '/svc-data'
    resp = client.raw('PUT', path, headers={'X-Service-Token': service.token})
    assert resp.status in (201, 202)
    resp = client.raw('HEAD', path, headers={
        'X-Service-Token': service.token})
    assert resp.status == 204


@pytest.mark.parametrize('who', ['user', 'service'])
def test_either_token_alone_is_refused(client, service, who):
    path = service_path(client)
    actor = client if who == 'user' else service
    resp = actor.raw('POST', path, headers={'X-Account-Meta-X': 'y'})
    assert resp.status == 403
    resp = actor.raw('GET', path + '/svc-data')
    assert resp.status == 403
