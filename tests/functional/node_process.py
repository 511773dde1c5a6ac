"""Storage-server processes that functional tests start on their own."""
import os
import socket
import sys
import time

BIN = os.path.join(os.path.dirname(sys.executable), 'objproxy-server')


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def write_conf(path, port, app, devices, objproxy_dir, extra=''):
    """A one-app storage-server config; ``extra`` adds [DEFAULT] lines."""
    path.write_text(
        '[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nworkers = 1\n'
        'devices = %s\nmount_check = false\nobjproxy_dir = %s\n'
        'fsync = false\nlog_file = %s.log\n%s\n'
        '[pipeline:main]\npipeline = main-app\n\n'
        '[app:main-app]\nuse = egg:objproxy#%s\n'
        % (port, devices, objproxy_dir, path, extra, app))


def wait_listening(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError('server exited with %s' % proc.returncode)
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError('server on %d did not start' % port)
