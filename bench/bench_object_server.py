"""Object-server throughput: objproxy against OpenStack Swift, same disk.

Starts objproxy's object server (``objproxy-server``) and Swift's
(``swift-object-server`` from a private venv) with one worker each, devices
in temp dirs on the same filesystem, fsync on (both servers' default), and
drives both with the same client: ``--concurrency`` threads, each with one
persistent HTTP/1.1 connection.

Figures: 4 KiB PUT/s and GET/s, and MiB/s of a 64 MiB streaming PUT and
GET (one connection).  Prints each figure, the objproxy/Swift ratio and the
command that reproduces the run.

    .venv/bin/python bench/bench_object_server.py [--seconds 5]

The Swift venv is created at --swift-venv (default /tmp/swift-venv-objbench)
with ``pip install swift`` when missing (a lock file keeps two benchmarks
from building it at once).
"""
import argparse
import fcntl
import getpass
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SMALL = 4096
BIG = 64 * 1024 * 1024
CHUNK = 65536


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ensure_swift_venv(path):
    exe = os.path.join(path, 'bin', 'swift-object-server')
    lock_path = path.rstrip('/') + '.lock'
    with open(lock_path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(exe):
            print('creating %s (pip install swift)...' % path, flush=True)
            subprocess.check_call([sys.executable, '-m', 'venv', path])
            subprocess.check_call([os.path.join(path, 'bin', 'pip'),
                                   'install', '-q', 'swift'])
    return exe


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit('server exited early (status %s)'
                             % proc.returncode)
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit('server on port %d did not start' % port)


class Server(object):
    def __init__(self, name, argv, port, log):
        self.name = name
        self.port = port
        self.log = open(log, 'wb')
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_objproxy(work, extra=()):
    root = os.path.join(work, 'objproxy')
    devices = os.path.join(root, 'devices')
    os.makedirs(os.path.join(devices, 'sda'))
    with open(os.path.join(root, 'objproxy.conf'), 'w') as fp:
        fp.write('[objproxy-hash]\nhash_path_prefix = bench\n'
                 'hash_path_suffix = bench\n')
    port = free_port()
    conf = os.path.join(root, 'object-server.conf')
    with open(conf, 'w') as fp:
        fp.write('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                 'workers = 1\ndevices = %s\nobjproxy_dir = %s\n'
                 'mount_check = false\nlog_file = %s\n\n'
                 '[app:main]\nuse = egg:objproxy#object_server\n%s'
                 % (port, devices, root, os.path.join(root, 'log'),
                    ''.join('%s\n' % e.replace('=', ' = ', 1)
                            for e in extra)))
    return Server('objproxy',
                  [sys.executable, '-m', 'objproxy.cli.server', conf],
                  port, os.path.join(root, 'stdout'))


def start_swift(work, exe):
    root = os.path.join(work, 'swift')
    devices = os.path.join(root, 'devices')
    os.makedirs(os.path.join(devices, 'sda'))
    with open(os.path.join(root, 'swift.conf'), 'w') as fp:
        fp.write('[swift-hash]\nswift_hash_path_prefix = bench\n'
                 'swift_hash_path_suffix = bench\n'
                 '[storage-policy:0]\nname = gold\ndefault = yes\n')
    port = free_port()
    conf = os.path.join(root, 'object-server.conf')
    with open(conf, 'w') as fp:
        fp.write('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                 'workers = 1\ndevices = %s\nswift_dir = %s\n'
                 'mount_check = false\nlog_name = objbench\nuser = %s\n'
                 'log_level = WARNING\n\n'
                 '[pipeline:main]\npipeline = object-server\n\n'
                 '[app:object-server]\nuse = egg:swift#object\n'
                 % (port, devices, root, getpass.getuser()))
    return Server('swift', [exe, conf], port, os.path.join(root, 'stdout'))


def put_small(conn, path, body, ts):
    conn.request('PUT', path, body, {
        'X-Timestamp': ts, 'Content-Type': 'application/octet-stream',
        'Content-Length': str(len(body))})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 201:
        raise RuntimeError('PUT %s -> %s' % (path, resp.status))


def get_small(conn, path, size):
    conn.request('GET', path)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200 or len(data) != size:
        raise RuntimeError('GET %s -> %s' % (path, resp.status))


def run_small(port, op, seconds, concurrency, tag):
    body = os.urandom(SMALL)
    counts = [0] * concurrency
    errors = []
    stop_at = [None]
    barrier = threading.Barrier(concurrency + 1)

    def worker(idx):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        n = 0
        barrier.wait()
        try:
            while time.time() < stop_at[0]:
                path = '/sda/%d/AUTH_b/c/%s-%d-%d' % (n % 64, tag, idx, n)
                if op == 'PUT':
                    put_small(conn, path, body, '%.5f' % time.time())
                else:
                    if n >= written[idx]:
                        n = 0
                        path = '/sda/0/AUTH_b/c/%s-%d-0' % (tag, idx)
                    get_small(conn, path, SMALL)
                n += 1
                counts[idx] += 1
        except Exception as err:
            errors.append(err)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(concurrency)]
    for t in threads:
        t.start()
    stop_at[0] = time.time() + seconds
    start = time.time()
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    if errors:
        raise SystemExit('%s errors: %r' % (op, errors[:3]))
    return sum(counts) / elapsed, counts


