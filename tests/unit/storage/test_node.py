"""StorageNode: which layer of a storage node answers a request.

Requests go through the real node app (account, container and object
servers, the replication servers and recon) with Request.blank on a
temporary devices dir; where each request landed is checked by what that
layer wrote or answered.
"""
import json
import os

import pytest
from webob import Request

from objproxy.common.exceptions import ConfigError
from objproxy.common.hashing import hash_path, set_hash_config
from objproxy.storage.node import StorageNode, app_factory


@pytest.fixture
def devices(tmp_path):
    set_hash_config('node-prefix', 'node-suffix')
    for name in ('sda', 'recon'):
        (tmp_path / name).mkdir()
    return tmp_path


@pytest.fixture
def node(devices):
    return StorageNode({'devices': str(devices), 'mount_check': 'false',
                        'fsync': 'false', 'db_pending_cap': '0'})


def call(app, path, method='GET', headers=None, body=None):
    req = Request.blank(path, environ={'REQUEST_METHOD': method},
                        headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)


def db_file(devices, datadir, device, part, account, container=None):
    name_hash = hash_path(account, container)
    return os.path.join(str(devices), device, datadir, str(part),
                        name_hash[-3:], name_hash, name_hash + '.db')


def listing(app, path):
    resp = call(app, path + '?format=json')
    assert resp.status_int == 200
    return [row['name'] for row in json.loads(resp.body)]


# --- by path depth ---------------------------------------------------------------

def test_three_segments_reach_the_account_layer(node, devices):
    assert call(node, '/sda/1/a', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    assert os.path.exists(db_file(devices, 'accounts', 'sda', 1, 'a'))
    head = call(node, '/sda/1/a', 'HEAD')
    assert head.headers['X-Account-Container-Count'] == '0'


def test_four_segments_reach_the_container_layer(node, devices):
    assert call(node, '/sda/1/a/c', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    assert os.path.exists(db_file(devices, 'containers', 'sda', 1, 'a', 'c'))
    assert call(node, '/sda/1/a/c', 'HEAD').headers[
        'X-Container-Object-Count'] == '0'


@pytest.mark.parametrize('name', ['o', 'dir/sub/o'])
def test_deeper_paths_reach_the_object_layer(node, devices, name):
    path = '/sda/1/a/c/' + name
    resp = call(node, path, 'PUT', {'X-Timestamp': '1',
                                    'Content-Type': 'text/plain'},
                body=b'data')
    assert resp.status_int == 201
    assert call(node, path).body == b'data'
    assert os.path.isdir(os.path.join(str(devices), 'sda', 'objects', '1'))
    # nothing was taken for a container row
    assert not os.path.exists(os.path.join(str(devices), 'sda',
                                           'containers'))


# --- by X-Backend-Layer -------------------------------------------------------------

def test_a_layer_header_sends_an_object_path_to_the_container(node):
    call(node, '/sda/1/a/c', 'PUT', {'X-Timestamp': '1'})
    resp = call(node, '/sda/1/a/c/o', 'PUT', {
        'X-Backend-Layer': 'container', 'X-Timestamp': '2', 'X-Size': '4',
        'X-Content-Type': 'text/plain', 'X-Etag': 'e'})
    assert resp.status_int == 201
    assert listing(node, '/sda/1/a/c') == ['o']
    # no object was stored under that name
    assert call(node, '/sda/1/a/c/o').status_int == 404


def test_a_layer_header_sends_a_container_path_to_the_account(node):
    call(node, '/sda/1/a', 'PUT', {'X-Timestamp': '1'})
    resp = call(node, '/sda/1/a/c', 'PUT', {
        'X-Backend-Layer': ' Account ', 'X-Put-Timestamp': '2',
        'X-Delete-Timestamp': '0', 'X-Object-Count': '3',
        'X-Bytes-Used': '30', 'X-Timestamp': '2'})
    assert resp.status_int == 201
    assert listing(node, '/sda/1/a') == ['c']
    assert call(node, '/sda/1/a/c', 'HEAD').status_int == 404


def test_an_unknown_layer_falls_back_to_the_path_depth(node, devices):
    resp = call(node, '/sda/1/a', 'PUT', {'X-Timestamp': '1',
                                          'X-Backend-Layer': 'bogus'})
    assert resp.status_int == 201
    assert os.path.exists(db_file(devices, 'accounts', 'sda', 1, 'a'))


# --- replication --------------------------------------------------------------------

def test_replicate_of_a_database_goes_to_db_replication(node):
    for layer in ('container', 'account'):
        resp = call(node, '/sda/1/nothex', 'REPLICATE',
                    {'X-Backend-Layer': layer}, body=b'["sync"]')
        assert resp.status_int == 400
        assert resp.body.startswith(b'bad database hash')


def test_replicate_without_a_layer_is_the_object_servers(node):
    resp = call(node, '/sda/1', 'REPLICATE')
    assert resp.status_int == 200
    assert json.loads(resp.body) == {}


def test_batched_replication_goes_to_object_replication(node):
    resp = call(node, '/sda/1', 'REPLICATE',
                {'X-Backend-Replicate-Batch': 'true',
                 'X-Backend-Layer': 'container'})
    assert resp.status_int == 400
    assert b'batched replication' in resp.body


# --- recon and bad paths ---------------------------------------------------------------

def test_recon_paths_reach_recon(node):
    resp = call(node, '/recon/diskusage')
    assert resp.status_int == 200
    assert {'sda', 'recon'} <= set(json.loads(resp.body))
    bare = call(node, '/recon')
    assert bare.status_int == 404
    assert b'recon metrics' in bare.body


def test_a_device_named_recon_is_still_storage(node, devices):
    assert call(node, '/recon/1/a', 'PUT',
                {'X-Timestamp': '1'}).status_int == 201
    assert os.path.exists(db_file(devices, 'accounts', 'recon', 1, 'a'))


@pytest.mark.parametrize('path, method', [
    ('/', 'GET'), ('/sda', 'GET'), ('/sda/x/a', 'PUT'),
    ('/sda/1/a/..', 'PUT'), ('/sda/-3/a/c/o', 'PUT'), ('', 'GET'),
])
def test_bad_paths_are_400(node, path, method):
    env = Request.blank('/').environ
    env.update({'PATH_INFO': path, 'REQUEST_METHOD': method,
                'HTTP_X_TIMESTAMP': '1'})
    resp = Request(env).get_response(node)
    assert resp.status_int == 400


def test_a_missing_device_is_507(node):
    assert call(node, '/sdz/1/a', 'PUT',
                {'X-Timestamp': '1'}).status_int == 507


# --- factory -----------------------------------------------------------------------

def test_app_factory_checks_the_options(devices):
    app = app_factory({}, devices=str(devices), mount_check='false')
    assert isinstance(app, StorageNode)
    assert set(app.layers) == {'account', 'container', 'object'}
    with pytest.raises(ConfigError) as err:
        app_factory({}, devices=str(devices), no_such_option='1')
    assert 'no_such_option' in str(err.value)
