"""objproxy-rescanner: its command line, run as the installed script
against an all-in-one node config, with tests/unit/middleware/fake_clamd
standing in for clamd."""
import json
import os
import subprocess
import sys

import pytest

from objproxy.cli import rescanner
from tests.unit.cli.cli_layout import set_options, write_layout
from tests.unit.middleware.fake_clamd import FakeClamd

SCRIPT = os.path.join(os.path.dirname(sys.executable), 'objproxy-rescanner')


@pytest.fixture
def layout(tmp_path):
    return write_layout(tmp_path)


@pytest.fixture
def clamd(tmp_path):
    fake = FakeClamd(str(tmp_path / 'clamd.sock'))
    yield fake
    fake.close()


def run(conf, *args):
    return subprocess.run([SCRIPT, conf] + list(args), capture_output=True,
                          text=True, timeout=60)


def test_without_a_clamd_option_exits_2(layout):
    result = run(layout.node_conf(0), '--once')
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'objproxy-rescanner: [object-rescanner] set clamd_conf, '
        'clamd_socket or clamd_host')


def test_once_with_clamd_answering_and_nothing_stored(layout, clamd):
    conf = layout.node_conf(0)
    set_options(conf, 'object-rescanner', clamd_socket=clamd.socket_path)
    result = run(conf, '--once')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('object-rescanner: 0 errors, 0 failures')


def test_once_json_gives_the_pass_totals(layout, clamd):
    conf = layout.node_conf(0)
    set_options(conf, 'object-rescanner', clamd_socket=clamd.socket_path)
    result = run(conf, '--once', '--json')
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)['object-rescanner']
    assert totals['errors'] == 0 and totals['failures'] == 0
    assert totals['objects_checked'] == 0
    assert 'elapsed' in totals


def test_clamd_unreachable_counts_an_error_and_exits_1(layout, tmp_path):
    conf = layout.node_conf(0)
    set_options(conf, 'object-rescanner',
                clamd_socket=str(tmp_path / 'nobody.sock'))
    result = run(conf, '--once', '--json')
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)['object-rescanner']['errors'] == 1


def test_bad_option_value_exits_2_naming_it(layout, clamd):
    conf = layout.node_conf(0)
    set_options(conf, 'object-rescanner', clamd_socket=clamd.socket_path,
                files_per_second='many')
    result = run(conf, '--once')
    assert result.returncode == 2
    assert result.stderr.startswith('objproxy-rescanner: ')
    assert 'files_per_second' in result.stderr


@pytest.mark.parametrize('argv', [[], ['node.conf', '--partitions', '1,a'],
                                  ['node.conf', '--zero-byte-fps', '1']])
def test_usage_errors_exit_2_before_anything_runs(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        rescanner.main(argv)
    assert exit_.value.code == 2
    assert 'usage: objproxy-rescanner' in capsys.readouterr().err
