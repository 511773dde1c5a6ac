"""objproxy-aio's command line: argument errors, taken ports, clean stop."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from objproxy.cli import aio
from tests.ports import free_ports

AIO = [sys.executable, '-m', 'objproxy.cli.aio']


@pytest.mark.parametrize('argv,message', [
    (['--node-ports', '1,2'], 'exactly 4 ports'),
    (['--node-ports', 'a,b,c,d'], 'comma-separated numbers'),
    (['--workers', '-1'], '--workers must be 0 or more'),
    (['--pipeline', 'tempauth'], 'must end with proxy_server'),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        aio.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_taken_port_is_a_clear_message(tmp_path):
    holder = socket.socket()
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        ports = free_ports(5)
        result = subprocess.run(
            AIO + ['--data-dir', str(tmp_path), '--port', str(taken),
                   '--node-ports', ','.join(map(str, ports[:4])),
                   '--memcache-port', str(ports[4])],
            capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 2
    assert 'port %d (proxy) is already in use' % taken in result.stderr
    assert 'Traceback' not in result.stderr


def test_missing_clamd_is_a_clear_message(tmp_path):
    ports = free_ports(6)
    result = subprocess.run(
        AIO + ['--data-dir', str(tmp_path), '--port', str(ports[0]),
               '--node-ports', ','.join(map(str, ports[1:5])),
               '--memcache-port', str(ports[5]),
               '--clamd-bin', str(tmp_path / 'no-clamd')],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'clamd not found' in result.stderr
    assert 'apt-get install clamav-daemon' in result.stderr
    assert 'Traceback' not in result.stderr
    # memcached, started before clamd, was stopped again
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', ports[5]))
    sock.close()


def start_aio(data_dir, ports, preexec_fn=None):
    return subprocess.Popen(
        AIO + ['--data-dir', str(data_dir), '--port', str(ports[0]),
               '--node-ports', ','.join(map(str, ports[1:5])),
               '--memcache-port', str(ports[5]), '--pipeline',
               'catch_errors healthcheck tempauth proxy_server'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=preexec_fn)


def assert_all_gone(pids):
    for pid in pids:
        assert not os.path.exists('/proc/%d' % pid) or \
            open('/proc/%d/stat' % pid).read().split()[2] == 'Z'


def like_a_background_job():
    """A shell starts background jobs with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def wait_for_banner(proc, timeout=60):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if 'Press Ctrl-C' in line:
            return ''.join(lines)
    proc.kill()
    raise AssertionError('no banner: %s %s' % (''.join(lines),
                                               proc.stderr.read()))


def descendants(pid):
    out = subprocess.run(['ps', '-e', '-o', 'pid=,ppid='],
                         capture_output=True, text=True).stdout
    parents = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        parents.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def put_and_get(url, token, path, body=None):
    req = urllib.request.Request(url + path, data=body,
                                 method='PUT' if body is not None else 'GET',
                                 headers={'X-Auth-Token': token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def login(proxy):
    req = urllib.request.Request(proxy + '/auth/v1.0', headers={
        'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers['X-Storage-Url'], resp.headers['X-Auth-Token']


def test_sigterm_stops_everything_and_a_rerun_keeps_data(tmp_path):
    ports = free_ports(6)
    proc = start_aio(tmp_path, ports)
    try:
        banner = wait_for_banner(proc)
        assert 'http://127.0.0.1:%d/auth/v1.0' % ports[0] in banner
        assert 'swift -A' in banner and 'curl' in banner
        children = descendants(proc.pid)
        assert len(children) >= 18  # memcached, 4 nodes + their 3 daemons, proxy
        url, token = login('http://127.0.0.1:%d' % ports[0])
        put_and_get(url, token, '/keep', b'')
        put_and_get(url, token, '/keep/obj', b'still here')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_all_gone(children)

    # other ports, same data dir: the object is still there; and SIGINT
    # (Ctrl-C) stops it even when it was started with SIGINT ignored
    ports = free_ports(6)
    proc = start_aio(tmp_path, ports, preexec_fn=like_a_background_job)
    try:
        wait_for_banner(proc)
        children = descendants(proc.pid)
        url, token = login('http://127.0.0.1:%d' % ports[0])
        assert put_and_get(url, token, '/keep/obj') == b'still here'
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert_all_gone(children)
