#!/usr/bin/env python3
"""Proxy throughput: objproxy against OpenStack Swift, same load, one run.

    .venv/bin/python bench/bench_proxy.py [--objproxy-url URL] [--no-swift]
                                          [--quick] [--no-big-upload]

Starts objproxy with ``objproxy-aio --workers 1 --no-daemons`` (or uses a
running one given by ``--objproxy-url``) and Swift's SAIO
(``/work/shared/anchors/swift-saio.sh``, one worker per server),
authenticates through ``/auth/v1.0`` and runs PUT, GET (content verified)
and DELETE phases for
4 KiB x 2000 @16, 1 MiB x 300 @8 and 64 MiB x 10 @2 over persistent
connections.  Prints req/s, MB/s, p50/p99 latency, errors, the proxy's CPU
seconds and peak RSS (from /proc), the objproxy/Swift ratios, the disk's
fdatasync'd sequential write rate / 3 (each byte is written three times),
and how much objproxy's proxy RSS grows during a 1 GiB streaming upload.
"""
import argparse
import hashlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAIO = '/work/shared/anchors/swift-saio.sh'
SWIFT_URL = 'http://127.0.0.1:18080'
PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
            'tempauth proxy_logging proxy_server')
SCENARIOS = [('4KiB', 4096, 2000, 16), ('1MiB', 1 << 20, 300, 8),
             ('64MiB', 64 << 20, 10, 2)]
QUICK = [('4KiB', 4096, 300, 16), ('1MiB', 1 << 20, 40, 8),
         ('64MiB', 64 << 20, 2, 2)]
MB = 1e6


# ----- processes and /proc ---------------------------------------------------

def find_pids(*needles):
    pids = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % name, 'rb') as fp:
                cmd = fp.read().replace(b'\0', b' ').decode('utf-8',
                                                            'replace')
        except OSError:
            continue
        if all(n in cmd for n in needles) and int(name) != os.getpid():
            pids.append(int(name))
    return pids


def cpu_seconds(pids):
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as fp:
                fields = fp.read().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def mem_kb(pids, key):
    best = 0
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid) as fp:
                for line in fp:
                    if line.startswith(key + ':'):
                        best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            p = urlparse(url)
            conn = http.client.HTTPConnection(p.hostname, p.port, timeout=2)
            conn.request('GET', '/healthcheck')
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def free_port():
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Objproxy(object):
    def __init__(self, url=None):
        self.url = url
        self.proc = None
        self.data_dir = None

    def start(self):
        if self.url:
            return
        self.data_dir = tempfile.mkdtemp(prefix='bench-objproxy-')
        port = free_port()
        aio = os.path.join(os.path.dirname(sys.executable), 'objproxy-aio')
        for pipeline in (PIPELINE, PIPELINE.replace(' ratelimit', '')):
            # no background daemons: Swift's SAIO runs none either
            cmd = [aio, '--workers', '1', '--no-daemons',
                   '--pipeline', pipeline,
                   '--data-dir', self.data_dir, '--port', str(port)]
            log = open(os.path.join(self.data_dir, 'aio.out'), 'ab')
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                         start_new_session=True)
            self.url = 'http://127.0.0.1:%d' % port
            if wait_http(self.url, 90):
                if pipeline != PIPELINE:
                    print('NOTE: objproxy started without ratelimit '
                          '(filter not loadable)')
                return
            self.stop()
        raise SystemExit('objproxy-aio did not start; see %s/aio.out'
                         % self.data_dir)

    def proxy_pids(self):
        if self.data_dir:
            return find_pids('objproxy', self.data_dir, 'proxy-server.conf')
        return find_pids('objproxy', 'proxy-server.conf')

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


class Swift(object):
    url = SWIFT_URL

    def __init__(self):
        self.env = dict(os.environ,
                        SAIO_BASE=os.environ.get(
                            'SAIO_BASE', os.path.join(ROOT, '.swift-saio')))

    def start(self):
        for step in ('install', 'up'):
            result = subprocess.run(['bash', SAIO, step], env=self.env)
            if result.returncode:
                raise RuntimeError('swift-saio.sh %s failed' % step)

    def proxy_pids(self):
        return find_pids('swift-proxy-server')

    def stop(self):
        subprocess.run(['bash', SAIO, 'down'], env=self.env)


