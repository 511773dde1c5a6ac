#!/usr/bin/env python3
"""Proxy throughput: objproxy against OpenStack Swift, same load, one run.

    .venv/bin/python bench/bench_proxy.py --swift-saio PATH/swift-saio.sh
                                          [--objproxy-url URL] [--no-swift]
                                          [--quick] [--no-big-upload]
                                          [--rounds N] [--only 4KiB ...]
                                          [--no-default-pipeline] [--warm]
                                          [--with-daemons]
                                          [--daemon-option KEY=VALUE ...]

Starts objproxy with ``objproxy-aio --workers 1 --no-daemons`` (or uses a
running one given by ``--objproxy-url``) and OpenStack Swift as a SAIO
(started by the script named with ``--swift-saio`` or ``$SWIFT_SAIO``:
``install``, ``up`` and ``down`` verbs, proxy on 127.0.0.1:18080 with
tempauth's test:tester/testing, one worker per server), both up
at once, authenticates through ``/auth/v1.0`` and runs PUT, GET (content
verified) and DELETE phases for 4 KiB x 2000 @16, 1 MiB x 300 @8 and
64 MiB x 10 @2 over persistent connections.

The machines are shared and noisy, so a run is several rounds, and each
round runs every scenario on both systems back to back (who goes first
alternates).  Ratios are per round, and the targets are judged on their
median.  Prints req/s, MB/s, p50/p99 latency, errors, the CPU per request
of the proxy, of the storage nodes and of this load generator (from
/proc), the proxy's peak RSS, the disk's fdatasync'd sequential write rate
/ 3 (each byte is written three times), and how much objproxy's proxy RSS
grows during a 1 GiB streaming upload.

Columns: ``objproxy`` runs Swift's SAIO pipeline (what the targets are
judged on, against Swift in its default configuration); ``objproxy-default``
runs objproxy's default pipeline, clamav included (its own aio with a
private clamd; ``--no-default-pipeline`` leaves it out).

Reads are cold: before every GET phase the data files of the system about
to be read are dropped from the page cache (``POSIX_FADV_DONTNEED`` on each
file under objproxy's ``srv/node*/sdb*/objects`` and Swift's
``$SAIO_BASE/srv/*/node/sdb*/objects``); ``--warm`` skips that.  CPU is
also given as seconds per GB moved, per role.

``--with-daemons``: one more objproxy (aio as shipped: default pipeline,
every node daemon: replicator, auditor, updater, expirer, rescanner), preloaded with objects so they
have work; the 4 KiB scenario runs on it with the daemons running and with
them paused (SIGSTOP/SIGCONT of exactly those processes), alternating, and
the p99 of PUT, GET and DELETE are printed side by side.
``--daemon-option nice_priority=10`` (repeatable) writes that option into
every daemon section of its node configs before it starts.
"""
import argparse
import hashlib
import http.client
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from systems import (  # noqa: E402
    Objproxy, Swift, cpu_seconds, drop_cache, mem_kb)
SCENARIOS = [('4KiB', 4096, 2000, 16), ('1MiB', 1 << 20, 300, 8),
             ('64MiB', 64 << 20, 10, 2)]
QUICK = [('4KiB', 4096, 300, 16), ('1MiB', 1 << 20, 40, 8),
         ('64MiB', 64 << 20, 2, 2)]
MB = 1e6


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


def run_scenario(system, scenario, storage_url, token, cold=True):
    """PUT, GET (verified) and DELETE of one scenario; figures per phase,
    with the CPU seconds of the proxy, the storage nodes and this client.
    ``cold``: the GET phase starts with the object files out of the page
    cache."""
    label, size, count, conc = scenario
    roles = {'proxy': system.proxy_pids(), 'nodes': system.node_pids()}
    body = os.urandom(size)
    md5 = hashlib.md5(body).hexdigest()
    container = '/bench-%s-%d' % (label, int(time.time() * 1000))
    Worker(storage_url, token).request('PUT', container)
    names = ['%s/o%05d' % (container, i) for i in range(count)]
    results = {}
    for method in ('PUT', 'GET', 'DELETE'):
        if method == 'GET' and cold:
            drop_cache(system)
        cpu0 = dict((r, cpu_seconds(p)) for r, p in roles.items())
        client0 = sum(os.times()[:2])
        elapsed, lat, errors = run_phase(storage_url, token, method,
                                         names, body, conc, md5)
        cpu = dict((r, cpu_seconds(p) - cpu0[r]) for r, p in roles.items())
        cpu['client'] = sum(os.times()[:2]) - client0
        moved = size * count if method in ('PUT', 'GET') else 0
        results[(label, method)] = {
            'rps': count / elapsed, 'mbps': moved / elapsed / MB,
            'p50': pct(lat, 50) * 1000, 'p99': pct(lat, 99) * 1000,
            'errors': errors, 'count': count, 'cpu': cpu, 'bytes': moved}
    Worker(storage_url, token).request('DELETE', container)
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

