"""AccountController through the proxy Application, over real storage
nodes (tests/unit/proxy/storage_nodes.py): autocreate, listings, metadata,
the ACL only owners see, and account management switched off and on."""
import json

import pytest
from webob import Response

from objproxy.proxy.info import cache_key
from tests.unit.proxy.storage_nodes import make_cluster


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory.mktemp('accounts'),
                           allow_account_management='true')
    yield cluster
    cluster.stop()


@pytest.fixture(scope='module')
def no_autocreate(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory.mktemp('no-autocreate'),
                           account_autocreate='false')
    yield cluster
    cluster.stop()


def stored_on_nodes(cluster, account):
    """How many nodes hold the account (asked directly, not via the
    proxy: its answer for a missing account is made up)."""
    ring = cluster.proxy.account_ring
    part, nodes = ring.get_nodes(account)
    found = 0
    for node in nodes:
        index = [n.port for n in cluster.nodes].index(node['port'])
        resp = cluster.node_request(index, '/%s/%d/%s' % (
            node['device'], part, account))
        found += resp.status_int // 100 == 2
    return found


def as_user(owner):
    """An auth hook that lets everyone through; ``owner`` says whether
    the request may see owner-only headers."""
    return {'swift.authorize': lambda req: None, 'swift_owner': owner}


# --- reading ------------------------------------------------------------------

def test_an_unused_account_reads_as_empty_without_being_created(cluster):
    head = cluster.request('/v1/AUTH_fresh', 'HEAD')
    assert head.status_int == 204
    assert head.headers['X-Account-Container-Count'] == '0'
    assert head.headers['X-Account-Bytes-Used'] == '0'
    get = cluster.request('/v1/AUTH_fresh')
    assert get.status_int == 200
    assert json.loads(get.body) == []
    assert get.content_type == 'application/json'
    assert stored_on_nodes(cluster, 'AUTH_fresh') == 0


def test_without_autocreate_an_unused_account_is_404(no_autocreate):
    assert no_autocreate.request('/v1/AUTH_none', 'HEAD').status_int == 404
    assert no_autocreate.request('/v1/AUTH_none').status_int == 404
    assert no_autocreate.request('/v1/AUTH_none/c', 'PUT').status_int == 404


def test_a_listing_names_the_containers_and_caches_the_info(cluster):
    for name in ('b', 'a'):
        assert cluster.request('/v1/AUTH_list/' + name,
                               'PUT').status_int == 201
    resp = cluster.request('/v1/AUTH_list')
    assert resp.status_int == 200
    assert [row['name'] for row in json.loads(resp.body)] == ['a', 'b']
    assert resp.headers['X-Account-Container-Count'] == '2'
    assert 'Last-Modified' in resp.headers
    info = cluster.last_environ['swift.infocache'][cache_key('AUTH_list')]
    assert info['status'] == 200 and info['container_count'] == 2
    assert stored_on_nodes(cluster, 'AUTH_list') == 3


def test_a_listing_is_asked_as_json_with_the_clients_parameters(cluster):
    for name in ('x1', 'x2', 'y1'):
        cluster.request('/v1/AUTH_params/' + name, 'PUT')
    resp = cluster.request('/v1/AUTH_params?format=xml&prefix=x&limit=1'
                           '&marker=x1')
    assert resp.status_int == 200
    assert [row['name'] for row in json.loads(resp.body)] == ['x2']


def test_a_listing_limit_over_the_maximum_is_412(cluster):
    resp = cluster.request('/v1/AUTH_list?limit=10001')
    assert resp.status_int == 412
    assert b'Maximum limit is 10000' in resp.body
    # not a whole number: the default, as in Swift
    assert cluster.request('/v1/AUTH_list?limit=ten').status_int == 200


def test_a_denied_read_is_the_auth_hooks_answer(cluster):
    env = {'swift.authorize': lambda req: Response(status=401)}
    assert cluster.request('/v1/AUTH_list', environ=env).status_int == 401
    assert cluster.request('/v1/AUTH_list', 'HEAD',
                           environ=env).status_int == 401


