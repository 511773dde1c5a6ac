"""ContainerController through the proxy Application, over real storage
nodes (tests/unit/proxy/storage_nodes.py), and its helpers on their own:
listing parameters, the JSON backend query and the account updates each
container replica is told about."""
import json

import pytest
from webob import Request, Response

from objproxy.common.timestamp import Timestamp
from objproxy.proxy.controllers.container import (
    DEFAULT_POLICY, account_update_headers, check_listing_params,
    json_listing_query)
from tests.unit.proxy.storage_nodes import make_cluster


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory.mktemp('containers'))
    yield cluster
    cluster.stop()


def node_indexes(cluster, account, container=None):
    """(part, [(index of the node, device)]) of the ring's primaries."""
    ring = cluster.proxy.container_ring if container else \
        cluster.proxy.account_ring
    args = (account, container) if container else (account,)
    part, nodes = ring.get_nodes(*args)
    ports = [n.port for n in cluster.nodes]
    return part, [(ports.index(n['port']), n['device']) for n in nodes]


def stored_copies(cluster, account, container):
    part, nodes = node_indexes(cluster, account, container)
    return sum(cluster.node_request(i, '/%s/%d/%s/%s' % (
        dev, part, account, container)).status_int // 100 == 2
        for i, dev in nodes)


def add_rows(cluster, account, container, names):
    """Object rows written straight to every container replica, as the
    object servers' updates would."""
    part, nodes = node_indexes(cluster, account, container)
    for name in names:
        ts = Timestamp.now().internal
        for index, dev in nodes:
            resp = cluster.node_request(
                index, '/%s/%d/%s/%s/%s' % (dev, part, account, container,
                                            name), 'PUT',
                headers={'X-Timestamp': ts, 'X-Size': '3',
                         'X-Backend-Layer': 'container',
                         'X-Content-Type': 'text/plain',
                         'X-Etag': 'd41d8cd98f00b204e9800998ecf8427e'})
            assert resp.status_int == 201


# --- helpers -------------------------------------------------------------------

@pytest.mark.parametrize('query, status', [
    ('', None), ('limit=10', None), ('limit=10000', None),
    ('limit=10001', 412), ('limit=abc', None), ('limit=-5', None),
])
def test_check_listing_params(query, status):
    resp = check_listing_params(Request.blank('/v1/a/c?' + query), 10000)
    assert (resp and resp.status) == status


@pytest.mark.parametrize('query, expected', [
    (None, 'format=json'),
    ('', 'format=json'),
    ('format=xml', 'format=json'),
    ('prefix=a%20b&format=plain&limit=2', 'prefix=a%20b&limit=2&format=json'),
    ('formats=1&&marker=x', 'formats=1&marker=x&format=json'),
])
def test_json_listing_query_replaces_only_format(query, expected):
    assert json_listing_query(query) == expected


def test_every_container_replica_is_told_an_account_replica():
    anodes = [{'ip': '10.0.0.%d' % i, 'port': 6000 + i, 'device': 'd%d' % i}
              for i in range(2)]
    headers = account_update_headers(3, 5, anodes)
    assert [h['X-Account-Host'] for h in headers] == [
        '10.0.0.0:6000', '10.0.0.1:6001', '10.0.0.0:6000']
    assert {h['X-Account-Partition'] for h in headers} == {'5'}
    assert [h['X-Account-Device'] for h in headers] == ['d0', 'd1', 'd0']
    assert account_update_headers(2, 5, []) == [{}, {}]


# --- PUT ----------------------------------------------------------------------

def test_put_creates_the_account_and_every_replica(cluster):
    resp = cluster.request('/v1/AUTH_p/c1', 'PUT')
    assert resp.status_int == 201
    assert resp.body == b''
    assert resp.content_type == 'text/html'
    assert stored_copies(cluster, 'AUTH_p', 'c1') == 3
    listing = json.loads(cluster.request('/v1/AUTH_p').body)
    assert [row['name'] for row in listing] == ['c1']
    assert cluster.request('/v1/AUTH_p/c1', 'PUT').status_int == 202


@pytest.mark.parametrize('policy, status', [
    (DEFAULT_POLICY, 201), ('policy-0', 201), ('gold', 400)])
def test_only_the_one_storage_policy_is_accepted(cluster, policy, status):
    name = '/v1/AUTH_pol/c-%s' % policy
    resp = cluster.request(name, 'PUT', headers={'X-Storage-Policy': policy})
    assert resp.status_int == status
    if status == 400:
        assert b'Invalid X-Storage-Policy' in resp.body
        assert cluster.request(name, 'HEAD').status_int == 404
    else:
        head = cluster.request(name, 'HEAD')
        assert head.headers['X-Storage-Policy'] == DEFAULT_POLICY


def test_the_container_limit_refuses_new_containers_only(tmp_path):
    limited = make_cluster(tmp_path, max_containers_per_account='1')
    try:
        assert limited.request('/v1/AUTH_l/one', 'PUT').status_int == 201
        resp = limited.request('/v1/AUTH_l/two', 'PUT')
        assert resp.status_int == 403
        assert b'Reached container limit of 1' in resp.body
        assert limited.request('/v1/AUTH_l/one', 'PUT').status_int == 202
    finally:
        limited.stop()


def test_metadata_past_the_limits_is_400_and_nothing_is_made(cluster):
    resp = cluster.request('/v1/AUTH_bad/c', 'PUT', headers={
        'X-Container-Meta-' + 'n' * 200: 'v'})
    assert resp.status_int == 400
    assert stored_copies(cluster, 'AUTH_bad', 'c') == 0