# ----- load ------------------------------------------------------------------

def auth(url, user='test:tester', key='testing'):
    p = urlparse(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=30)
    conn.request('GET', '/auth/v1.0', headers={'X-Auth-User': user,
                                               'X-Auth-Key': key})
    resp = conn.getresponse()
    resp.read()
    if resp.status // 100 != 2:
        raise RuntimeError('auth failed: %d' % resp.status)
    return resp.getheader('X-Storage-Url'), resp.getheader('X-Auth-Token')


class Worker(object):
    def __init__(self, storage_url, token):
        p = urlparse(storage_url)
        self.host, self.port, self.base = p.hostname, p.port, p.path
        self.token = token
        self.conn = None

    def request(self, method, path, body=None, expect=None):
        """(status, verified) with one retry on a dropped keep-alive."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=120)
            try:
                self.conn.request(method, self.base + path, body=body,
                                  headers={'X-Auth-Token': self.token})
                resp = self.conn.getresponse()
                ok = True
                if expect is not None:
                    digest = hashlib.md5()
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        digest.update(chunk)
                    ok = digest.hexdigest() == expect
                else:
                    resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status, ok
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    return 599, False
        return 599, False


def run_phase(storage_url, token, method, names, body, concurrency,
              expect=None):
    lat = []
    errors = [0]
    statuses = {}
    lock = threading.Lock()
    queue = list(reversed(names))

    def work():
        worker = Worker(storage_url, token)
        while True:
            with lock:
                if not queue:
                    return
                name = queue.pop()
            start = time.time()
            status, ok = worker.request(method, name, body if method == 'PUT'
                                        else None,
                                        expect if method == 'GET' else None)
            took = time.time() - start
            good = (status // 100 == 2 and ok)
            with lock:
                lat.append(took)
                if not good:
                    errors[0] += 1
                    statuses[status] = statuses.get(status, 0) + 1
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if statuses:
        print('  %s errors by status: %r' % (method, statuses))
    return time.time() - t0, sorted(lat), errors[0]


def pct(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(round(p / 100.0 *
                                              (len(sorted_values) - 1))))
    return sorted_values[i]


def run_scenarios(system, scenarios):
    storage_url, token = auth(system.url)
    pids = system.proxy_pids()
    results = {}
    for label, size, count, conc in scenarios:
        body = os.urandom(size)
        md5 = hashlib.md5(body).hexdigest()
        container = '/bench-%s-%d' % (label, int(time.time()))
        Worker(storage_url, token).request('PUT', container)
        names = ['%s/o%05d' % (container, i) for i in range(count)]
        for method in ('PUT', 'GET', 'DELETE'):
            cpu0 = cpu_seconds(pids)
            elapsed, lat, errors = run_phase(storage_url, token, method,
                                             names, body, conc, md5)
            cpu = cpu_seconds(pids) - cpu0
            moved = size * count if method in ('PUT', 'GET') else 0
            results[(label, method)] = {
                'rps': count / elapsed, 'mbps': moved / elapsed / MB,
                'p50': pct(lat, 50) * 1000, 'p99': pct(lat, 99) * 1000,
                'errors': errors, 'cpu': cpu}
        Worker(storage_url, token).request('DELETE', container)
    results['peak_rss_mb'] = mem_kb(pids, 'VmHWM') / 1024.0
    return results


def big_upload_rss(system, size=1 << 30):
    """Max growth of the proxy's RSS while streaming ``size`` bytes."""
    storage_url, token = auth(system.url)
    pids = system.proxy_pids()
    w = Worker(storage_url, token)
    w.request('PUT', '/bench-rss')
    base = mem_kb(pids, 'VmRSS')
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], mem_kb(pids, 'VmRSS'))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    chunk = os.urandom(1 << 20)

    def body():
        for _ in range(size // len(chunk)):
            yield chunk
    p = urlparse(storage_url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=300)
    t0 = time.time()
    conn.request('PUT', p.path + '/bench-rss/big', body=body(),
                 headers={'X-Auth-Token': token,
                          'Content-Length': str(size)})
    status = conn.getresponse().status
    elapsed = time.time() - t0
    done.set()
    sampler.join()
    w.request('DELETE', '/bench-rss/big')
    w.request('DELETE', '/bench-rss')
    return status, (peak[0] - base) / 1024.0, size / elapsed / MB


def disk_limit_mbps(directory, size=256 << 20):
    path = os.path.join(directory, 'bench-disk.tmp')
    block = os.urandom(1 << 20)
    t0 = time.time()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for _ in range(size // len(block)):
            os.write(fd, block)
        os.fdatasync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
    return size / (time.time() - t0) / MB / 3


# ----- report ----------------------------------------------------------------

def report(name, results):
    print('\n== %s ==' % name)
    print('%-6s %-6s %9s %9s %9s %9s %6s %7s' % (
        'size', 'phase', 'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'errors',
        'cpu s'))
    for key, r in results.items():
        if not isinstance(key, tuple):
            continue
        print('%-6s %-6s %9.1f %9.1f %9.1f %9.1f %6d %7.2f' % (
            key[0], key[1], r['rps'], r['mbps'], r['p50'], r['p99'],
            r['errors'], r['cpu']))
    print('proxy peak RSS: %.1f MB' % results['peak_rss_mb'])


def ratios(ours, theirs, disk):
    print('\n== objproxy / Swift ==')
    for key, r in ours.items():
        if not isinstance(key, tuple) or key not in theirs:
            continue
        t = theirs[key]
        print('%-6s %-6s req/s x%.2f   MB/s x%s' % (
            key[0], key[1], r['rps'] / max(t['rps'], 1e-9),
            ('%.2f' % (r['mbps'] / t['mbps'])) if t['mbps'] else '-'))

    def check(label, ok):
        print('  [%s] %s' % ('ok' if ok else 'MISS', label))

    def versus(key, metric, factor, label):
        if key in ours and key in theirs:
            check(label, ours[key][metric] >= factor * theirs[key][metric])
    print('\n== targets ==')
    versus(('4KiB', 'PUT'), 'rps', 2, '4 KiB PUT req/s >= 2x Swift')
    versus(('4KiB', 'GET'), 'rps', 2, '4 KiB GET req/s >= 2x Swift')
    versus(('64MiB', 'GET'), 'mbps', 1.5, '64 MiB GET MB/s >= 1.5x Swift')
    versus(('64MiB', 'PUT'), 'mbps', 1, '64 MiB PUT MB/s >= Swift')
    if ('64MiB', 'PUT') in ours:
        check('64 MiB PUT MB/s >= 90%% of disk limit (%.1f MB/s)' % disk,
              ours[('64MiB', 'PUT')]['mbps'] >= 0.9 * disk)
    errs = sum(r['errors'] for k, r in ours.items() if isinstance(k, tuple))
    check('zero errors (objproxy: %d)' % errs, errs == 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--objproxy-url', help='use a running objproxy')
    parser.add_argument('--no-swift', action='store_true',
                        help='skip the Swift comparison')
    parser.add_argument('--quick', action='store_true',
                        help='fewer objects (a smoke run)')
    parser.add_argument('--no-big-upload', action='store_true',
                        help='skip the 1 GiB RSS-growth upload')
    parser.add_argument('--only', action='append', default=[],
                        help='run only this scenario (4KiB, 1MiB, 64MiB); '
                             'repeatable')
    args = parser.parse_args(argv)
    scenarios = QUICK if args.quick else SCENARIOS
    if args.only:
        scenarios = [s for s in scenarios if s[0] in args.only]

    ours = Objproxy(args.objproxy_url)
    try:
        ours.start()
        disk = disk_limit_mbps(ours.data_dir or tempfile.gettempdir())
        print('disk limit (fdatasync sequential write / 3): %.1f MB/s'
              % disk)
        our_results = run_scenarios(ours, scenarios)
        report('objproxy', our_results)
        if not args.no_big_upload:
            status, growth, rate = big_upload_rss(ours)
            print('1 GiB upload: status %d, %.1f MB/s, proxy RSS growth '
                  '%.1f MB (target < 20)' % (status, rate, growth))
    finally:
        ours.stop()
        if ours.data_dir:
            shutil.rmtree(ours.data_dir, ignore_errors=True)
    if args.no_swift:
        return 0
    swift = Swift()
    try:
        swift.start()
        swift_results = run_scenarios(swift, scenarios)
        report('Swift', swift_results)
    finally:
        swift.stop()
    ratios(our_results, swift_results, disk)
    return 0


if __name__ == '__main__':
    sys.exit(main())