# --- metadata ------------------------------------------------------------------

def test_post_to_an_unused_account_creates_it_with_the_metadata(cluster):
    resp = cluster.request('/v1/AUTH_meta', 'POST',
                           headers={'X-Account-Meta-Color': 'red'})
    assert resp.status_int == 204
    assert resp.content_type == 'text/html'
    assert stored_on_nodes(cluster, 'AUTH_meta') == 3
    head = cluster.request('/v1/AUTH_meta', 'HEAD')
    assert head.headers['X-Account-Meta-Color'] == 'red'
    cluster.request('/v1/AUTH_meta', 'POST',
                    headers={'X-Remove-Account-Meta-Color': 'x'})
    assert 'X-Account-Meta-Color' not in cluster.request(
        '/v1/AUTH_meta', 'HEAD').headers


def test_metadata_past_the_limits_is_400_and_not_stored(cluster):
    resp = cluster.request('/v1/AUTH_badmeta', 'POST', headers={
        'X-Account-Meta-' + 'n' * 200: 'v'})
    assert resp.status_int == 400
    resp = cluster.request('/v1/AUTH_badmeta', 'POST', headers={
        'X-Account-Access-Control': 'not json'})
    assert resp.status_int == 400
    assert b'X-Account-Access-Control' in resp.body
    assert stored_on_nodes(cluster, 'AUTH_badmeta') == 0


def test_only_owners_see_the_account_acl(cluster):
    acl = json.dumps({'read-only': ['bob']})
    resp = cluster.request('/v1/AUTH_acl', 'POST', headers={
        'X-Account-Access-Control': acl})
    assert resp.status_int == 204
    owner = cluster.request('/v1/AUTH_acl', 'HEAD', environ=as_user(True))
    assert json.loads(owner.headers['X-Account-Access-Control']) == {
        'read-only': ['bob']}
    other = cluster.request('/v1/AUTH_acl', 'HEAD', environ=as_user(False))
    assert other.status_int == 204
    # (the sysmeta copy is the gatekeeper filter's to strip, left of us)
    assert 'X-Account-Access-Control' not in other.headers


# --- management ----------------------------------------------------------------

def test_put_and_delete_need_account_management(no_autocreate):
    for method in ('PUT', 'DELETE'):
        resp = no_autocreate.request('/v1/AUTH_managed', method)
        assert resp.status_int == 405
        assert 'PUT' in resp.headers['Allow']
    allow = no_autocreate.request('/v1/AUTH_managed', 'OPTIONS').headers[
        'Allow']
    assert allow == 'GET, HEAD, OPTIONS, POST'


def test_an_admin_creates_and_deletes_an_account(cluster):
    allow = cluster.request('/v1/AUTH_admin', 'OPTIONS').headers['Allow']
    assert allow == 'DELETE, GET, HEAD, OPTIONS, POST, PUT'
    resp = cluster.request('/v1/AUTH_admin', 'PUT',
                           headers={'X-Account-Meta-Owner': 'ops'})
    assert resp.status_int == 201
    assert stored_on_nodes(cluster, 'AUTH_admin') == 3
    assert cluster.request('/v1/AUTH_admin', 'HEAD').headers[
        'X-Account-Meta-Owner'] == 'ops'
    assert cluster.request('/v1/AUTH_admin?x=1', 'DELETE').status_int == 400
    assert stored_on_nodes(cluster, 'AUTH_admin') == 3
    assert cluster.request('/v1/AUTH_admin', 'DELETE').status_int == 204
    # a deleted account answers 404 on its nodes, not 2xx
    assert stored_on_nodes(cluster, 'AUTH_admin') == 0


def test_a_denied_write_reaches_no_node(cluster):
    env = {'swift.authorize': lambda req: Response(status=403)}
    for method in ('POST', 'PUT', 'DELETE'):
        resp = cluster.request('/v1/AUTH_denied', method, environ=env,
                               headers={'X-Account-Meta-A': 'b'})
        assert resp.status_int == 403
    assert stored_on_nodes(cluster, 'AUTH_denied') == 0
