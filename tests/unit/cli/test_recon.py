"""objproxy-recon reads what the daemons record and gives a verdict,
from this machine's disks or from every node's /recon."""
import hashlib
import json
import os
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from objproxy.cli import recon
from objproxy.cli.aio_layout import AioLayout, set_option
from objproxy.common.config import read_conf_file
from objproxy.daemons.daemon import dump_recon
from objproxy.storage.node import StorageNode
from tests.ports import free_ports


def cluster(tmp_path):
    layout = AioLayout(str(tmp_path), node_ports=[16010, 16020, 16030,
                                                  16040])
    layout.write_all()
    return layout, [layout.node_conf(i) for i in range(4)]


def replicated(layout, age=1.0, failures=0):
    for index in range(4):
        for kind in recon.RECON_TYPES:
            dump_recon(layout.node_devices(index), '%s.recon' % kind, {
                '%s_replication' % kind: {'elapsed': 0.5,
                                          'failures': failures},
                '%s_replication_last' % kind: time.time() - age})


def test_a_converged_cluster_is_healthy(tmp_path, capsys):
    layout, confs = cluster(tmp_path)
    replicated(layout)
    assert recon.main(confs) == 0
    out = capsys.readouterr().out
    assert 'HEALTHY' in out and 'NOT HEALTHY' not in out
    assert 'rings: account agree, container agree, object agree' in out
    assert 'object    replication: last pass 1s ago, took 0.5s, 0 failures' \
        in out


def test_problems_are_named(tmp_path, capsys):
    layout, confs = cluster(tmp_path)
    replicated(layout, age=3600, failures=2)
    device = os.path.join(layout.node_devices(0), 'sdb1')
    os.makedirs(os.path.join(device, 'async_pending', 'abc'))
    open(os.path.join(device, 'async_pending', 'abc', 'x-1'), 'w').close()
    os.makedirs(os.path.join(device, 'quarantined', 'objects', 'deadbeef'))
    # the aio nodes share one etc/: give node 2 its own, one ring differing
    other = tmp_path / 'other-etc'
    other.mkdir()
    for name in recon.RING_NAMES:
        src = os.path.join(layout.etc_dir, name + '.ring.gz')
        (other / (name + '.ring.gz')).write_bytes(open(src, 'rb').read())
    (other / 'object.ring.gz').write_bytes(b'different')
    text = open(confs[1]).read().replace(
        'objproxy_dir = %s' % layout.etc_dir, 'objproxy_dir = %s' % other)
    with open(confs[1], 'w') as fp:
        fp.write(text)
    assert recon.main(confs + ['--json']) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report['healthy']
    text = '\n'.join(report['problems'])
    assert 'last object replication pass ended 60m ago' in text
    assert 'counted 2 failures' in text
    assert '1 async pendings' in text
    assert '1 quarantined' in text
    assert 'the object ring differs between nodes' in text
    assert 'account ring' not in text


def test_no_pass_yet_is_reported(tmp_path, capsys):
    _, confs = cluster(tmp_path)
    assert recon.main(confs) == 1
    assert 'has not finished a pass' in capsys.readouterr().out


