"""The daemons' command line: a short summary by default, JSON on request."""
import io
import json
import os
import subprocess
import sys

from objproxy.daemons.daemon import Progress, summarize

BIN = os.path.dirname(sys.executable)


def node_conf(tmp_path):
    devices = tmp_path / 'srv'
    (devices / 'sdb1').mkdir(parents=True)
    conf = tmp_path / 'node.conf'
    conf.write_text('[DEFAULT]\ndevices = %s\nmount_check = false\n'
                    'log_file = %s\n' % (devices, tmp_path / 'node.log'))
    return str(conf)


def run(tmp_path, script, *args):
    return subprocess.run([os.path.join(BIN, script), node_conf(tmp_path),
                           '--once'] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_once_prints_one_human_line_per_daemon(tmp_path):
    result = run(tmp_path, 'objproxy-updater')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('object-updater: 0 errors, 0 failures')
    assert result.stdout.rstrip().endswith('s')
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ''


def test_json_gives_the_totals_for_scripts(tmp_path):
    result = run(tmp_path, 'objproxy-auditor', '--json')
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)
    assert totals['object-auditor']['files_checked'] == 0


def test_summary_names_the_counts_that_matter():
    line = summarize('object-replicator', {
        'partitions_checked': 1024, 'objects_pushed': 0, 'failures': 0,
        'suffixes_synced': 3, 'elapsed': 0.84,
        'partitions_per_second': 1219.0})
    assert line == ('object-replicator: 1024 partitions checked, '
                    '3 suffixes synced, 0 failures in 0.8s')


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal():
    assert Progress.for_terminal('x', io.StringIO()) is None
    stream = Tty()
    progress = Progress.for_terminal('object-auditor', stream)
    progress.update('sdb1', 5, 10)
    progress.update('sdb1', 10, 10)
    progress.finish()
    out = stream.getvalue()
    assert 'object-auditor: sdb1 5/10 partitions' in out
    assert 'sdb1 10/10 partitions' in out
    assert out.endswith('\r\x1b[K')


def test_updater_refuses_partitions_it_cannot_honour(tmp_path):
    """Async pendings are not stored by partition: --partitions is a usage
    error for the updater, not an option silently ignored."""
    result = run(tmp_path, 'objproxy-updater', '--partitions', '1')
    assert result.returncode == 2
    assert 'unrecognized arguments: --partitions 1' in result.stderr


def test_unknown_option_in_a_daemon_section_stops_it(tmp_path):
    conf = node_conf(tmp_path)
    with open(conf, 'a') as fp:
        fp.write('[object-updater]\nobjects_per_secnd = 5\n')
    result = subprocess.run(
        [os.path.join(BIN, 'objproxy-updater'), conf, '--once'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert '[object-updater] unknown option objects_per_secnd' in \
        result.stderr


def test_verbose_logs_to_stdout_at_info_and_twice_at_debug(tmp_path):
    from objproxy.cli.daemons import _conf, _parse
    conf = node_conf(tmp_path)
    levels = {}
    for flags in ([], ['-v'], ['-vv'], ['-v', '--verbose']):
        args, _devices, _parts = _parse('objproxy-updater', [conf] + flags)
        section = _conf(args, 'object-updater')
        levels[' '.join(flags)] = section.get('log_level')
        assert ('log_file' in section) == (not flags)
        assert (section.get('log_to_stdout') == 'true') == bool(flags)
    assert levels == {'': None, '-v': 'INFO', '-vv': 'DEBUG',
                      '-v --verbose': 'DEBUG'}
