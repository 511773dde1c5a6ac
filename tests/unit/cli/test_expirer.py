"""objproxy-expirer: its command line, run as the installed script
against an all-in-one node config (nothing listening)."""
import json
import os
import subprocess
import sys
import time

import pytest

from objproxy.cli import expirer
from objproxy.storage import expiry_queue
from tests.unit.cli.cli_layout import set_options, write_layout

SCRIPT = os.path.join(os.path.dirname(sys.executable), 'objproxy-expirer')
TOTALS = {'already_gone', 'elapsed', 'errors', 'expired', 'failures',
          'newer_elsewhere', 'superseded'}


@pytest.fixture
def layout(tmp_path):
    return write_layout(tmp_path)


def run(conf, *args):
    return subprocess.run([SCRIPT, conf] + list(args), capture_output=True,
                          text=True, timeout=60)


def queue_due_entry(layout):
    device = os.path.join(layout.node_devices(0),
                          layout.node_device_name(0))
    return expiry_queue.enqueue(device, int(time.time()) - 100, 'a' * 32, 3,
                                'AUTH_test', 'c', 'o', fsync=False)


def test_once_with_nothing_due_prints_one_summary_line(layout):
    result = run(layout.node_conf(0), '--once')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('object-expirer: 0 errors, 0 failures')
    assert result.stderr == ''


def test_once_json_gives_the_pass_totals(layout):
    result = run(layout.node_conf(0), '--once', '--json')
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)
    assert set(totals) == {'object-expirer'}
    assert set(totals['object-expirer']) == TOTALS
    assert totals['object-expirer']['expired'] == 0


def test_due_entry_that_cannot_be_deleted_exits_1_and_is_kept(layout):
    entry = queue_due_entry(layout)
    result = run(layout.node_conf(0), '--once', '--json')
    assert result.returncode == 1, result.stderr
    totals = json.loads(result.stdout)['object-expirer']
    assert totals['failures'] == 1
    assert totals['expired'] == 0
    assert os.path.exists(entry)        # retried on the next pass


def test_partitions_option_limits_the_pass(layout):
    entry = queue_due_entry(layout)
    result = run(layout.node_conf(0), '--once', '--json',
                 '--partitions', '4,5')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)['object-expirer']['failures'] == 0
    assert os.path.exists(entry)


def test_bad_option_value_exits_2_naming_it(layout):
    conf = layout.node_conf(0)
    set_options(conf, 'object-expirer', objects_per_second='fast')
    result = run(conf, '--once')
    assert result.returncode == 2
    assert result.stderr.startswith('objproxy-expirer: ')
    assert 'objects_per_second' in result.stderr
    assert result.stdout == ''


def test_missing_config_exits_2(tmp_path):
    result = run(str(tmp_path / 'absent.conf'), '--once')
    assert result.returncode == 2
    assert 'objproxy-expirer: ' in result.stderr


@pytest.mark.parametrize('argv', [[], ['node.conf', '--partitions', 'x'],
                                  ['node.conf', '--bogus']])
def test_usage_errors_exit_2_before_anything_runs(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        expirer.main(argv)
    assert exit_.value.code == 2
    assert 'usage: objproxy-expirer' in capsys.readouterr().err


def test_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        expirer.main(['--help'])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ('--once', '--json', '--devices', '--partitions', '-v'):
        assert option in out
