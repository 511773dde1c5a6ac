"""GET /recon/<metric> on a storage node: what its daemons recorded, as
JSON, read-only, off the hub."""
import hashlib
import json
import os
import time

import pytest
from webob import Request

from objproxy.cli.aio_layout import AioLayout, set_option
from objproxy.common.config import read_conf_file
from objproxy.common.offload import on_main_thread
from objproxy.daemons.daemon import dump_recon
from objproxy.storage import recon_server
from objproxy.storage.node import StorageNode
from objproxy.storage.recon_server import is_recon_path


@pytest.fixture
def node(tmp_path):
    """Node 1 of an aio layout (its real config file), as the app."""
    layout = AioLayout(str(tmp_path), node_ports=[16010, 16020, 16030,
                                                  16040])
    layout.write_all()
    return layout, node_app(layout.node_conf(0))


def node_app(conf_path):
    conf = dict(read_conf_file(conf_path).defaults())
    conf['__file__'] = conf_path
    return StorageNode(conf)


def get(app, path, method='GET'):
    return Request.blank(path, method=method).get_response(app)


def device(layout, *parts):
    return os.path.join(layout.node_devices(0), 'sdb1', *parts)


def md5_of(path):
    with open(path, 'rb') as fp:
        return hashlib.md5(fp.read()).hexdigest()


def test_report_answers_what_the_daemons_and_servers_recorded(node):
    layout, app = node
    last = time.time() - 42
    dump_recon(layout.node_devices(0), 'object.recon', {
        'object_replication': {'elapsed': 1.5, 'failures': 2},
        'object_replication_last': last})
    os.makedirs(device(layout, 'async_pending', 'a1'))
    for name in ('x-1', 'y-2'):
        open(device(layout, 'async_pending', 'a1', name), 'w').close()
    os.makedirs(device(layout, 'quarantined', 'objects', 'deadbeef'))
    os.makedirs(device(layout, 'quarantined', 'containers'))
    open(device(layout, 'quarantined', 'containers', 'c.db'), 'w').close()
    resp = get(app, '/recon/report')
    assert resp.status_int == 200
    assert resp.content_type == 'application/json'
    report = json.loads(resp.body)
    assert report['address'] == '127.0.0.1:16010'
    rep = report['replication']['object']
    assert rep['last'] == last and 41 <= rep['age'] < 60
    assert (rep['duration'], rep['failures'], rep['interval']) == \
        (1.5, 2, 30.0)
    assert report['replication']['container']['age'] is None
    sdb1 = report['devices']['sdb1']
    assert sdb1['async_pending'] == 2
    assert sdb1['quarantined'] == {'objects': 1, 'containers': 1,
                                   'accounts': 0}
    assert sdb1['disk']['size'] > 0 and 0 <= sdb1['disk']['percent'] <= 100
    assert list(report['devices']) == ['sdb1']
    assert report['rings'] == {
        name: md5_of(os.path.join(layout.etc_dir, name + '.ring.gz'))
        for name in recon_server.RING_NAMES}


def test_each_metric_alone(node):
    layout, app = node
    os.makedirs(device(layout, 'async_pending', 'a1'))
    open(device(layout, 'async_pending', 'a1', 'x-1'), 'w').close()
    answers = {}
    for metric in ('async', 'quarantined', 'diskusage', 'ringmd5',
                   'replication', 'replication/account'):
        resp = get(app, '/recon/' + metric)
        assert resp.status_int == 200, metric
        answers[metric] = json.loads(resp.body)
    assert answers['async'] == {'sdb1': 1}
    assert answers['quarantined']['sdb1']['objects'] == 0
    assert set(answers['diskusage']['sdb1']) == {'size', 'used', 'avail',
                                                 'percent'}
    assert answers['ringmd5']['object'] == md5_of(
        os.path.join(layout.etc_dir, 'object.ring.gz'))
    assert sorted(answers['replication']) == ['account', 'container',
                                              'object']
    assert list(answers['replication/account']) == ['account']


def test_the_daemons_own_recon_cache_path_is_followed(node, tmp_path):
    layout, _app = node
    cache = tmp_path / 'cache'
    path = layout.node_conf(0)
    with open(path) as fp:
        text = set_option(fp.read(), 'container-replicator',
                          'recon_cache_path', str(cache))
    with open(path, 'w') as fp:
        fp.write(text)
    dump_recon(str(cache), 'container.recon', {
        'container_replication': {'elapsed': 0.25, 'failures': 0},
        'container_replication_last': time.time()})
    resp = get(node_app(path), '/recon/replication/container')
    assert json.loads(resp.body)['container']['duration'] == 0.25


def test_head_has_the_headers_of_get_and_no_body(node):
    _layout, app = node
    got = get(app, '/recon/ringmd5')
    head = get(app, '/recon/ringmd5', 'HEAD')
    assert head.status_int == 200 and head.body == b''
    assert head.headers['Content-Length'] == got.headers['Content-Length']


@pytest.mark.parametrize('method', ['PUT', 'POST', 'DELETE', 'REPLICATE'])
def test_recon_is_read_only(node, method):
    layout, app = node
    before = sorted(os.listdir(device(layout)))
    resp = get(app, '/recon/async', method)
    assert resp.status_int == 405
    assert resp.headers['Allow'] == 'GET, HEAD'
    assert sorted(os.listdir(device(layout))) == before


@pytest.mark.parametrize('path', ['/recon', '/recon/', '/recon/nope',
                                  '/recon/replication/bogus',
                                  '/recon/async/sdb1',
                                  '/recon/replication/object/x'])
def test_an_unknown_metric_is_404_naming_the_metrics(node, path):
    _layout, app = node
    resp = get(app, path)
    assert resp.status_int == 404
    assert b'Invalid path' in resp.body and b'ringmd5' in resp.body


def test_a_device_named_recon_is_still_storage():
    assert is_recon_path('/recon/async')
    assert is_recon_path('/recon/replication/object')
    assert is_recon_path('/recon')
    assert not is_recon_path('/recon/12/AUTH_test')
    assert not is_recon_path('/recon/12/AUTH_test/c/o')
    assert not is_recon_path('/reconx/async')
    assert not is_recon_path('/sdb1/recon/async')


def test_the_devices_are_walked_off_the_hub(node, monkeypatch):
    _layout, app = node
    seen = []
    real = recon_server.NodeFacts.metric

    def metric(self, *args):
        seen.append(on_main_thread())
        return real(self, *args)
    monkeypatch.setattr(recon_server.NodeFacts, 'metric', metric)
    assert get(app, '/recon/async').status_int == 200
    assert seen == [False]


def test_a_broken_daemon_section_is_named(node):
    layout, _app = node
    path = layout.node_conf(0)
    app = node_app(path)
    with open(path) as fp:
        text = set_option(fp.read(), 'object-replicator', 'reclaim_agee',
                          '1')
    with open(path, 'w') as fp:
        fp.write(text)
    resp = get(app, '/recon/report')
    assert resp.status_int == 500
    assert b'reclaim_agee' in resp.body
