"""object_versioning_containers: switching versioning on and off for a
container and tying the hidden container's life to the client's one.

The functions are called directly against the in-memory Swift of
test_object_versioning; ``Faulty`` in front of it answers chosen requests
with an error, to reach the failure branches.
"""
import pytest
from webob import Request, Response

from middleware.object_versioning_containers import (
    delete_container, enable_versioning, show_enabled, versions_stats)
from middleware.object_versioning_internal import VersioningError
from tests.unit.middleware.test_object_versioning import (
    VCONT, FakeSwift, tempauth_like)

HIDDEN = '/v1/a/' + VCONT


class Faulty(object):
    """FakeSwift, except that ``(method, path)`` in ``faults`` answers the
    given status."""

    def __init__(self, swift, faults):
        self.swift = swift
        self.faults = faults

    def __call__(self, env, start_response):
        path = env['PATH_INFO'].encode('latin-1').decode('utf-8')
        status = self.faults.get((env['REQUEST_METHOD'], path))
        if status is not None:
            self.swift.calls.append((env['REQUEST_METHOD'], path, 'fault'))
            return Response(status=status)(env, start_response)
        return self.swift(env, start_response)


@pytest.fixture
def swift():
    return FakeSwift()


def client_req(method, path='/v1/a/c', user=None, **headers):
    environ = {'REQUEST_METHOD': method}
    if user:
        environ['swift.authorize'] = tempauth_like(user)
    return Request.blank(path, environ=environ, headers=headers)


def calls(swift):
    return [(method, path) for method, path, _allow in swift.calls]


