"""Account and container controllers against real storage nodes."""
import json
import uuid

import pytest
from webob import Request

from objproxy.proxy.server import Application


def call(app, path, method='GET', headers=None, body=None):
    req = Request.blank(path, environ={'REQUEST_METHOD': method},
                        headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)


@pytest.fixture
def managing_app(nodes_cluster):
    return Application({'objproxy_dir': nodes_cluster.objproxy_dir,
                        'allow_account_management': 'true',
                        'max_containers_per_account': '2',
                        'log_file': '/dev/null'})


def test_account_put_and_delete_with_account_management(managing_app):
    account = 'AUTH_%s' % uuid.uuid4().hex[:8]
    assert call(managing_app, '/v1/' + account, 'PUT', {
        'X-Account-Meta-Owner': 'me'}).status_int == 201
    head = call(managing_app, '/v1/' + account, 'HEAD')
    assert head.status_int == 204
    assert head.headers['X-Account-Meta-Owner'] == 'me'
    assert call(managing_app, '/v1/' + account, 'DELETE').status_int == 204
    options = call(managing_app, '/v1/' + account, 'OPTIONS')
    assert 'DELETE' in options.headers['Allow']


def test_max_containers_per_account(managing_app):
    account = 'AUTH_%s' % uuid.uuid4().hex[:8]
    for name in ('one', 'two'):
        assert call(managing_app, '/v1/%s/%s' % (account, name),
                    'PUT').status_int == 201
    resp = call(managing_app, '/v1/%s/three' % account, 'PUT')
    assert resp.status_int == 403
    # an existing container may still be PUT (updated)
    assert call(managing_app, '/v1/%s/one' % account, 'PUT').status_int \
        == 202


def test_account_acl_is_stored_as_sysmeta(proxy_app):
    acl = json.dumps({'read-only': ['test:someone']})
    assert call(proxy_app, '/v1/AUTH_test', 'POST', {
        'X-Account-Access-Control': acl}).status_int == 204
    head = call(proxy_app, '/v1/AUTH_test', 'HEAD')
    assert json.loads(head.headers['X-Account-Access-Control']) == \
        json.loads(acl)
    assert call(proxy_app, '/v1/AUTH_test', 'POST', {
        'X-Account-Access-Control': 'not json'}).status_int == 400
    assert call(proxy_app, '/v1/AUTH_test', 'POST', {
        'X-Account-Access-Control': ''}).status_int == 204


def test_listing_formats_by_accept_header_and_autocreated_account(
        proxy_app):
    container = 'fmt-%s' % uuid.uuid4().hex[:8]
    call(proxy_app, '/v1/AUTH_test/' + container, 'PUT')
    call(proxy_app, '/v1/AUTH_test/%s/o' % container, 'PUT', body=b'12')
    resp = call(proxy_app, '/v1/AUTH_test/' + container,
                headers={'Accept': 'application/json'})
    assert resp.status_int == 200
    assert [o['name'] for o in json.loads(resp.body)] == ['o']
    xml = call(proxy_app, '/v1/AUTH_test/%s?format=xml' % container)
    assert b'<name>o</name>' in xml.body
    fresh = 'AUTH_%s' % uuid.uuid4().hex[:8]
    empty = call(proxy_app, '/v1/%s?format=json' % fresh)
    assert empty.status_int == 200 and json.loads(empty.body) == []
    assert call(proxy_app, '/v1/' + fresh).status_int == 204
    head = call(proxy_app, '/v1/' + fresh, 'HEAD')
    assert head.headers['X-Account-Container-Count'] == '0'


def test_container_remove_metadata(proxy_app):
    container = 'rm-%s' % uuid.uuid4().hex[:8]
    call(proxy_app, '/v1/AUTH_test/' + container, 'PUT',
         {'X-Container-Meta-A': '1', 'X-Container-Meta-B': '2'})
    assert call(proxy_app, '/v1/AUTH_test/' + container, 'POST', {
        'X-Remove-Container-Meta-A': 'x'}).status_int == 204
    head = call(proxy_app, '/v1/AUTH_test/' + container, 'HEAD')
    assert 'X-Container-Meta-A' not in head.headers
    assert head.headers['X-Container-Meta-B'] == '2'
