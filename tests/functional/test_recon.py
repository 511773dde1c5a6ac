"""objproxy-recon --cluster against a real cluster: every storage node
process answers /recon on its backend port, and the rings agree."""
import json
import urllib.error
import urllib.request

import pytest

from objproxy.cli import recon
from objproxy.storage.recon_server import ring_checksums


def test_every_node_answers_recon_and_the_rings_agree(cluster, capsys):
    here = ring_checksums(cluster.objproxy_dir)
    for node in cluster.nodes:
        url = 'http://%s:%d/recon/ringmd5' % (node['ip'], node['port'])
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            assert json.loads(resp.read()) == here
    recon.main(['--cluster', cluster.objproxy_dir, '--json'])
    report = json.loads(capsys.readouterr().out)
    assert sorted(n['address'] for n in report['nodes']) == sorted(
        '%s:%d' % (n['ip'], n['port']) for n in cluster.nodes)
    for node in report['nodes']:
        assert 'error' not in node, node
        assert node['rings'] == here
        assert list(node['devices']) == [
            n['device'] for n in cluster.nodes
            if '%s:%d' % (n['ip'], n['port']) == node['address']]
    assert all(report['rings'][r]['agree'] for r in recon.RING_NAMES)
    assert not [p for p in report['problems'] if 'ring' in p]


def test_recon_refuses_writes_on_a_node(cluster):
    node = cluster.nodes[0]
    req = urllib.request.Request('http://%s:%d/recon/async' % (
        node['ip'], node['port']), data=b'x', method='PUT')
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405
    assert err.value.headers['Allow'] == 'GET, HEAD'
