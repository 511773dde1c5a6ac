"""objproxy-recon reads what the daemons record and gives a verdict."""
import json
import os
import time

from objproxy.cli import recon
from objproxy.cli.aio_layout import AioLayout
from objproxy.daemons.daemon import dump_recon


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