written = []


def run_big(port, op, rounds, first=0):
    block = os.urandom(CHUNK)
    best = 0.0
    for i in range(first, first + rounds):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        path = '/sda/1/AUTH_b/c/big-%d' % i
        start = time.time()
        if op == 'PUT':
            conn.putrequest('PUT', path)
            conn.putheader('X-Timestamp', '%.5f' % time.time())
            conn.putheader('Content-Type', 'application/octet-stream')
            conn.putheader('Content-Length', str(BIG))
            conn.endheaders()
            for _ in range(BIG // CHUNK):
                conn.send(block)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise SystemExit('big PUT -> %s' % resp.status)
        else:
            conn.request('GET', path)
            resp = conn.getresponse()
            got = 0
            while True:
                data = resp.read(CHUNK)
                if not data:
                    break
                got += len(data)
            if resp.status != 200 or got != BIG:
                raise SystemExit('big GET -> %s (%d bytes)'
                                 % (resp.status, got))
        elapsed = time.time() - start
        conn.close()
        best = max(best, BIG / elapsed / 2 ** 20)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=5.0,
                        help='duration of each 4 KiB phase')
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--big-rounds', type=int, default=3)
    parser.add_argument('--swift-venv', default='/tmp/swift-venv-objbench')
    parser.add_argument('--objproxy-option', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='extra object-server option for objproxy, '
                             'e.g. disk_tpool=false')
    parser.add_argument('--workdir', default=None,
                        help='where to put devices (default: a temp dir '
                             'under /tmp)')
    args = parser.parse_args(argv)
    exe = ensure_swift_venv(args.swift_venv)
    work = tempfile.mkdtemp(prefix='objbench-', dir=args.workdir)
    servers = {}
    results = {}
    try:
        servers['objproxy'] = start_objproxy(work, args.objproxy_option)
        servers['swift'] = start_swift(work, exe)
        time.sleep(0.5)
        for name in ('objproxy', 'swift'):   # warm up both
            run_small(servers[name].port, 'PUT', 0.5, 2, 'warm')
        # The two servers take turns in short slices so that load from
        # anything else on the machine hits both alike; 4 KiB figures are
        # total requests / total time, 64 MiB figures the best round.
        slices = 4
        for figure in ('4KiB PUT/s', '4KiB GET/s', '64MiB PUT MiB/s',
                       '64MiB GET MiB/s'):
            totals = dict((n, [0.0, 0.0]) for n in servers)
            for rep in range(slices if figure.startswith('4KiB')
                             else args.big_rounds):
                for name in ('objproxy', 'swift'):
                    srv = servers[name]
                    port = srv.port
                    if figure == '4KiB PUT/s':
                        rate, counts = run_small(
                            port, 'PUT', args.seconds / slices,
                            args.concurrency, 'o%d' % rep)
                        srv.written = counts
                        srv.tag = 'o%d' % rep
                    elif figure == '4KiB GET/s':
                        written[:] = srv.written
                        rate, _ = run_small(port, 'GET',
                                            args.seconds / slices,
                                            args.concurrency, srv.tag)
                    elif figure.startswith('64MiB PUT'):
                        rate = run_big(port, 'PUT', 1, rep)
                    else:
                        rate = run_big(port, 'GET', 1, rep)
                    if figure.startswith('4KiB'):
                        totals[name][0] += rate
                        totals[name][1] += 1
                    else:
                        totals[name][0] = max(totals[name][0], rate)
                        totals[name][1] = 1
            for name in ('objproxy', 'swift'):
                rate = totals[name][0] / totals[name][1]
                results[(figure, name)] = rate
                print('%-18s %-9s %10.1f' % (figure, name, rate),
                      flush=True)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print('%-18s %12s %12s %8s' % ('figure', 'objproxy', 'swift',
                                   'ratio'))
    for figure in ('4KiB PUT/s', '4KiB GET/s', '64MiB PUT MiB/s',
                   '64MiB GET MiB/s'):
        ours, theirs = results[(figure, 'objproxy')], \
            results[(figure, 'swift')]
        print('%-18s %12.1f %12.1f %7.2fx' % (figure, ours, theirs,
                                              ours / theirs if theirs
                                              else float('inf')))
    print()
    print('concurrency %d (4 KiB), 1 connection (64 MiB), 1 worker each, '
          'fsync on' % args.concurrency)
    print('reproduce: cd %s && .venv/bin/python bench/bench_object_server.py'
          ' --seconds %g --concurrency %d --big-rounds %d%s'
          % (ROOT, args.seconds, args.concurrency, args.big_rounds,
             ''.join(' --objproxy-option %s' % e
                     for e in args.objproxy_option)))


if __name__ == '__main__':
    main()