# -- --cluster: every node in the rings, asked over HTTP ---------------------
class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """An aio layout on free ports whose nodes' recon answers over real
    sockets; ``serve(index, conf=None)`` starts node ``index``."""
    ports = free_ports(4)
    layout = AioLayout(str(tmp_path), node_ports=ports)
    layout.write_all()
    servers = []

    def serve(index, conf=None):
        path = conf or layout.node_conf(index)
        options = dict(read_conf_file(path).defaults(), __file__=path)
        server = make_server('127.0.0.1', ports[index], StorageNode(options),
                             handler_class=QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield layout, ports, serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_cluster_mode_asks_every_node_in_the_rings(served, capsys):
    layout, ports, serve = served
    replicated(layout)
    for index in range(4):
        serve(index)
    assert recon.main(['--cluster', layout.etc_dir, '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['healthy'] and report['problems'] == []
    assert [n['address'] for n in report['nodes']] == [
        '127.0.0.1:%d' % p for p in sorted(ports)]
    for ring in recon.RING_NAMES:
        agreement = report['rings'][ring]
        assert agreement['agree']
        (holders,) = agreement['checksums'].values()
        assert len(holders) == 5      # four nodes and this machine's copy
    # a node's config leads to the same rings
    assert recon.main(['--cluster', layout.node_conf(0)]) == 0
    out = capsys.readouterr().out
    assert out.count('(GET /recon/report)') == 4
    assert 'rings: account agree, container agree, object agree' in out


def test_cluster_mode_names_a_silent_node_and_a_differing_ring(
        served, tmp_path, capsys):
    layout, ports, serve = served
    replicated(layout)
    other = tmp_path / 'other-etc'
    other.mkdir()
    for name in os.listdir(layout.etc_dir):
        if name.endswith(('.ring.gz', '.conf')):
            (other / name).write_bytes(
                open(os.path.join(layout.etc_dir, name), 'rb').read())
    (other / 'container.ring.gz').write_bytes(b'an older ring')
    conf = str(other / 'node2.conf')
    with open(conf, 'w') as fp:
        fp.write(set_option(open(layout.node_conf(1)).read(), 'DEFAULT',
                            'objproxy_dir', str(other)))
    serve(0)
    serve(1, conf)
    serve(2)                          # node 4 is down
    assert recon.main(['--cluster', layout.etc_dir, '--timeout', '2']) == 1
    out = capsys.readouterr().out
    assert '127.0.0.1:%d: NO ANSWER' % ports[3] in out
    assert 'rings: account agree, container DIFFER or missing, object ' \
        'agree' in out
    problems = out.split('NOT HEALTHY:')[1]
    assert '127.0.0.1:%d: no recon answer' % ports[3] in problems
    odd = hashlib.md5(b'an older ring').hexdigest()[:8]
    assert '%s on 127.0.0.1:%d' % (odd, ports[1]) in problems
    assert 'the container ring differs between nodes' in problems
    assert 'object ring' not in problems and 'account ring' not in problems


def test_ring_agreement_counts_this_machines_copy():
    def node(address, **sums):
        return {'address': address,
                'rings': dict({'account': 'a', 'container': 'c',
                               'object': 'o'}, **sums)}
    reports = [node('n1'), node('n2'), {'address': 'n3', 'error': 'down'}]
    agreement = recon.ring_agreement(reports)
    assert all(agreement[r]['agree'] for r in recon.RING_NAMES)
    here = ('here', {'account': 'a', 'container': 'c', 'object': 'new'})
    agreement = recon.ring_agreement(reports, here)
    assert agreement['object'] == {
        'agree': False, 'checksums': {'o': ['n1', 'n2'], 'new': ['here']}}
    assert agreement['account']['agree']
    missing = recon.ring_agreement([node('n1'), node('n2', object=None)])
    assert missing['object']['checksums'] == {'o': ['n1'],
                                              'missing': ['n2']}
    assert 'the object ring is missing on some nodes: n2' in \
        recon.problems([], missing)


def test_without_arguments_the_rings_in_etc_objproxy_are_asked(
        served, tmp_path, monkeypatch, capsys):
    layout, _ports, serve = served
    replicated(layout)
    for index in range(4):
        serve(index)
    elsewhere = tmp_path / 'cwd'
    elsewhere.mkdir()
    monkeypatch.chdir(str(elsewhere))    # no objproxy-data/ here
    monkeypatch.setattr(recon, 'DEFAULT_OBJPROXY_DIR', layout.etc_dir)
    assert recon.main([]) == 0
    assert capsys.readouterr().out.count('(GET /recon/report)') == 4


def test_bad_cluster_arguments_exit_2(tmp_path, capsys):
    assert recon.main(['--cluster', str(tmp_path / 'nowhere')]) == 2
    assert 'no such directory or config file' in capsys.readouterr().err
    assert recon.main(['--cluster', str(tmp_path)]) == 2
    assert 'no ring files in' in capsys.readouterr().err
