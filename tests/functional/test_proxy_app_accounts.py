"""Account and container controllers of the proxy Application (in
process) against the session's real storage nodes."""
import json
import uuid
from urllib.parse import quote
from xml.etree import ElementTree

import pytest

from middleware.listing_formats import ListingFormats
from objproxy.proxy.server import Application
from tests.functional.proxy_app import call, proxy_app  # noqa: F401


@pytest.fixture
def managing_app(cluster):
    return Application({'objproxy_dir': cluster.objproxy_dir,
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


def test_listings_are_json_from_the_proxy_app(proxy_app):
    """The proxy app always answers listings in JSON (listing_formats, in
    front of it in every proxy pipeline, renders other formats)."""
    container = 'fmt-%s' % uuid.uuid4().hex[:8]
    call(proxy_app, '/v1/AUTH_test/' + container, 'PUT')
    call(proxy_app, '/v1/AUTH_test/%s/o' % container, 'PUT', body=b'12')
    for query in ('', '?format=xml', '?format=plain'):
        resp = call(proxy_app, '/v1/AUTH_test/%s%s' % (container, query),
                    headers={'Accept': 'application/xml'})
        assert resp.status_int == 200
        assert resp.content_type == 'application/json'
        assert [o['name'] for o in json.loads(resp.body)] == ['o']


def test_autocreated_account_through_listing_formats(proxy_app):
    """An account that does not exist yet is an empty listing in every
    format; its name is escaped in XML (an ``&`` is fine)."""
    app = ListingFormats(proxy_app)
    fresh = 'AUTH_%s&b"<' % uuid.uuid4().hex[:8]
    path = '/v1/' + quote(fresh)
    empty = call(app, path + '?format=json')
    assert empty.status_int == 200 and json.loads(empty.body) == []
    assert empty.headers['Content-Type'] == 'application/json; charset=utf-8'
    assert call(app, path).status_int == 204
    xml = call(app, path + '?format=xml')
    assert xml.status_int == 200
    root = ElementTree.fromstring(xml.body)
    assert (root.tag, root.get('name'), list(root)) == ('account', fresh, [])
    head = call(app, path, 'HEAD')
    assert head.status_int == 204
    assert head.headers['X-Account-Container-Count'] == '0'
    assert head.headers['Content-Type'] == 'text/plain; charset=utf-8'


def test_container_listing_through_listing_formats(proxy_app):
    app = ListingFormats(proxy_app)
    container = 'fmt-%s' % uuid.uuid4().hex[:8]
    call(app, '/v1/AUTH_test/' + container, 'PUT')
    call(app, '/v1/AUTH_test/%s/a%%26b' % container, 'PUT', body=b'12')
    xml = call(app, '/v1/AUTH_test/' + container,
               headers={'Accept': 'application/xml'})
    assert xml.headers['Content-Type'] == 'application/xml; charset=utf-8'
    names = [o.find('name').text
             for o in ElementTree.fromstring(xml.body).iter('object')]
    assert names == ['a&b']
    plain = call(app, '/v1/AUTH_test/' + container)
    assert plain.body == b'a&b\n'


def test_container_remove_metadata(proxy_app):
    container = 'rm-%s' % uuid.uuid4().hex[:8]
    call(proxy_app, '/v1/AUTH_test/' + container, 'PUT',
         {'X-Container-Meta-A': '1', 'X-Container-Meta-B': '2'})
    assert call(proxy_app, '/v1/AUTH_test/' + container, 'POST', {
        'X-Remove-Container-Meta-A': 'x'}).status_int == 204
    head = call(proxy_app, '/v1/AUTH_test/' + container, 'HEAD')
    assert 'X-Container-Meta-A' not in head.headers
    assert head.headers['X-Container-Meta-B'] == '2'
