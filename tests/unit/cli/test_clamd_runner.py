"""The private clamd runner: real clamd processes, started and stopped."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from objproxy.cli import clamd_runner
from objproxy.cli.clamd_runner import (
    ClamdNotFound, ClamdProcess, free_port, write_clamd_config)
from objproxy.common.clamd import (
    EICAR_TEST_FILE, ClamdAddress, ClamdUnavailable, read_clamd_conf)

from tests.clamd_fixture import require_clamd


@pytest.fixture
def clamd_installed():
    """A skip on a developer's machine without clamd, a failure in CI."""
    require_clamd()


needs_clamd = pytest.mark.usefixtures('clamd_installed')


@pytest.fixture
def run_dir():
    path = tempfile.mkdtemp(prefix='objproxy-crt-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    with open('/proc/%d/stat' % pid) as stat:
        return stat.read().split(')')[-1].split()[0] != 'Z'


def test_write_clamd_config_sizes_agree(tmp_path):
    path = str(tmp_path / 'clamd.conf')
    text = write_clamd_config(path, '/r/clamd.sock', '/r/db', '/r/tmp',
                              '/r/clamd.log', tcp_port=3999,
                              max_size=1234567)
    settings = read_clamd_conf(path)
    assert settings['Foreground'] == 'yes'
    assert settings['LocalSocket'] == '/r/clamd.sock'
    assert settings['TCPSocket'] == '3999'
    assert settings['TCPAddr'] == '127.0.0.1'
    assert settings['DatabaseDirectory'] == '/r/db'
    assert settings['TemporaryDirectory'] == '/r/tmp'
    for key in ('StreamMaxLength', 'MaxFileSize', 'MaxScanSize'):
        assert settings[key] == 1234567
    assert 'User' not in settings
    no_tcp = write_clamd_config(path, '/s', '/d', '/t', '/l')
    assert 'TCPSocket' not in no_tcp and 'TCPSocket' in text


def test_missing_binary_has_install_hint(run_dir):
    proc = ClamdProcess(run_dir, clamd_bin='/nonexistent/clamd')
    with pytest.raises(ClamdNotFound, match='apt-get install clamav-daemon'):
        proc.start()
    assert proc.pid is None


@needs_clamd
def test_start_scan_stop(run_dir):
    port = free_port()
    proc = ClamdProcess(run_dir, tcp_port=port, max_size=8 * 1024 * 1024)
    proc.start(timeout=30)
    try:
        pid = proc.pid
        assert _alive(pid)
        assert proc.startup_seconds < 10
        assert sorted(os.listdir(os.path.join(run_dir, 'db'))) == [
            'objproxy-eicar.hdb', 'objproxy-eicar.ndb']
        for address in (proc.address(),
                        ClamdAddress(host=proc.tcp_host, port=proc.tcp_port)):
            writer = address.instream()
            writer.write(EICAR_TEST_FILE)
            verdict = writer.finish()
            assert verdict.status == 'FOUND'
        assert proc.tcp_port == port
    finally:
        proc.stop()
    assert proc.pid is None
    assert not _alive(pid)
    proc.stop()  # idempotent
    with pytest.raises(ClamdUnavailable):
        proc.address(timeout=1).ping()


@needs_clamd
def test_unix_only_and_context_manager(run_dir):
    with ClamdProcess(run_dir) as proc:
        assert proc.tcp_port is None and proc.tcp_host is None
        assert proc.address().ping()
        pid = proc.pid
    assert not _alive(pid)


@needs_clamd
def test_early_exit_reports_stderr(run_dir, tmp_path):
    bad_db = tmp_path / 'db'
    bad_db.mkdir()
    (bad_db / 'broken.ndb').write_text('this is not a signature\n')
    proc = ClamdProcess(run_dir, database_dir=str(bad_db))
    with pytest.raises(RuntimeError, match='exited') as err:
        proc.start(timeout=30)
    assert 'broken.ndb' in str(err.value) or 'Malformed' in str(err.value)
    assert proc.pid is None


@needs_clamd
def test_stop_kills_a_clamd_ignoring_sigterm(run_dir):
    proc = ClamdProcess(run_dir).start()
    pid = proc.pid
    os.kill(pid, signal.SIGSTOP)  # a stopped process ignores SIGTERM
    started = time.monotonic()
    proc.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert not _alive(pid)


@needs_clamd
def test_command_line_runs_until_sigterm(run_dir):
    cmd = [sys.executable, '-m', 'objproxy.cli.clamd_runner', run_dir]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    try:
        line = child.stdout.readline().decode()
        assert line.startswith('clamd pid ')
        clamd_pid = int(line.split()[2])
        assert _alive(clamd_pid)
        child.send_signal(signal.SIGTERM)
        assert child.wait(15) == 0
        assert not _alive(clamd_pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_signature_files_are_shipped():
    names = sorted(os.listdir(clamd_runner.SIGNATURE_DIR))
    assert names == ['objproxy-eicar.hdb', 'objproxy-eicar.ndb']
    with open(os.path.join(clamd_runner.SIGNATURE_DIR,
                           'objproxy-eicar.ndb')) as ndb:
        name, target, offset, hexsig = ndb.read().strip().split(':')
    assert (target, offset) == ('0', '*')
    assert bytes.fromhex(hexsig) == EICAR_TEST_FILE


def test_streams_spool_in_the_given_temp_dir(run_dir, tmp_path):
    spool_root = tmp_path / 'spool'
    proc = ClamdProcess(run_dir, max_size=8 * 1024 * 1024,
                        temp_dir=str(spool_root))
    proc.start(timeout=30)
    try:
        private = read_clamd_conf(proc.conf_path)['TemporaryDirectory']
        assert os.path.dirname(private) == str(spool_root)
        writer = proc.address().instream()
        writer.write(b'clean bytes' * 1000)
        assert writer.finish().status == 'OK'
    finally:
        proc.stop()
    assert not os.path.exists(private)  # the private spool is removed


@needs_clamd
def test_start_after_death_comes_back_on_the_same_addresses(run_dir):
    shm = tempfile.mkdtemp(prefix='objproxy-crt-shm-')
    proc = ClamdProcess(run_dir, tcp_port=0, temp_dir=shm)
    try:
        proc.start()
        port, sock_path = proc.tcp_port, proc.socket_path
        first_tmp = os.listdir(shm)
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.time() + 10
        while proc.is_running() and time.time() < deadline:
            time.sleep(0.02)
        proc.start()
        assert (proc.tcp_port, proc.socket_path) == (port, sock_path)
        assert ClamdAddress(host='127.0.0.1', port=port,
                            timeout=2).ping() is True
        assert proc.address(timeout=2).ping() is True
        # the dead clamd's private spool dir was removed, not leaked
        assert len(os.listdir(shm)) == 1
        assert os.listdir(shm) != first_tmp
    finally:
        proc.stop()
        shutil.rmtree(shm, ignore_errors=True)


@needs_clamd
def test_added_signatures_are_loaded_by_a_reload_without_a_restart(
        run_dir):
    marker = b'objproxy-runner-new-signature-0123456789'
    proc = ClamdProcess(run_dir)
    proc.start(timeout=30)
    try:
        def scan():
            writer = proc.address().instream()
            writer.write(b'head ' + marker + b' tail')
            return writer.finish()
        assert scan().status == 'OK'
        pid = proc.pid
        path = proc.add_signatures('extra.ndb', 'Objproxy.Test.Runner:0:*:%s\n'
                                   % marker.hex())
        assert os.path.dirname(path) == proc.db_dir
        verdict = scan()
        assert verdict.status == 'FOUND'
        assert verdict.signature.startswith('Objproxy.Test.Runner')
        assert proc.pid == pid  # the same clamd, reloaded
        os.unlink(path)
        proc.reload()
        assert scan().status == 'OK'
        assert proc.pid == pid
    finally:
        proc.stop()


def test_a_missing_clamd_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(clamd_runner.shutil, 'which', lambda name: None)
    monkeypatch.setattr(clamd_runner, '_CLAMD_CANDIDATES', ())
    for value in ('true', '1', 'YES'):
        monkeypatch.setenv('CI', value)
        with pytest.raises(pytest.fail.Exception, match='required in CI'):
            require_clamd()
    for value in ('', 'false'):
        monkeypatch.setenv('CI', value)
        with pytest.raises(pytest.skip.Exception, match='apt-get install'):
            require_clamd()
