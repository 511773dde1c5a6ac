"""Soak: a mixed load for minutes, objproxy and OpenStack Swift side by side.

The question it answers: does a storage node stay responsive for minutes
of mixed traffic while the background daemons (replicator, auditor,
updater) work on the same databases?  A node that freezes (a lock wait on
its eventlet hub) shows up as 5xx, as a p99 of seconds, and later as
objects that were acknowledged but cannot be read back.

Load: ``--concurrency`` client threads (32) for ``--duration`` seconds
(300) issue PUT, GET, HEAD, DELETE and container listings (``--mix``)
against a few containers, objects of ``--min-size`` to ``--max-size``
bytes (4 KiB to 1 MiB, log-uniform).  An object is never the subject of
two requests at once, so its final state is known: at the end every
acknowledged, not deleted object is read back and its MD5 compared, and
every acknowledged delete must answer 404.

Printed per system and method: count, 5xx, other errors, p50 and p99
latency; the RSS of the storage-node worker processes at the start and the
end of the load; the verification totals; and the command that reproduces
the run.

objproxy is started here (``objproxy-aio`` with its default pipeline,
clamav included, and its daemons on, on free loopback ports and a
temporary data dir) unless ``--objproxy-url`` names a running one.  Swift
is started with ``--swift-saio PATH`` (a ``swift-saio.sh``: ``install``,
then ``up``; ``down`` at the end) and measured in the same run after
objproxy; without the option only objproxy is measured.  Every request
goes to a loopback address and every loop is bounded by ``--duration``
and ``--max-requests``.
"""
import argparse
import hashlib
import http.client
import math
import os
import random
import shlex
import sys
import threading
import time
from urllib.parse import quote, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from systems import ObjproxySystem, SwiftSystem, rss_mb

METHODS = ('PUT', 'GET', 'HEAD', 'DELETE', 'LIST')
DEFAULT_MIX = 'PUT=35,GET=30,HEAD=15,DELETE=10,LIST=10'
LOOPBACK = ('127.0.0.1', 'localhost', '::1')


def auth(url, user, key):
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=30)
    conn.request('GET', '/auth/v1.0', headers={'X-Auth-User': user,
                                               'X-Auth-Key': key})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status // 100 != 2:
        raise SystemExit('auth at %s failed: %d' % (url, resp.status))
    return resp.getheader('X-Storage-Url'), resp.getheader('X-Auth-Token')