def test_an_acl_the_auth_filter_cannot_clean_is_400(cluster):
    def clean(name, value):
        raise ValueError('bad ACL in %s' % name)
    resp = cluster.request('/v1/AUTH_cl/c', 'PUT', environ={
        'swift.clean_acl': clean}, headers={'X-Container-Read': '.r:*x'})
    assert resp.status_int == 400
    assert b'bad ACL in X-Container-Read' in resp.body


# --- ACLs and owners -----------------------------------------------------------

def test_only_owners_set_and_see_acls(cluster):
    owner = {'swift.authorize': lambda req: None, 'swift_owner': True}
    other = {'swift.authorize': lambda req: None}
    cluster.request('/v1/AUTH_o/c', 'PUT', environ=owner,
                    headers={'X-Container-Read': 'alice'})
    cluster.request('/v1/AUTH_o/c', 'POST', environ=other,
                    headers={'X-Container-Read': 'mallory',
                             'X-Container-Meta-Note': 'kept'})
    head = cluster.request('/v1/AUTH_o/c', 'HEAD', environ=owner)
    assert head.headers['X-Container-Read'] == 'alice'
    assert head.headers['X-Container-Meta-Note'] == 'kept'
    seen = cluster.request('/v1/AUTH_o/c', 'HEAD', environ=other)
    assert seen.status_int == 204
    assert 'X-Container-Read' not in seen.headers


def test_reads_are_authorised_against_the_containers_read_acl(cluster):
    cluster.request('/v1/AUTH_r/c', 'PUT',
                    headers={'X-Container-Read': 'bob'})
    asked = []

    def authorize(req):
        asked.append(req.acl)
        return Response(status=403) if 'bob' not in req.acl else None
    resp = cluster.request('/v1/AUTH_r/c', environ={
        'swift.authorize': authorize})
    assert resp.status_int == 200
    assert asked == ['bob']


def test_a_denied_write_reaches_no_node(cluster):
    env = {'swift.authorize': lambda req: Response(status=403)}
    for method in ('PUT', 'POST', 'DELETE'):
        assert cluster.request('/v1/AUTH_d/c', method,
                               environ=env).status_int == 403
    assert stored_copies(cluster, 'AUTH_d', 'c') == 0


# --- GET / HEAD ------------------------------------------------------------------

def test_a_listing_is_json_from_the_replicas_with_the_clients_query(cluster):
    cluster.request('/v1/AUTH_g/c', 'PUT')
    add_rows(cluster, 'AUTH_g', 'c', ['a1', 'a2', 'b1'])
    resp = cluster.request('/v1/AUTH_g/c?format=xml&prefix=a&marker=a1')
    assert resp.status_int == 200
    assert resp.content_type == 'application/json'
    rows = json.loads(resp.body)
    assert [(r['name'], r['bytes']) for r in rows] == [('a2', 3)]
    head = cluster.request('/v1/AUTH_g/c', 'HEAD')
    assert head.headers['X-Container-Object-Count'] == '3'
    assert head.headers['X-Container-Bytes-Used'] == '9'
    assert 'Last-Modified' in head.headers
    info = cluster.last_environ['swift.infocache']
    assert any(v.get('object_count') == 3 for v in info.values())


def test_a_listing_limit_over_the_maximum_is_412(cluster):
    cluster.request('/v1/AUTH_g/c', 'PUT')
    assert cluster.request('/v1/AUTH_g/c?limit=10001').status_int == 412


def test_a_missing_container_is_404(cluster):
    assert cluster.request('/v1/AUTH_g/nope').status_int == 404
    assert cluster.request('/v1/AUTH_g/nope', 'HEAD').status_int == 404


# --- POST / DELETE ------------------------------------------------------------------

def test_post_to_a_missing_container_is_404(cluster):
    resp = cluster.request('/v1/AUTH_w/none', 'POST',
                           headers={'X-Container-Meta-A': 'b'})
    assert resp.status_int == 404
    assert stored_copies(cluster, 'AUTH_w', 'none') == 0


def test_post_updates_metadata_on_the_replicas(cluster):
    cluster.request('/v1/AUTH_w/c', 'PUT',
                    headers={'X-Container-Meta-Keep': 'yes',
                             'X-Container-Meta-Drop': 'x'})
    resp = cluster.request('/v1/AUTH_w/c', 'POST', headers={
        'X-Container-Meta-New': '1', 'X-Remove-Container-Meta-Drop': 'y'})
    assert resp.status_int == 204
    assert resp.content_type == 'text/html'
    head = cluster.request('/v1/AUTH_w/c', 'HEAD')
    assert head.headers['X-Container-Meta-New'] == '1'
    assert head.headers['X-Container-Meta-Keep'] == 'yes'
    assert 'X-Container-Meta-Drop' not in head.headers


def test_delete_removes_the_container_and_updates_the_account(cluster):
    cluster.request('/v1/AUTH_del/c', 'PUT')
    resp = cluster.request('/v1/AUTH_del/c', 'DELETE')
    assert resp.status_int == 204
    assert stored_copies(cluster, 'AUTH_del', 'c') == 0
    assert json.loads(cluster.request('/v1/AUTH_del').body) == []


def test_delete_of_a_missing_container_is_404(cluster):
    assert cluster.request('/v1/AUTH_del/never',
                           'DELETE').status_int == 404


def test_delete_of_a_container_with_objects_is_409(cluster):
    cluster.request('/v1/AUTH_del/full', 'PUT')
    add_rows(cluster, 'AUTH_del', 'full', ['o'])
    assert cluster.request('/v1/AUTH_del/full', 'DELETE').status_int == 409
    assert stored_copies(cluster, 'AUTH_del', 'full') == 3