def versioned(swift, versions=0):
    """Container c with versioning on and ``versions`` hidden objects."""
    resp = enable_versioning(swift, client_req(
        'PUT', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert resp.status_int == 201
    for i in range(versions):
        swift.containers[VCONT]['objects']['\x00o\x00%d' % i] = {
            'body': b'v', 'headers': {}, 'etag': 'e', 'ts': '1'}
    swift.calls[:] = []


# --- enabling ------------------------------------------------------------------

def test_enabling_creates_the_hidden_container_then_the_clients(swift):
    req = client_req('PUT', **{'X-Versions-Enabled': 'yes'})
    resp = enable_versioning(swift, req, 'a', 'c')
    assert resp.status_int == 201
    puts = [(m, p, allow) for m, p, allow in swift.calls if m == 'PUT']
    assert puts == [('PUT', HIDDEN, True), ('PUT', '/v1/a/c', False)]
    sysmeta = swift.containers['c']['sysmeta']
    assert sysmeta['X-Container-Sysmeta-Versions-Enabled'] == 'True'
    assert sysmeta['X-Container-Sysmeta-Versions-Container'] == \
        '%00versions%00c'


def test_enabling_again_reuses_the_hidden_container(swift):
    versioned(swift, versions=1)
    resp = enable_versioning(swift, client_req(
        'POST', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert resp.status_int == 204
    assert VCONT in swift.containers
    # the hidden PUT answered 202 (exists): it is never deleted
    assert ('DELETE', HIDDEN) not in calls(swift)
    assert len(swift.containers[VCONT]['objects']) == 1


def test_disabling_records_false_and_touches_no_hidden_container(swift):
    versioned(swift)
    resp = enable_versioning(swift, client_req(
        'POST', **{'X-Versions-Enabled': 'off'}), 'a', 'c')
    assert resp.status_int == 204
    assert [p for m, p in calls(swift) if m in ('PUT', 'DELETE')] == []
    assert swift.containers['c']['sysmeta'][
        'X-Container-Sysmeta-Versions-Enabled'] == 'False'
    # the versions already kept stay where they are
    assert VCONT in swift.containers


def test_disabling_a_new_container_creates_no_hidden_one(swift):
    resp = enable_versioning(swift, client_req(
        'PUT', **{'X-Versions-Enabled': 'false'}), 'a', 'c')
    assert resp.status_int == 201
    assert list(swift.containers) == ['c']


@pytest.mark.parametrize('sysmeta', [
    {'X-Container-Sysmeta-Versions-Location': 'archive'},
    {'X-Versions-Location': 'archive'},
], ids=['sysmeta', 'x-versions-location'])
def test_a_legacy_versioned_container_cannot_enable(swift, sysmeta):
    swift.containers['c'] = {'sysmeta': sysmeta, 'objects': {}}
    with pytest.raises(VersioningError) as err:
        enable_versioning(swift, client_req(
            'POST', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert err.value.response.status_int == 400
    assert b'legacy versioned writes' in err.value.response.body
    assert VCONT not in swift.containers


def test_a_failed_hidden_container_is_a_500_before_the_clients(swift):
    app = Faulty(swift, {('PUT', HIDDEN): 503})
    with pytest.raises(VersioningError) as err:
        enable_versioning(app, client_req(
            'PUT', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert err.value.response.status_int == 500
    assert swift.containers == {}


def test_a_hidden_container_that_conflicts_still_enables(swift):
    app = Faulty(swift, {('PUT', HIDDEN): 409})
    resp = enable_versioning(app, client_req(
        'PUT', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert resp.status_int == 201
    assert swift.containers['c']['sysmeta'][
        'X-Container-Sysmeta-Versions-Enabled'] == 'True'


def test_a_refused_client_container_removes_the_new_hidden_one(swift):
    app = Faulty(swift, {('PUT', '/v1/a/c'): 507})
    resp = enable_versioning(app, client_req(
        'PUT', **{'X-Versions-Enabled': 'true'}), 'a', 'c')
    assert resp.status_int == 507
    assert ('DELETE', HIDDEN) in calls(swift)
    assert swift.containers == {}


def test_enabling_needs_the_owner(swift):
    swift.containers['c'] = {'sysmeta': {}, 'objects': {},
                             'read_acl': 'reader'}
    req = client_req('POST', user='reader', **{'X-Versions-Enabled': 'true'})
    with pytest.raises(VersioningError) as err:
        enable_versioning(swift, req, 'a', 'c')
    assert err.value.response.status_int == 403
    assert VCONT not in swift.containers
    owner = client_req('POST', user='owner', **{'X-Versions-Enabled': 'true'})
    assert enable_versioning(swift, owner, 'a', 'c').status_int == 204
    assert VCONT in swift.containers


def test_an_authorize_override_skips_the_owner_check(swift):
    swift.containers['c'] = {'sysmeta': {}, 'objects': {}}
    req = client_req('POST', user='stranger', **{'X-Versions-Enabled': '1'})
    req.environ['swift.authorize_override'] = True
    assert enable_versioning(swift, req, 'a', 'c').status_int == 204


# --- what clients see ----------------------------------------------------------

def test_show_enabled_copies_the_sysmeta_flag():
    resp = show_enabled(Response(headers={
        'X-Container-Sysmeta-Versions-Enabled': 'False'}))
    assert resp.headers['X-Versions-Enabled'] == 'False'
    plain = show_enabled(Response())
    assert 'X-Versions-Enabled' not in plain.headers


def test_versions_stats_heads_the_hidden_container(swift):
    versioned(swift, versions=2)
    env = client_req('HEAD').environ
    resp = versions_stats(swift, env, 'a', VCONT)
    assert resp.status_int == 204
    assert resp.headers['X-Container-Object-Count'] == '2'
    assert swift.calls == [('HEAD', HIDDEN, True)]


# --- deleting --------------------------------------------------------------------

def test_deleting_an_unversioned_container_is_passed_straight_on(swift):
    swift.containers['c'] = {'sysmeta': {}, 'objects': {}}
    resp = delete_container(swift, client_req('DELETE'), 'a', 'c')
    assert resp.status_int == 204
    assert [m for m, _p in calls(swift)] == ['HEAD', 'DELETE']


def test_deleting_refuses_while_versions_remain(swift):
    versioned(swift, versions=1)
    with pytest.raises(VersioningError) as err:
        delete_container(swift, client_req('DELETE'), 'a', 'c')
    assert err.value.response.status_int == 409
    assert b'Delete all versions' in err.value.response.body
    assert set(swift.containers) == {'c', VCONT}


def test_deleting_removes_the_empty_hidden_container_first(swift):
    versioned(swift)
    resp = delete_container(swift, client_req('DELETE'), 'a', 'c')
    assert resp.status_int == 204
    assert [p for m, p in calls(swift) if m == 'DELETE'] == [
        HIDDEN, '/v1/a/c']
    assert swift.containers == {}


def test_a_hidden_container_already_gone_does_not_block_deleting(swift):
    versioned(swift)
    del swift.containers[VCONT]
    resp = delete_container(swift, client_req('DELETE'), 'a', 'c')
    assert resp.status_int == 204
    assert swift.containers == {}


@pytest.mark.parametrize('fault', [('HEAD', 503), ('DELETE', 503)],
                         ids=['head', 'delete'])
def test_a_hidden_container_error_keeps_the_clients_container(swift, fault):
    versioned(swift)
    app = Faulty(swift, {(fault[0], HIDDEN): fault[1]})
    with pytest.raises(VersioningError) as err:
        delete_container(app, client_req('DELETE'), 'a', 'c')
    assert err.value.response.status_int == 500
    assert 'c' in swift.containers


def test_a_non_owner_is_refused_before_the_hidden_container(swift):
    versioned(swift)
    with pytest.raises(VersioningError) as err:
        delete_container(swift, client_req('DELETE', user='reader'),
                         'a', 'c')
    assert err.value.response.status_int == 403
    assert [p for m, p in calls(swift) if p == HIDDEN] == []
    assert set(swift.containers) == {'c', VCONT}
