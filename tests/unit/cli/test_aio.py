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


def test_no_daemons_help_names_every_daemon_aio_runs(capsys):
    with pytest.raises(SystemExit):
        aio.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    helped = text.rsplit('--no-daemons', 1)[1].split(' --', 1)[0]
    for name in aio.DAEMONS:
        assert name in helped, name


def test_taken_port_is_a_clear_message(tmp_path):
    """Every busy port is named at once, each with the option moving it."""
    holders = []
    for _ in range(2):
        holder = socket.socket()
        holder.bind(('127.0.0.1', 0))
        holder.listen(1)
        holders.append(holder)
    proxy_port, node_port = (h.getsockname()[1] for h in holders)
    try:
        ports = free_ports(4)
        node_ports = [ports[0], node_port, ports[1], ports[2]]
        result = subprocess.run(
            AIO + ['--data-dir', str(tmp_path), '--port', str(proxy_port),
                   '--node-ports', ','.join(map(str, node_ports)),
                   '--memcache-port', str(ports[3])],
            capture_output=True, text=True, timeout=60)
    finally:
        for holder in holders:
            holder.close()
    assert result.returncode == 2
    err = result.stderr
    assert '2 port(s) already in use' in err
    lines = {line.strip() for line in err.splitlines()}
    assert 'port %d (proxy) is already in use on 127.0.0.1; move it with ' \
        '--port N' % proxy_port in lines
    assert 'port %d (storage node 2) is already in use on 127.0.0.1; ' \
        'move it with --node-ports P1,P2,P3,P4 (the 4 node ports, in ' \
        'order)' % node_port in lines
    for free in ports:
        assert 'port %d ' % free not in err
    assert 'Traceback' not in err


def test_a_lost_hash_conf_with_stored_data_exits_2_saying_how_to_restore(
        tmp_path):
    from objproxy.cli.aio_layout import AioLayout
    ports = free_ports(6)
    layout = AioLayout(str(tmp_path), node_ports=ports[1:5])
    layout.write_all()
    data = os.path.join(layout.node_devices(0), 'sdb1', 'objects', '1')
    os.makedirs(data)
    open(os.path.join(data, 'x.data'), 'w').close()
    os.unlink(layout.hash_conf)
    result = subprocess.run(
        AIO + ['--data-dir', str(tmp_path), '--port', str(ports[0]),
               '--memcache-port', str(ports[5])],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert '%s is missing' % layout.hash_conf in result.stderr
    assert 'Restore the file' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not os.path.exists(layout.hash_conf)


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


# --- shutdown order and clamd supervision ----------------------------------

class RecordingProc(object):
    """Stands in for a Popen: records when it is signalled and reaped."""

    def __init__(self, name, events):
        self.name = name
        self.events = events
        self.returncode = None

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        self.events.append(('signal', self.name))
        self.returncode = -sig

    def wait(self, timeout=None):
        self.events.append(('reaped', self.name))
        return self.returncode

    def kill(self):
        self.send_signal(signal.SIGKILL)


class RecordingClamd(object):
    def __init__(self, events):
        self.events = events

    def stop(self):
        self.events.append(('signal', 'clamd'))
        self.events.append(('reaped', 'clamd'))


def test_stop_takes_the_proxy_down_first_and_memcached_and_clamd_last(
        tmp_path):
    events = []
    cluster = aio.AllInOne(str(tmp_path))
    # the order aio.start() creates them in
    names = ['memcached']
    for node in range(1, 5):
        names.append('node%d' % node)
        names += ['node%d-%s' % (node, d) for d in aio.DAEMONS]
    names.append('proxy')
    cluster.procs = {name: RecordingProc(name, events) for name in names}
    cluster.clamd = RecordingClamd(events)
    cluster.stop()
    assert cluster.procs == {} and cluster.clamd is None
    order = [name for what, name in events if what == 'signal']
    reaped = [name for what, name in events if what == 'reaped']
    assert sorted(order) == sorted(names + ['clamd'])
    assert order[0] == 'proxy'
    # the proxy is gone before anything it depends on gets a signal
    assert events.index(('reaped', 'proxy')) < events.index(
        ('signal', order[1]))
    nodes = [name for name in names if name.startswith('node')]
    last_node_reaped = max(events.index(('reaped', n)) for n in nodes)
    assert last_node_reaped < events.index(('signal', 'memcached'))
    assert events.index(('reaped', 'memcached')) < events.index(
        ('signal', 'clamd'))
    assert order[-2:] == ['memcached', 'clamd']
    assert len(reaped) == len(order)


class FlakyClamd(object):
    """A ClamdProcess stand-in that is dead and fails to start N times."""

    def __init__(self, failures):
        self.failures = failures
        self.starts = 0
        self.running = False
        self.process = None
        self.pid = 4242
        self.socket_path = '/run/x/clamd.sock'

    def is_running(self):
        return self.running

    def start(self):
        self.starts += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError('clamd exited with status 1 during startup')
        self.running = True
        return self


def test_supervise_retries_a_clamd_that_will_not_start_with_backoff(
        tmp_path, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(aio.time, 'monotonic', lambda: now[0])
    cluster = aio.AllInOne(str(tmp_path))
    cluster.clamd = FlakyClamd(failures=2)
    assert 'retrying in 1s' in cluster.supervise()
    assert cluster.supervise() is None  # too early to try again
    assert cluster.clamd.starts == 1
    now[0] += 1
    assert 'retrying in 2s' in cluster.supervise()
    now[0] += 1.5
    assert cluster.supervise() is None
    now[0] += 0.5
    assert 'restarted as pid 4242' in cluster.supervise()
    assert cluster.clamd.starts == 3 and cluster.clamd_restarts == 1
    assert cluster.supervise() is None  # running: nothing to do


@pytest.mark.skipif(not any(os.access(p, os.X_OK) for p in (
    '/usr/sbin/clamd', '/usr/local/sbin/clamd', '/usr/bin/clamd')),
    reason='clamd not installed')
def test_supervise_restarts_a_killed_clamd_on_the_same_socket(tmp_path):
    from objproxy.cli.clamd_runner import ClamdProcess
    import tempfile
    import shutil
    run_dir = tempfile.mkdtemp(prefix='objproxy-aio-sup-')
    cluster = aio.AllInOne(str(tmp_path))
    cluster.clamd = ClamdProcess(run_dir)
    try:
        cluster.clamd.start()
        assert cluster.supervise() is None
        first_pid = cluster.clamd.pid
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.time() + 10
        while cluster.clamd.is_running() and time.time() < deadline:
            time.sleep(0.02)
        news = cluster.supervise()
        assert 'status -9' in news and 'restarted' in news
        assert cluster.clamd.pid != first_pid
        assert cluster.clamd.socket_path == os.path.join(run_dir,
                                                          'clamd.sock')
        assert cluster.clamd.address(timeout=2).ping() is True
        assert cluster.clamd_restarts == 1
    finally:
        cluster.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