def median(values):
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2.0


def merge_rounds(rounds):
    """One table from several rounds: the median of every figure (errors
    are summed)."""
    merged = {}
    for key in rounds[0]:
        runs = [r[key] for r in rounds]
        merged[key] = {
            'rps': median([r['rps'] for r in runs]),
            'mbps': median([r['mbps'] for r in runs]),
            'p50': median([r['p50'] for r in runs]),
            'p99': median([r['p99'] for r in runs]),
            'errors': sum(r['errors'] for r in runs),
            'count': runs[0]['count'], 'bytes': runs[0]['bytes'],
            'cpu': dict((role, median([r['cpu'][role] for r in runs]))
                        for role in runs[0]['cpu'])}
    return merged


def report(name, results, peak_rss_mb):
    print('\n== %s (median of rounds) ==' % name)
    print('%-6s %-6s %8s %8s %8s %8s %6s | %-26s | %s' % (
        'size', 'phase', 'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'errors',
        'CPU ms/req: proxy nodes client', 'CPU s/GB: proxy nodes'))
    for key, r in results.items():
        per = dict((role, 1000.0 * r['cpu'][role] / r['count'])
                   for role in r['cpu'])
        per_gb = ''
        if r.get('bytes'):
            gb = r['bytes'] / 1e9
            per_gb = '%8.2f %8.2f' % (r['cpu']['proxy'] / gb,
                                      r['cpu']['nodes'] / gb)
        print('%-6s %-6s %8.1f %8.1f %8.1f %8.1f %6d | %8.2f %8.2f %8.2f | '
              '%s' % (key[0], key[1], r['rps'], r['mbps'], r['p50'],
                      r['p99'], r['errors'], per['proxy'], per['nodes'],
                      per['client'], per_gb))
    print('proxy peak RSS: %.1f MB' % peak_rss_mb)


def ratio_rounds(ours, theirs, key, metric):
    """Per-round objproxy/Swift ratios of one figure."""
    return [o[key][metric] / t[key][metric]
            for o, t in zip(ours, theirs) if t[key][metric]]


def ratios(ours, theirs, disk, name='objproxy', targets=True):
    """Ratios per round (each round ran both systems back to back) and
    their median, which the targets are judged on."""
    print('\n== %s / Swift (median of per-round ratios; rounds) ==' % name)
    median_ratio = {}
    for key in ours[0]:
        metric = 'mbps' if theirs[0][key]['mbps'] else 'rps'
        values = ratio_rounds(ours, theirs, key, metric)
        median_ratio[key] = median(values)
        print('%-6s %-6s %-5s x%.2f   (%s)' % (
            key[0], key[1], 'MB/s' if metric == 'mbps' else 'req/s',
            median_ratio[key], ' '.join('%.2f' % v for v in values)))

    if not targets:
        return

    def check(label, ok):
        print('  [%s] %s' % ('ok' if ok else 'MISS', label))
    merged = merge_rounds(ours)
    print('\n== targets ==')
    if ('4KiB', 'PUT') in median_ratio:
        check('4 KiB PUT req/s >= 3x Swift',
              median_ratio[('4KiB', 'PUT')] >= 3)
        check('4 KiB GET req/s >= 3x Swift',
              median_ratio[('4KiB', 'GET')] >= 3)
    if ('64MiB', 'GET') in median_ratio:
        check('64 MiB GET MB/s (cold) >= 1.5x Swift',
              median_ratio[('64MiB', 'GET')] >= 1.5)
        check('64 MiB PUT MB/s >= Swift',
              median_ratio[('64MiB', 'PUT')] >= 1)
        check('64 MiB PUT MB/s (%.1f) >= 90%% of disk limit (%.1f MB/s)'
              % (merged[('64MiB', 'PUT')]['mbps'], disk),
              merged[('64MiB', 'PUT')]['mbps'] >= 0.9 * disk)
    errs = sum(r['errors'] for r in merged.values())
    check('zero errors (objproxy: %d)' % errs, errs == 0)



