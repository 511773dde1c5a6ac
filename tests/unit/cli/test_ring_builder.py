import os
import subprocess
import sys

import pytest

from objproxy.ring.builder import RingBuilder
from objproxy.ring.ring import Ring


def run(builder, *args):
    proc = subprocess.run(
        [sys.executable, '-m', 'objproxy.cli.ring_builder', str(builder)] +
        [str(a) for a in args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def built(tmp_path):
    builder = tmp_path / 'object.builder'
    assert run(builder, 'create', 6, 3, 1)[0] == 0
    args = []
    for zone in range(1, 5):
        args += ['r1z%d-127.0.0.%d:6010/sdb1' % (zone, zone), 100]
    code, out, err = run(builder, 'add', *args)
    assert code == 0, err
    assert 'got id 3' in out
    code, out, err = run(builder, 'rebalance', '--seed', 1)
    assert code == 0, err
    assert 'Reassigned 192 (300.00%) partitions. Balance is now 0.00' in out
    return builder


def test_create_add_rebalance_write_ring(built):
    ring = Ring(str(built.parent), 'object')
    assert ring.part_power == 6 and ring.replica_count == 3
    assert [d['ip'] for d in ring.devs] == ['127.0.0.%d' % z
                                           for z in range(1, 5)]
    os.unlink(str(built.parent / 'object.ring.gz'))
    assert run(built, 'write_ring')[0] == 0
    assert Ring(str(built.parent), 'object').partition_count == 64


def test_default_command_shows_devices(built):
    code, out, _err = run(built)
    assert code == 0
    assert '64 partitions, 3.000000 replicas, 1 regions, 4 zones, ' \
           '4 devices, 0.00 balance, 0.00 dispersion' in out
    assert out.count('127.0.0.') == 4
    assert 'minimum number of hours' in out


def test_add_option_form_and_meta(built):
    code, out, err = run(built, 'add', '--region', 2, '--zone', 1, '--ip',
                         '10.0.0.9', '--port', 6020, '--device', 'sdc',
                         '--weight', 50, '--meta', 'fast')
    assert code == 0, err
    code, out, _ = run(built, 'add', 'r1z1-127.0.0.1:6010/sdb2_meta1', 100)
    assert code == 0
    devs = RingBuilder.load(str(built)).devs
    assert devs[4]['region'] == 2 and devs[4]['meta'] == 'fast'
    assert devs[5]['device'] == 'sdb2' and devs[5]['meta'] == 'meta1'


def test_second_rebalance_without_changes_warns(built):
    before = built.read_bytes()
    code, out, _ = run(built, 'rebalance')
    assert code == 1
    assert 'No partitions could be reassigned' in out
    assert built.read_bytes() == before


def test_remove_set_weight_set_info_and_min_part_hours(built):
    assert run(built, 'add', 'r1z1-127.0.0.5:6010/sdb1', 100)[0] == 0
    assert run(built, 'pretend_min_part_hours_passed')[0] == 0
    code, out, err = run(built, 'rebalance', '--seed', 2)
    assert code == 0, out + err
    code, out, _ = run(built, 'remove', 'd4')
    assert code == 0 and 'marked for removal' in out
    code, out, _ = run(built, 'set_weight', 'z2', 50)
    assert code == 0 and 'weight set to 50.0' in out
    code, out, _ = run(built, 'set_info', 'd0', '127.0.0.9:6020/sdc_x')
    assert code == 0
    code, out, _ = run(built, 'set_min_part_hours', 0)
    assert code == 0
    code, out, _ = run(built, 'rebalance', '--seed', 3)
    assert code in (0, 1)
    assert 'Removed 1 device(s).' in out
    ring = Ring(str(built.parent), 'object')
    assert len(ring.devs) == 4
    assert ring.devs[0]['ip'] == '127.0.0.9' and ring.devs[0]['port'] == 6020
    assert ring.devs[0]['meta'] == 'x' and ring.devs[1]['weight'] == 50


def test_search_list_parts_dispersion_validate(built):
    code, out, _ = run(built, 'search', 'z2')
    assert code == 0 and '127.0.0.2' in out and '127.0.0.3' not in out
    code, out, _ = run(built, 'list_parts', 'd0')
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith('Partition')
    assert len(lines) == 1 + 48
    code, out, _ = run(built, 'dispersion')
    assert code == 0 and 'Dispersion is 0.00' in out and 'zone' in out
    code, out, _ = run(built, 'validate')
    assert code == 0 and 'valid' in out


@pytest.mark.parametrize('args,message', [
    (('add', 'z1-nonsense', 100), 'invalid device'),
    (('add', 'r1z1-127.0.0.1:6010/sdb9', 'heavy'), 'invalid weight'),
    (('add', 'r1z1-127.0.0.1:6010/sdb1', 100), 'already exists'),
    (('add', '--zone', 1), 'add:'),
    (('remove', 'd77'), 'matched no devices'),
    (('set_weight', 'd0'), 'usage'),
    (('search', 'z9'), 'matched no devices'),
    (('frobnicate',), 'Unknown command'),
    (('rebalance', '--seed', 'x'), 'invalid seed'),
    (('create', 99, 3, 1), 'part_power'),
    (('create', 'a', 3, 1), 'invalid part_power'),
])
def test_errors_exit_2_without_traceback(built, args, message):
    before = built.read_bytes()
    code, out, err = run(built, *args)
    assert code == 2
    assert message in err
    assert 'Traceback' not in err + out
    assert built.read_bytes() == before


def test_more_replicas_than_devices(tmp_path):
    builder = tmp_path / 'account.builder'
    assert run(builder, 'create', 6, 3, 1)[0] == 0
    assert run(builder, 'add', 'r1z1-127.0.0.1:6010/sdb1', 100)[0] == 0
    code, _out, err = run(builder, 'rebalance')
    assert code == 2
    assert 'cannot place 3 replicas on 1 device' in err
    assert not (tmp_path / 'account.ring.gz').exists()
    code, _out, err = run(builder, 'write_ring')
    assert code == 2 and 'not been rebalanced' in err


@pytest.mark.parametrize('content', [b'', b'garbage', None])
def test_corrupt_or_missing_builder(tmp_path, built, content):
    path = tmp_path / 'bad.builder'
    if content is None:
        data = built.read_bytes()
        content = data[:len(data) // 2]
    path.write_bytes(content)
    for command in ((), ('rebalance',), ('validate',), ('add',
                    'r1z1-127.0.0.1:6010/sdb1', 1)):
        code, out, err = run(path, *command)
        assert code == 2
        assert 'bad.builder' in err and 'Traceback' not in err
    code, _out, err = run(tmp_path / 'nope.builder')
    assert code == 2 and 'does not exist' in err


def test_console_script_installed(built):
    script = os.path.join(os.path.dirname(sys.executable),
                          'objproxy-ring-builder')
    if not os.path.exists(script):
        pytest.skip('console script not installed in this environment')
    proc = subprocess.run([script, str(built), 'validate'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0


def test_rebalance_blocked_by_min_part_hours_warns(built):
    before = built.read_bytes()
    assert run(built, 'add', 'r1z1-127.0.0.5:6010/sdb1', 100)[0] == 0
    changed = built.read_bytes()
    assert changed != before
    code, out, _ = run(built, 'rebalance')
    assert code == 1
    assert 'min_part_hours [1]' in out
    assert built.read_bytes() == changed


def test_create_refuses_to_overwrite_an_existing_builder(built):
    before = built.read_bytes()
    code, out, err = run(built, 'create', 8, 3, 1)
    assert code == 2
    assert 'already exists' in err and '--force' in err
    assert 'Traceback' not in err
    assert built.read_bytes() == before


def test_create_force_starts_over(built):
    assert run(built, 'create', 8, 3, 1, '--force')[0] == 0
    assert RingBuilder.load(str(built)).part_power == 8


def backed_up(directory, name):
    folder = directory / 'backups'
    return [(folder / n).read_bytes() for n in os.listdir(str(folder))
            if n.endswith('.' + name)]


def test_create_force_keeps_a_builder_written_by_another_tool(tmp_path):
    builder_file = tmp_path / 'object.builder'
    other = RingBuilder(6, 3, 1)
    other.add_dev({'region': 1, 'zone': 1, 'ip': '10.0.0.1', 'port': 6010,
                   'device': 'sdb1', 'weight': 100, 'meta': ''})
    other.save(str(builder_file))      # no backup of its own
    before = builder_file.read_bytes()
    assert run(builder_file, 'create', 8, 3, 1, '--force')[0] == 0
    assert builder_file.read_bytes() != before
    assert before in backed_up(tmp_path, 'object.builder')


def test_a_ring_written_by_another_tool_is_kept_before_write_ring(built):
    ring = built.parent / 'object.ring.gz'
    elsewhere = RingBuilder.load(str(built))
    elsewhere.set_dev_info(0, port=6999)
    elsewhere.write_ring(str(ring))    # say, copied from another machine
    before = ring.read_bytes()
    assert run(built, 'write_ring')[0] == 0
    assert ring.read_bytes() != before
    assert before in backed_up(built.parent, 'object.ring.gz')


def test_every_change_leaves_a_timestamped_backup(built):
    def age(name):  # <unix time>[-<serial>].<file name>
        stamp = name.split('.')[0].split('-')
        return int(stamp[0]), int(stamp[1]) if len(stamp) > 1 else 0
    backups = sorted(os.listdir(str(built.parent / 'backups')), key=age)
    # create, add, rebalance: three builder states and one ring
    assert len([n for n in backups if n.endswith('.object.builder')]) == 3
    assert len([n for n in backups if n.endswith('.object.ring.gz')]) == 1
    newest = [n for n in backups if n.endswith('.builder')][-1]
    assert (built.parent / 'backups' / newest).read_bytes() == \
        built.read_bytes()


def test_ring_and_builder_files_are_world_readable(built):
    for name in ('object.builder', 'object.ring.gz'):
        mode = os.stat(str(built.parent / name)).st_mode & 0o777
        assert mode == 0o644, (name, oct(mode))
