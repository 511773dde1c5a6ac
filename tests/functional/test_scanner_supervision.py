"""The scanner under a running ``objproxy-aio``: real processes throughout.

A hung clamd (SIGSTOP) costs an upload a 503 after the clamav filter's
scan_timeout (not a 408 blaming the client after client_timeout), and
takes /healthcheck to 503; a clamd that dies is restarted by aio on the
same socket and /healthcheck follows it down and up again; on shutdown the
proxy stops before the nodes, and memcached and clamd go last.
"""
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from middleware.clamav import DEFAULT_SCAN_TIMEOUT
from objproxy.common.clamd import EICAR_TEST_FILE
from tests.clamd_fixture import require_clamd
from tests.ports import free_ports

AIO = [sys.executable, '-m', 'objproxy.cli.aio']
CLIENT_TIMEOUT = 60  # the proxy's and the storage nodes' default



@pytest.fixture(autouse=True)
def clamd_installed():
    """Every test here runs aio with a clamd: none without one (a skip on
    a developer's machine, a failure in CI)."""
    require_clamd()


class Aio(object):
    """One ``objproxy-aio`` process on free ports, stderr in a file."""

    def __init__(self, data_dir, daemons=False):
        ports = free_ports(6)
        self.port = ports[0]
        self.stderr_path = os.path.join(str(data_dir), 'aio.stderr')
        os.makedirs(str(data_dir), exist_ok=True)
        cmd = AIO + ['--data-dir', str(data_dir), '--port', str(ports[0]),
                     '--node-ports', ','.join(map(str, ports[1:5])),
                     '--memcache-port', str(ports[5])]
        if not daemons:
            cmd.append('--no-daemons')
        with open(self.stderr_path, 'w') as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                         stderr=err, text=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if 'Press Ctrl-C' in line:
                return
        self.stop()
        raise AssertionError('objproxy-aio did not start: %s'
                             % self.stderr())

    def stderr(self):
        with open(self.stderr_path) as err:
            return err.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def children(self):
        """{name: pid} of aio's direct children (proxy, nodeN, memcached,
        clamd, nodeN daemons)."""
        found = {}
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % entry) as stat:
                    fields = stat.read().rsplit(')', 1)[1].split()
                with open('/proc/%s/cmdline' % entry, 'rb') as cmd:
                    argv = cmd.read().decode(errors='replace').split('\0')
            except OSError:
                continue
            if int(fields[1]) != self.proc.pid or fields[0] == 'Z':
                continue
            found[name_of(argv)] = int(entry)
        return found

    def clamd_pid(self):
        return self.children().get('clamd')

    def request(self, method, path, body=None, headers=None, timeout=90):
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def login(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        conn.request('GET', '/auth/v1.0', headers={
            'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        url = urllib.parse.urlparse(resp.getheader('X-Storage-Url'))
        return url.path, resp.getheader('X-Auth-Token')

    def wait_health(self, status, timeout=30):
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            try:
                seen = self.request('GET', '/healthcheck', timeout=10)
            except OSError as err:
                seen = err
            if isinstance(seen, tuple) and seen[0] == status:
                return seen
            time.sleep(0.1)
        raise AssertionError('/healthcheck never answered %d (last: %r)'
                             % (status, seen))


def name_of(argv):
    joined = ' '.join(argv)
    if 'clamd' in os.path.basename(argv[0]):
        return 'clamd'
    if 'memcached' in os.path.basename(argv[0]):
        return 'memcached'
    for arg in argv:
        base = os.path.basename(arg)
        if base == 'proxy-server.conf':
            return 'proxy'
        if base.startswith('node') and base.endswith('.conf'):
            node = base[:-len('.conf')]
            for daemon in ('replicator', 'auditor', 'updater'):
                if 'objproxy-' + daemon in joined:
                    return '%s-%s' % (node, daemon)
            return node
    return joined


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


@pytest.fixture(scope='module')
def aio_run(tmp_path_factory):
    run = Aio(tmp_path_factory.mktemp('supervised'))
    try:
        yield run
    finally:
        pid = run.clamd_pid()
        if pid:
            os.kill(pid, signal.SIGCONT)
        run.stop()


@pytest.fixture(scope='module')
def account(aio_run):
    path, token = aio_run.login()
    headers = {'X-Auth-Token': token}
    assert aio_run.request('PUT', path + '/scans', b'',
                           headers)[0] in (201, 202)
    return path, headers


def test_hung_clamd_gives_503_within_scan_timeout(aio_run, account):
    path, headers = account
    status, _ = aio_run.request('PUT', path + '/scans/before', b'clean',
                                headers)
    assert status == 201  # clamd's VERSION is now cached by the proxy
    clamd = aio_run.clamd_pid()
    os.kill(clamd, signal.SIGSTOP)
    try:
        status, body = aio_run.wait_health(503, timeout=10)
        assert body == b'clamd unreachable'
        started = time.monotonic()
        status, body = aio_run.request('PUT', path + '/scans/hung',
                                       b'x' * 100000, headers)
        elapsed = time.monotonic() - started
    finally:
        os.kill(clamd, signal.SIGCONT)
    assert status == 503, body
    assert b'virus scan could not be completed' in body
    assert DEFAULT_SCAN_TIMEOUT - 1 < elapsed < DEFAULT_SCAN_TIMEOUT + 5
    assert elapsed < CLIENT_TIMEOUT
    assert aio_run.request('HEAD', path + '/scans/hung',
                           headers=headers)[0] == 404
    aio_run.wait_health(200, timeout=10)
    assert aio_run.clamd_pid() == clamd  # hung is not dead: not restarted


def test_dead_clamd_is_restarted_and_healthcheck_follows(aio_run, account):
    path, headers = account
    first = aio_run.clamd_pid()
    # stopped first, so the down state is seen before aio restarts it
    os.kill(first, signal.SIGSTOP)
    aio_run.wait_health(503, timeout=10)
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (aio_run.clamd_pid() or first) != first and
                      aio_run.clamd_pid(), 30, 'clamd to be restarted')
    assert aio_run.wait_health(200, timeout=30)[1] == b'OK'
    assert 'clamd exited (status -9); restarted' in aio_run.stderr()
    status, _ = aio_run.request('PUT', path + '/scans/after', b'clean',
                                headers)
    assert status == 201
    status, body = aio_run.request('PUT', path + '/scans/eicar',
                                   EICAR_TEST_FILE, headers)
    assert status == 403, body

    # and again, without the pause: it keeps coming back
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: (aio_run.clamd_pid() or second) != second, 30,
             'clamd to be restarted again')
    aio_run.wait_health(200, timeout=30)
    assert aio_run.proc.poll() is None  # the cluster itself kept running


def test_shutdown_stops_the_proxy_first_and_memcached_and_clamd_last(
        tmp_path):
    run = Aio(tmp_path / 'shutdown', daemons=True)
    try:
        pids = run.children()
        assert {'proxy', 'memcached', 'clamd', 'node1', 'node4',
                'node1-replicator'} <= set(pids), pids
        path, token = run.login()
        statuses = []
        stop_polling = threading.Event()

        def poll():
            # authenticated requests until the proxy is gone: none may be
            # refused for a token memcached no longer knows
            while not stop_polling.is_set():
                try:
                    statuses.append(run.request(
                        'HEAD', path, headers={'X-Auth-Token': token},
                        timeout=10)[0])
                except OSError:
                    return
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        wait_for(lambda: statuses, 10, 'a first authenticated answer')
        gone_at = {}
        run.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while len(gone_at) < len(pids) and time.monotonic() < deadline:
            now = time.monotonic()
            for name, pid in pids.items():
                if name not in gone_at and not alive(pid):
                    gone_at[name] = now
            time.sleep(0.005)
        assert run.proc.wait(60) == 0
        stop_polling.set()
        poller.join(15)
    finally:
        run.stop()
    assert set(gone_at) == set(pids)
    assert 401 not in statuses, statuses
    nodes = [name for name in pids if name.startswith('node')]
    assert all(gone_at['proxy'] <= gone_at[n] for n in nodes), gone_at
    assert all(gone_at[n] <= gone_at['memcached'] for n in nodes), gone_at
    assert gone_at['proxy'] <= gone_at['memcached'] <= gone_at['clamd']


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
