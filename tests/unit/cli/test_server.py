"""objproxy-server as a real process: config errors, ports, workers, stop."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.ports import free_ports
from tests.waiting import wait_for

APP_MODULE = '''
import os

def app_factory(global_conf, **local_conf):
    def app(env, start_response):
        body = ('%s %s' % (local_conf.get('greeting', 'hi'),
                           os.getpid())).encode()
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]
    return app
'''


def write_conf(tmp_path, port, workers=1, extra=''):
    (tmp_path / 'helloapp.py').write_text(APP_MODULE)
    conf = tmp_path / 'hello.conf'
    conf.write_text('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                    'workers = %d\n\n[app:main]\n'
                    'paste.app_factory = helloapp:app_factory\n'
                    'greeting = hello\n%s' % (port, workers, extra))
    return conf


def start(tmp_path, conf):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.Popen(
        [sys.executable, '-m', 'objproxy.cli.server', str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def wait_get(url, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def children_of(pid):
    out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(pid)],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_missing_config_is_a_clear_error(tmp_path):
    proc = start(tmp_path, tmp_path / 'nope.conf')
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert b'does not exist' in err and b'Traceback' not in err


def test_unknown_egg_is_a_clear_error(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('[DEFAULT]\nbind_port = 1\n[app:main]\n'
                    'use = egg:objproxy#no_such_app\n')
    proc = start(tmp_path, conf)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert b'no_such_app' in err and b'Traceback' not in err


def test_port_in_use_is_a_clear_error(tmp_path):
    holder = socket.socket()
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    try:
        conf = write_conf(tmp_path, holder.getsockname()[1])
        proc = start(tmp_path, conf)
        _, err = proc.communicate(timeout=30)
    finally:
        holder.close()
    assert proc.returncode == 2
    assert b'already in use' in err and b'Traceback' not in err


@pytest.mark.parametrize('workers', [0, 2])
def test_serves_and_stops_cleanly_on_sigterm(tmp_path, workers):
    port = free_ports(1)[0]
    proc = start(tmp_path, write_conf(tmp_path, port, workers))
    try:
        body = wait_get('http://127.0.0.1:%d/' % port)
        assert body.startswith('hello ')
        workers_seen = children_of(proc.pid)
        assert len(workers_seen) == workers
        if workers:
            assert int(body.split()[1]) in workers_seen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in workers_seen:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    sock = socket.socket()  # a new server can listen there again
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', port))
    sock.listen(1)
    sock.close()


def test_workers_die_with_a_killed_parent(tmp_path):
    port = free_ports(1)[0]
    proc = start(tmp_path, write_conf(tmp_path, port, workers=2))
    wait_get('http://127.0.0.1:%d/' % port)
    workers = children_of(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(
            os.path.exists('/proc/%d' % pid) for pid in workers):
        time.sleep(0.05)
    assert not any(os.path.exists('/proc/%d' % pid) for pid in workers)


SLOW_APP = '''
import os
import time

STARTED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'slow-started')


def app_factory(global_conf, **local_conf):
    def app(env, start_response):
        if env['PATH_INFO'] == '/slow':
            open(STARTED, 'w').close()   # the test waits for this file
            time.sleep(1.5)
        body = ('%s %s' % (local_conf.get('greeting', 'hi'),
                           os.getpid())).encode()
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]
    return app
'''


def slow_conf(tmp_path, port, workers, greeting='hello'):
    (tmp_path / 'slowapp.py').write_text(SLOW_APP)
    conf = tmp_path / 'slow.conf'
    conf.write_text('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                    'workers = %d\n\n[app:main]\n'
                    'paste.app_factory = slowapp:app_factory\n'
                    'greeting = %s\n' % (port, workers, greeting))
    return conf


def in_flight(url, app_dir):
    """Start a GET of /slow in a thread and wait until the app is
    serving it; returns a function giving its body."""
    import threading
    started = app_dir / 'slow-started'
    if started.exists():
        started.unlink()
    result = {}

    def fetch():
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                result['body'] = resp.read().decode()
        except OSError as err:
            result['error'] = err
    thread = threading.Thread(target=fetch)
    thread.start()
    wait_for(lambda: started.exists() or 'error' in result, timeout=15,
             what='the slow request to reach the app')

    def finish():
        thread.join(30)
        assert 'error' not in result, result
        return result['body']
    return finish


@pytest.mark.parametrize('workers', [0, 2])
def test_sigterm_lets_requests_in_flight_finish(tmp_path, workers):
    port = free_ports(1)[0]
    proc = start(tmp_path, slow_conf(tmp_path, port, workers))
    try:
        url = 'http://127.0.0.1:%d' % port
        wait_get(url + '/')
        finish = in_flight(url + '/slow', tmp_path)
        proc.send_signal(signal.SIGTERM)
        assert finish().startswith('hello ')
        assert proc.wait(15) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(url + '/', timeout=2)
    finally:
        proc.kill()
        proc.communicate()


def test_sighup_reloads_the_config_without_dropping_requests(tmp_path):
    port = free_ports(1)[0]
    conf = slow_conf(tmp_path, port, 2)
    proc = start(tmp_path, conf)
    try:
        url = 'http://127.0.0.1:%d' % port
        old_pids = set(children_of(proc.pid))
        assert wait_get(url + '/').startswith('hello ')
        finish = in_flight(url + '/slow', tmp_path)
        slow_conf(tmp_path, port, 2, greeting='bonjour')
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        while not wait_get(url + '/').startswith('bonjour '):
            assert time.time() < deadline, 'the new config never ran'
        assert finish().startswith('hello ')  # the old worker finished it
        deadline = time.time() + 15
        while old_pids & set(children_of(proc.pid)):
            assert time.time() < deadline, 'old workers did not exit'
            time.sleep(0.05)
        assert len(children_of(proc.pid)) == 2
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_sighup_with_a_broken_config_keeps_serving(tmp_path):
    port = free_ports(1)[0]
    conf = slow_conf(tmp_path, port, 1)
    log = tmp_path / 'server.log'
    conf.write_text(conf.read_text().replace(
        '[DEFAULT]\n', '[DEFAULT]\nlog_file = %s\n' % log))
    proc = start(tmp_path, conf)
    try:
        url = 'http://127.0.0.1:%d' % port
        assert wait_get(url + '/').startswith('hello ')
        conf.write_text(conf.read_text().replace('slowapp:', 'nosuch:'))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: 'reload refused' in log.read_text(), timeout=15,
                 what='the server to refuse the broken config')
        assert wait_get(url + '/').startswith('hello ')
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