def nice_of(pid):
    try:
        with open('/proc/%d/stat' % pid) as fp:
            return int(fp.read().rsplit(')', 1)[1].split()[16])
    except (OSError, IndexError, ValueError):
        return None


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def daemons_stage(args, rounds):
    """p99 of 4 KiB PUT/GET/DELETE on one objproxy with its daemons
    running and paused, alternating; printed side by side."""
    options = [tuple(o.split('=', 1)) for o in args.daemon_option]
    # aio as a user runs it: its default pipeline (the rescanner daemon
    # asks the clamd that only a pipeline with clamav starts)
    system = Objproxy(pipeline=None, daemons=True, daemon_options=options)
    scenario = [s for s in (QUICK if args.quick else SCENARIOS)
                if s[0] == '4KiB'][0]
    runs = {'running': [], 'paused': []}
    try:
        system.start()
        session = auth(system.url)
        worker = Worker(*session)
        worker.request('PUT', '/bench-daemon-load')
        body = os.urandom(4096)
        for i in range(args.daemon_preload):  # work for the daemons
            status, _ = worker.request('PUT', '/bench-daemon-load/p%06d' % i,
                                       body)
            if status != 201:
                raise SystemExit('preload PUT answered %d; see %s/aio.out'
                                 % (status, system.data_dir))
        pids = system.daemon_pids()
        print('daemons: %d processes (nice: %s), options %s, %d objects '
              'preloaded' % (len(pids), ' '.join(str(nice_of(p))
                                                 for p in pids),
                             options or 'none', args.daemon_preload),
              flush=True)
        for round_no in range(rounds):
            order = ['running', 'paused']
            if round_no % 2:
                order.reverse()
            for state in order:
                signal_all(pids, signal.SIGCONT if state == 'running'
                           else signal.SIGSTOP)
                runs[state].append(run_scenario(system, scenario, *session,
                                                cold=not args.warm))
            print('daemon round %d of %d done' % (round_no + 1, rounds),
                  flush=True)
        signal_all(pids, signal.SIGCONT)
        cpu = cpu_seconds(pids)
    finally:
        signal_all(system.daemon_pids(), signal.SIGCONT)
        system.stop()
        shutil.rmtree(system.data_dir or '', ignore_errors=True)
    print('\n== 4 KiB p99 ms, daemons running vs paused (median of rounds; '
          'daemon options: %s; daemons used %.1f CPU s in all) =='
          % (options or 'none', cpu))
    worst = 0.0
    for method in ('PUT', 'GET', 'DELETE'):
        key = (scenario[0], method)
        on = median([r[key]['p99'] for r in runs['running']])
        off = median([r[key]['p99'] for r in runs['paused']])
        per_round = [a[key]['p99'] / b[key]['p99']
                     for a, b in zip(runs['running'], runs['paused'])]
        worst = max(worst, median(per_round))
        print('%-6s running %8.1f  paused %8.1f  x%.2f  (rounds: %s)' % (
            method, on, off, median(per_round),
            ' '.join('%.2f' % v for v in per_round)))
    print('  [%s] 4 KiB p99 with daemons <= 1.5x without (worst x%.2f)' % (
        'ok' if worst <= 1.5 else 'MISS', worst))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--objproxy-url', help='use a running objproxy')
    parser.add_argument('--swift-saio', default=os.environ.get('SWIFT_SAIO'),
                        help='script that installs/starts/stops OpenStack '
                        'Swift on loopback (verbs install, up, down); '
                        'default $SWIFT_SAIO')
    parser.add_argument('--no-swift', action='store_true',
                        help='skip the Swift comparison')
    parser.add_argument('--quick', action='store_true',
                        help='fewer objects (a smoke run)')
    parser.add_argument('--no-big-upload', action='store_true',
                        help='skip the 1 GiB RSS-growth upload')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds; each runs every scenario on both '
                             'systems back to back (default 3)')
    parser.add_argument('--no-default-pipeline', action='store_true',
                        help='leave out the objproxy-default column '
                             '(objproxy with its default pipeline, clamav '
                             'included)')
    parser.add_argument('--warm', action='store_true',
                        help='do not drop the object files from the page '
                             'cache before each GET phase')
    parser.add_argument('--with-daemons', action='store_true',
                        help='also compare 4 KiB p99 with aio\'s daemons '
                             'running and paused')
    parser.add_argument('--daemons-only', action='store_true',
                        help='only the --with-daemons comparison')
    parser.add_argument('--daemon-option', action='append', default=[],
                        help='KEY=VALUE for every daemon section of the '
                             '--with-daemons objproxy (e.g. nice_priority=10)')
    parser.add_argument('--daemon-preload', type=int, default=1000,
                        help='4 KiB objects stored before the daemon rounds '
                             '(default 1000)')
    parser.add_argument('--only', action='append', default=[],
                        help='run only this scenario (4KiB, 1MiB, 64MiB); '
                             'repeatable')
    args = parser.parse_args(argv)
    if not args.no_swift and not args.swift_saio:
        parser.error('name the Swift SAIO script with --swift-saio (or '
                     '$SWIFT_SAIO), or pass --no-swift')
    scenarios = QUICK if args.quick else SCENARIOS
    if args.only:
        scenarios = [s for s in scenarios if s[0] in args.only]
    command = '.venv/bin/python bench/bench_proxy.py %s' % ' '.join(
        argv if argv is not None else sys.argv[1:])
    print('command: %s' % command, flush=True)
    if args.with_daemons or args.daemons_only:
        daemons_stage(args, args.rounds)
        if args.daemons_only:
            print('\nreproduce: %s' % command)
            return 0

    systems = [('objproxy', Objproxy(args.objproxy_url))]
    if not args.no_default_pipeline and not args.objproxy_url:
        systems.append(('objproxy-default', Objproxy(pipeline=None)))
    if not args.no_swift:
        systems.append(('Swift', Swift(args.swift_saio)))
    results = dict((name, []) for name, _ in systems)
    disks = []
    try:
        for _, system in systems:
            system.start()
        sessions = dict((name, auth(system.url)) for name, system in systems)
        for round_no in range(args.rounds):
            disks.append(disk_limit_mbps(systems[0][1].data_dir or
                                         tempfile.gettempdir()))
            # who goes first alternates, so drift over the run is shared
            order = systems if round_no % 2 == 0 else systems[::-1]
            done = dict((name, {}) for name, _ in systems)
            for scenario in scenarios:
                for name, system in order:
                    done[name].update(run_scenario(
                        system, scenario, *sessions[name],
                        cold=not args.warm))
            for name in done:
                results[name].append(done[name])
            print('round %d of %d done' % (round_no + 1, args.rounds),
                  flush=True)
        disk = median(disks)
        print('disk limit (fdatasync sequential write / 3): %.1f MB/s '
              '(rounds: %s)' % (disk, ' '.join('%.1f' % d for d in disks)))
        for name, system in systems:
            report(name, merge_rounds(results[name]),
                   mem_kb(system.proxy_pids(), 'VmHWM') / 1024.0)
        if not args.no_big_upload:
            status, growth, rate = big_upload_rss(systems[0][1])
            print('1 GiB upload to objproxy: status %d, %.1f MB/s, proxy RSS '
                  'growth %.1f MB (target < 20)' % (status, rate, growth))
    finally:
        for _, system in systems:
            system.stop()
            if getattr(system, 'data_dir', None):
                shutil.rmtree(system.data_dir, ignore_errors=True)
    if not args.no_swift:
        ratios(results['objproxy'], results['Swift'], disk)
        if 'objproxy-default' in results:
            ratios(results['objproxy-default'], results['Swift'], disk,
                   'objproxy-default', targets=False)
    print('\nreproduce: %s' % command)
    return 0


if __name__ == '__main__':
    sys.exit(main())
