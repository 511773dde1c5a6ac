"""A user adds their own filter to a running objproxy-aio, as the README says.

The filter is a module of theirs on PYTHONPATH.  Adding it takes its name in
the pipeline line of ``<data-dir>/etc/proxy-server.conf``, a two-line
section, and a restart of ``objproxy-aio`` (which keeps the edited config,
and the ports it was first given, across the restart).
"""
import os
import signal
import subprocess
import sys
import urllib.request

from objproxy.cli.aio_layout import read_text, set_option
from tests.ports import free_ports

AIO = os.path.join(os.path.dirname(sys.executable), 'objproxy-aio')

FILTER = '''\
"""Adds X-Hello to every response."""


def filter_factory(global_conf, **local_conf):
    greeting = local_conf.get('greeting', 'hello')

    def make(app):
        def hello(environ, start_response):
            def reply(status, headers, exc_info=None):
                return start_response(
                    status, headers + [('X-Hello', greeting)], exc_info)
            return app(environ, reply)
        return hello
    return make
'''


def start(data_dir, env, *args):
    proc = subprocess.Popen(
        [AIO, '--data-dir', str(data_dir), '--no-daemons'] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if 'Press Ctrl-C' in line:
            return proc, ''.join(lines)
    proc.wait()
    raise AssertionError('objproxy-aio did not start:\n' + ''.join(lines))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out
    return out


def healthcheck(port):
    url = 'http://127.0.0.1:%d/healthcheck' % port
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers


def test_a_filter_added_to_the_config_runs_after_a_restart(tmp_path):
    code = tmp_path / 'code'
    code.mkdir()
    (code / 'hello_filter.py').write_text(FILTER)
    env = dict(os.environ, PYTHONPATH=str(code))
    data = tmp_path / 'objproxy-data'
    ports = free_ports(6)
    proc, _ = start(data, env, '--port', str(ports[0]),
                    '--node-ports', ','.join(map(str, ports[1:5])),
                    '--memcache-port', str(ports[5]))
    try:
        status, headers = healthcheck(ports[0])
        assert status == 200 and headers.get('X-Hello') is None
    finally:
        stop(proc)

    conf = data / 'etc' / 'proxy-server.conf'
    text = conf.read_text()
    names = read_text(text).get('pipeline:main', 'pipeline').split()
    text = set_option(text, 'pipeline:main', 'pipeline',
                      ' '.join(['hello'] + names))
    text += ('\n[filter:hello]\n'
             'paste.filter_factory = hello_filter:filter_factory\n')
    conf.write_text(text)

    # no port options: the config carries them now
    proc, banner = start(data, env)
    try:
        assert 'http://127.0.0.1:%d/auth/v1.0' % ports[0] in banner
        status, headers = healthcheck(ports[0])
        assert status == 200
        assert headers.get('X-Hello') == 'hello'
    finally:
        stop(proc)
    assert conf.read_text() == text  # the restart kept the edit