class Client(object):
    """One keep-alive connection; every request bounded by ``timeout``."""

    def __init__(self, storage_url, token, timeout=60):
        parsed = urlparse(storage_url)
        if parsed.hostname not in LOOPBACK:
            raise SystemExit('refusing a non-loopback storage URL %s'
                             % storage_url)
        self.host, self.port, self.base = (parsed.hostname, parsed.port,
                                           parsed.path)
        self.token = token
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, md5 hex of the body or None); status 0: no answer."""
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=self.timeout)
        try:
            self.conn.request(method, self.base + path, body=body,
                              headers=hdrs)
            resp = self.conn.getresponse()
            digest = hashlib.md5()
            while True:
                chunk = resp.read(1 << 18)
                if not chunk:
                    break
                digest.update(chunk)
            if resp.will_close:
                self.close()
            return resp.status, digest.hexdigest()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Bodies(object):
    """Object bodies without generating megabytes per PUT: a few random
    prefixes (MD5 state kept) plus a unique 32-byte tail per object."""

    def __init__(self, rng, min_size, max_size, variants=16):
        self.rng = rng
        self.min_size = min_size
        self.max_size = max_size
        self.blob = os.urandom(max_size)
        self.offsets = [rng.randrange(0, 4096) for _ in range(variants)]

    def make(self, serial):
        lo, hi = math.log(self.min_size), math.log(self.max_size)
        size = int(round(math.exp(self.rng.uniform(lo, hi))))
        size = max(self.min_size, min(self.max_size, size))
        tail = ('%032d' % serial).encode()[-32:]
        head_len = max(0, size - len(tail))
        offset = self.rng.choice(self.offsets)
        offset = min(offset, len(self.blob) - head_len)
        body = self.blob[offset:offset + head_len] + tail
        return body, hashlib.md5(body).hexdigest()


class State(object):
    """What the cluster must hold: acknowledged objects and deletes.

    A name is checked out while a request on it is in flight, so no two
    requests ever race on one object and its final state is known.  An
    object whose PUT or DELETE failed may or may not have changed: it is
    dropped from the expectations (counted as unclear, not verified)."""

    def __init__(self, containers, rng):
        self.lock = threading.Lock()
        self.containers = containers
        self.rng = rng
        self.live = {}        # (container, name) -> md5
        self.keys = []        # the idle live keys, for O(1) random picks
        self.where = {}       # key -> index in self.keys
        self.deleted = set()  # (container, name)
        self.unknown = 0
        self.serial = 0

    def new_name(self):
        with self.lock:
            self.serial += 1
            key = (self.rng.choice(self.containers),
                   'obj/%06d' % self.serial)
            return key, self.serial

    def take_live(self):
        """A random idle live object (checked out), or None."""
        with self.lock:
            if not self.keys:
                return None
            index = self.rng.randrange(len(self.keys))
            key = self.keys[index]
            last = self.keys.pop()
            if last != key:
                self.keys[index] = last
                self.where[last] = index
            del self.where[key]
            return key, self.live[key]

    def done(self, key, md5=None, deleted=False, failed=False):
        """Check ``key`` back in with its new state."""
        with self.lock:
            if failed:
                self.live.pop(key, None)
                self.unknown += 1
                return
            if deleted:
                self.live.pop(key, None)
                self.deleted.add(key)
                return
            if md5 is not None:
                self.live[key] = md5
                self.deleted.discard(key)
            if key in self.live and key not in self.where:
                self.where[key] = len(self.keys)
                self.keys.append(key)


class Stats(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = dict((m, []) for m in METHODS)
        self.five = dict((m, 0) for m in METHODS)
        self.other = dict((m, 0) for m in METHODS)
        self.statuses = dict((m, {}) for m in METHODS)

    def add(self, method, took, status, ok):
        with self.lock:
            self.lat[method].append(took)
            if status >= 500:
                self.five[method] += 1
            elif not ok:
                self.other[method] += 1
            if not ok:
                counts = self.statuses[method]
                counts[status] = counts.get(status, 0) + 1


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    index = min(len(values) - 1, int(math.ceil(p / 100.0 * len(values))) - 1)
    return values[max(index, 0)]


def parse_mix(text):
    mix = {}
    for part in text.split(','):
        name, _, weight = part.partition('=')
        name = name.strip().upper()
        if name not in METHODS:
            raise SystemExit('--mix: unknown method %r' % name)
        mix[name] = float(weight)
    return mix


def one_request(client, state, bodies, method, stats):
    """Do one request of ``method`` on a suitable object; False if there was
    nothing to do it on (e.g. no live object yet)."""
    if method == 'PUT':
        taken = None
        if state.rng.random() < 0.1:
            taken = state.take_live()      # an overwrite
        if taken is not None:
            key = taken[0]
            with state.lock:
                state.serial += 1
                serial = state.serial
        else:
            key, serial = state.new_name()
        body, md5 = bodies.make(serial)
        path = '/%s/%s' % (key[0], quote(key[1]))
        start = time.time()
        status, _ = client.request('PUT', path, body,
                                   {'Content-Type': 'application/octet-'
                                    'stream'})
        took = time.time() - start
        ok = status == 201
        state.done(key, md5=md5, failed=not ok)
        stats.add('PUT', took, status, ok)
        return True
    if method == 'LIST':
        container = state.rng.choice(state.containers)
        start = time.time()
        status, _ = client.request(
            'GET', '/%s?format=json&limit=1000&prefix=obj/%d' % (
                container, state.rng.randrange(10)))
        stats.add('LIST', time.time() - start, status, status in (200, 204))
        return True
    taken = state.take_live()
    if taken is None:
        return False
    key, md5 = taken
    path = '/%s/%s' % (key[0], quote(key[1]))
    start = time.time()
    status, got = client.request(method, path)
    took = time.time() - start
    if method == 'GET':
        ok = status == 200 and got == md5
        state.done(key)
    elif method == 'HEAD':
        ok = status == 200
        state.done(key)
    else:  # DELETE
        ok = status == 204
        state.done(key, deleted=ok, failed=not ok)
    stats.add(method, took, status, ok)
    return True


def run_load(storage_url, token, args, state, bodies):
    stats = Stats()
    mix = parse_mix(args.mix)
    methods = [m for m in METHODS if mix.get(m)]
    weights = [mix[m] for m in methods]
    deadline = time.time() + args.duration
    budget = [args.max_requests]
    budget_lock = threading.Lock()

    def work(seed):
        rng = random.Random(seed)
        client = Client(storage_url, token)
        try:
            while time.time() < deadline:
                with budget_lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                method = rng.choices(methods, weights)[0]
                if not one_request(client, state, bodies, method, stats):
                    one_request(client, state, bodies, 'PUT', stats)
        finally:
            client.close()
    threads = [threading.Thread(target=work, args=(args.seed * 1000 + i,),
                                daemon=True)
               for i in range(args.concurrency)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.duration + 600)
    return stats, time.time() - started


def verify(storage_url, token, state, concurrency):
    """(objects verified, mismatched or missing, deletes verified, deletes
    still readable): every acknowledged object and delete, checked."""
    todo = [(key, md5) for key, md5 in state.live.items()]
    todo += [(key, None) for key in state.deleted]
    todo.reverse()
    lock = threading.Lock()
    result = {'ok': 0, 'bad': 0, 'del_ok': 0, 'del_bad': 0, 'failures': []}

    def work():
        client = Client(storage_url, token)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    key, md5 = todo.pop()
                path = '/%s/%s' % (key[0], quote(key[1]))
                status, got = client.request('GET', path)
                if status >= 500 or status == 0:
                    status, got = client.request('GET', path)  # one retry
                with lock:
                    if md5 is None:
                        good = status == 404
                        result['del_ok' if good else 'del_bad'] += 1
                    else:
                        good = status == 200 and got == md5
                        result['ok' if good else 'bad'] += 1
                    if not good and len(result['failures']) < 5:
                        result['failures'].append('%s/%s -> %s' % (
                            key[0], key[1], status))
        finally:
            client.close()
    threads = [threading.Thread(target=work, daemon=True)
               for _ in range(max(1, min(concurrency, 16)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(1800)
    return result


def rss_snapshot(system):
    return dict((pid, (label, rss_mb(pid)))
                for pid, label in system.node_workers().items())


def soak(system, args):
    """Run the load against one started system; a result dict."""
    storage_url, token = auth(system.url, args.user, args.key)
    rng = random.Random(args.seed)
    containers = ['soak%d' % i for i in range(args.containers)]
    client = Client(storage_url, token)
    for container in containers:
        status, _ = client.request('PUT', '/' + container)
        if status not in (201, 202):
            raise SystemExit('%s: container PUT answered %s'
                             % (system.name, status))
    client.close()
    state = State(containers, rng)
    bodies = Bodies(random.Random(args.seed + 1), args.min_size,
                    args.max_size)
    rss_start = rss_snapshot(system)
    stats, elapsed = run_load(storage_url, token, args, state, bodies)
    rss_end = rss_snapshot(system)
    checked = verify(storage_url, token, state, args.concurrency)
    return {'stats': stats, 'elapsed': elapsed, 'rss_start': rss_start,
            'rss_end': rss_end, 'verify': checked,
            'unknown': state.unknown}


def report(name, result):
    stats = result['stats']
    total = sum(len(v) for v in stats.lat.values())
    print('\n== %s: %d requests in %.0f s (%.1f/s)' % (
        name, total, result['elapsed'], total / max(result['elapsed'], 1e-9)))
    print('%-7s %8s %6s %7s %9s %9s %9s' % ('method', 'count', '5xx',
                                            'other', 'p50 ms', 'p99 ms',
                                            'max ms'))
    for method in METHODS:
        lat = stats.lat[method]
        print('%-7s %8d %6d %7d %9.1f %9.1f %9.1f' % (
            method, len(lat), stats.five[method], stats.other[method],
            pct(lat, 50) * 1000, pct(lat, 99) * 1000,
            (max(lat) if lat else 0) * 1000))
    for method in METHODS:
        if stats.statuses[method]:
            print('  %s failures by status (0 = no answer): %r'
                  % (method, stats.statuses[method]))
    print('node worker RSS (MB), start -> end:')
    start, end = result['rss_start'], result['rss_end']
    for pid in sorted(set(start) | set(end)):
        label = (start.get(pid) or end.get(pid))[0]
        before = start.get(pid, (None, None))[1]
        after = end.get(pid, (None, None))[1]
        delta = ('%+.1f' % (after - before)
                 if before is not None and after is not None else 'n/a')
        print('  pid %-7d %-28s %7s -> %7s  (%s)' % (
            pid, label, '%.1f' % before if before is not None else '-',
            '%.1f' % after if after is not None else '-', delta))
    checked = result['verify']
    print('verify: %d acknowledged objects read back with the right MD5, '
          '%d missing or wrong; %d acknowledged deletes answer 404, %d do '
          'not; %d objects with an unclear outcome not verified'
          % (checked['ok'], checked['bad'], checked['del_ok'],
             checked['del_bad'], result['unknown']))
    for failure in checked['failures']:
        print('  verify failure: %s' % failure)


def targets(name, result, max_p99, max_rss_delta):
    stats = result['stats']
    lines = []
    five = sum(stats.five.values())
    lines.append(('0 5xx', five == 0, '%d' % five))
    worst = max(((pct(stats.lat[m], 99), m) for m in METHODS
                 if stats.lat[m]), default=(0, '-'))
    lines.append(('p99 of every method < %.1f s' % max_p99,
                  worst[0] < max_p99, 'worst %s %.3f s' % (worst[1],
                                                            worst[0])))
    deltas = []
    for pid, (_label, after) in result['rss_end'].items():
        before = result['rss_start'].get(pid, (None, None))[1]
        if before is not None and after is not None:
            deltas.append(after - before)
    worst_rss = max((abs(d) for d in deltas), default=0.0)
    lines.append(('node RSS flat (+-%d MB)' % max_rss_delta,
                  bool(deltas) and worst_rss <= max_rss_delta,
                  'worst %+.1f MB' % (max(deltas, key=abs) if deltas
                                      else 0)))
    checked = result['verify']
    lines.append(('every acknowledged object verified',
                  checked['bad'] == 0 and checked['del_bad'] == 0,
                  '%d/%d objects, %d/%d deletes' % (
                      checked['ok'], checked['ok'] + checked['bad'],
                      checked['del_ok'],
                      checked['del_ok'] + checked['del_bad'])))
    print('targets (%s):' % name)
    for label, ok, detail in lines:
        print('  [%s] %s: %s' % ('PASS' if ok else 'FAIL', label, detail))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--duration', type=float, default=300,
                        help='seconds of load per system (300)')
    parser.add_argument('--concurrency', '-c', type=int, default=32)
    parser.add_argument('--min-size', type=int, default=4096)
    parser.add_argument('--max-size', type=int, default=1 << 20)
    parser.add_argument('--containers', type=int, default=4)
    parser.add_argument('--mix', default=DEFAULT_MIX,
                        help='weights per method (%s)' % DEFAULT_MIX)
    parser.add_argument('--max-requests', type=int, default=2000000,
                        help='upper bound on requests per system')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--user', default='test:tester')
    parser.add_argument('--key', default='testing')
    parser.add_argument('--objproxy-url',
                        help='use this running objproxy instead of '
                             'starting objproxy-aio')
    parser.add_argument('--no-objproxy', action='store_true')
    parser.add_argument('--swift-saio', metavar='PATH',
                        help='swift-saio.sh that starts OpenStack Swift '
                             '(install, up, down); Swift is skipped '
                             'without it')
    parser.add_argument('--keep-data', action='store_true',
                        help="keep objproxy-aio's temporary data dir")
    parser.add_argument('--max-p99', type=float, default=1.0)
    parser.add_argument('--max-rss-delta', type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.objproxy_url and \
            urlparse(args.objproxy_url).hostname not in LOOPBACK:
        parser.error('--objproxy-url must be a loopback address')
    if not 0 < args.min_size <= args.max_size:
        parser.error('need 0 < --min-size <= --max-size')

    command = ' '.join(shlex.quote(a) for a in
                       [sys.executable, os.path.relpath(__file__)] +
                       list(sys.argv[1:] if argv is None else argv))
    print('soak: c=%d, %.0f s per system, objects %d..%d bytes, mix %s, '
          '%d containers' % (args.concurrency, args.duration, args.min_size,
                             args.max_size, args.mix, args.containers))
    systems = []
    if not args.no_objproxy:
        systems.append(ObjproxySystem(args.objproxy_url, args.keep_data))
    if args.swift_saio:
        systems.append(SwiftSystem(args.swift_saio))
    results = []
    try:
        for system in systems:
            print('starting %s ...' % system.name)
            sys.stdout.flush()
            system.start()
            try:
                print('soaking %s at %s' % (system.name, system.url))
                sys.stdout.flush()
                results.append((system.name, soak(system, args)))
            finally:
                system.stop()
    finally:
        for system in systems:
            system.stop()
    for name, result in results:
        report(name, result)
    for name, result in results:
        targets(name, result, args.max_p99, args.max_rss_delta)
    print('\nreproduce: %s' % command)
    return 0


if __name__ == '__main__':
    sys.exit(main())
