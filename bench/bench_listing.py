"""Container listing benchmark: objproxy's container server vs Swift's.

Why: a container with a million objects must still list page by page at
a steady rate (indexed range scans, no OFFSET, no per-row Python work
beyond rendering), and delimiter listings must seek past whole
sub-directories.  This fills one container with ROWS object rows through
each implementation's own broker (big transactions), serves it with each
implementation's container server app under eventlet.wsgi in its own
process, and lists it over HTTP with keep-alive:

  * full scan: ``format=json&limit=10000&marker=<last>`` until the end
  * prefix pages: ``prefix=dNNN/`` (one 10,000-row sub-directory)
  * delimiter pages: ``delimiter=/`` (100 sub-directories, 10,000 rows each)

Reproduce (Swift side optional; it needs PyPI ``swift`` in its own venv):

    python3 -m venv /tmp/swift-venv-dbbench
    /tmp/swift-venv-dbbench/bin/pip install swift
    .venv/bin/python bench/bench_listing.py --rows 1000000 \
        --swift-python /tmp/swift-venv-dbbench/bin/python
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ACCOUNT, CONTAINER, DEVICE, PART = 'bench', 'big', 'sda', 7
DIRS = 100
BATCH = 50000


def row_name(i, rows):
    per_dir = max(1, rows // DIRS)
    return 'd%03d/o%08d' % (min(i // per_dir, DIRS - 1), i)


def rows_iter(rows, ts_base=1700000000.0):
    for i in range(rows):
        yield {'name': row_name(i, rows),
               'created_at': '%016.05f' % (ts_base + i * 0.00001),
               'size': 1024 + i % 4096, 'content_type': 'application/bin',
               'etag': 'd41d8cd98f00b204e9800998ecf8427e', 'deleted': 0,
               'storage_policy_index': 0,
               'ctype_timestamp': None, 'meta_timestamp': None}


def batches(rows):
    batch = []
    for item in rows_iter(rows):
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# -- server side (runs in the implementation's own interpreter) -------------
def serve_objproxy(devices, rows):
    from objproxy.common.hashing import set_hash_config
    from objproxy.storage.container_server import ContainerServer
    set_hash_config('bench-prefix', 'bench-suffix')
    app = ContainerServer({'devices': devices, 'fsync': 'false',
                           'log_address': '/nonexistent',
                           'log_level': 'ERROR'})
    broker = app.get_broker(DEVICE, PART, ACCOUNT, CONTAINER)
    broker.initialize('1700000000.00000')
    start = time.time()
    for batch in batches(rows):
        for item in batch:
            for key in ('storage_policy_index', 'ctype_timestamp',
                        'meta_timestamp'):
                item.pop(key)
        broker.merge_items(batch)
    broker.close()
    return app, time.time() - start


def serve_swift(devices, rows):
    from swift.common import utils
    utils.HASH_PATH_PREFIX = b'bench-prefix'
    utils.HASH_PATH_SUFFIX = b'bench-suffix'
    from swift.common.utils import Timestamp
    from swift.container.server import ContainerController
    app = ContainerController({'devices': devices, 'mount_check': 'false',
                               'log_level': 'ERROR',
                               'log_facility': 'LOG_LOCAL0'})
    broker = app._get_container_broker(DEVICE, str(PART), ACCOUNT,
                                       CONTAINER)
    broker.initialize(Timestamp(1700000000).internal, 0)
    start = time.time()
    for batch in batches(rows):
        broker.merge_items(batch)
    return app, time.time() - start


def serve(impl, devices, rows):
    import eventlet
    import eventlet.wsgi
    os.makedirs(os.path.join(devices, DEVICE), exist_ok=True)
    app, load_secs = (serve_objproxy if impl == 'objproxy'
                      else serve_swift)(devices, rows)
    sock = eventlet.listen(('127.0.0.1', 0))
    print(json.dumps({'port': sock.getsockname()[1],
                      'load_secs': load_secs}), flush=True)

    class Quiet(object):
        def write(self, *a):
            pass
    eventlet.wsgi.server(sock, app, log=Quiet(), log_output=False,
                         minimum_chunk_size=65536)


# -- client side -------------------------------------------------------------
def get(conn, query):
    path = '/%s/%d/%s/%s?%s' % (DEVICE, PART, ACCOUNT, CONTAINER, query)
    start = time.perf_counter()
    conn.request('GET', path)
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - start
    if resp.status not in (200, 204):
        raise RuntimeError('%s -> %s %r' % (path, resp.status, body[:200]))
    return json.loads(body) if body else [], elapsed


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 *
                                                   (len(ordered) - 1))))]


def measure(port, rows, repeats):
    from urllib.parse import quote
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
    results = {}
    get(conn, 'format=json&limit=1')  # warm up
    # full scan
    marker, total, lat = '', 0, []
    start = time.perf_counter()
    while True:
        page, took = get(conn, 'format=json&limit=10000&marker=%s'
                         % quote(marker))
        if not page:
            break
        lat.append(took)
        total += len(page)
        marker = page[-1]['name']
    secs = time.perf_counter() - start
    assert total == rows, (total, rows)
    results['full_scan'] = {'rows': total, 'secs': secs,
                            'rows_per_sec': total / secs,
                            'p50_ms': pct(lat, 50) * 1000,
                            'p99_ms': pct(lat, 99) * 1000,
                            'pages': len(lat)}
    # prefix pages (one sub-directory each)
    lat, got = [], 0
    for i in range(repeats):
        page, took = get(conn, 'format=json&limit=10000&prefix=d%03d/'
                         % ((i * 37) % DIRS))
        lat.append(took)
        got += len(page)
    results['prefix'] = {'rows': got, 'secs': sum(lat),
                         'rows_per_sec': got / sum(lat),
                         'p50_ms': pct(lat, 50) * 1000,
                         'p99_ms': pct(lat, 99) * 1000, 'pages': len(lat)}
    # delimiter pages (seek over whole sub-directories)
    lat, got = [], 0
    for i in range(repeats):
        page, took = get(conn, 'format=json&delimiter=/&limit=10000')
        assert len(page) == min(DIRS, rows), len(page)
        lat.append(took)
        got += len(page)
    results['delimiter'] = {'rows': got, 'secs': sum(lat),
                            'rows_per_sec': got / sum(lat),
                            'p50_ms': pct(lat, 50) * 1000,
                            'p99_ms': pct(lat, 99) * 1000,
                            'pages': len(lat)}
    conn.close()
    return results


def run_impl(impl, python, rows, repeats, workdir):
    devices = os.path.join(workdir, impl)
    proc = subprocess.Popen(
        [python, '-W', 'ignore', os.path.abspath(__file__), '--serve', impl,
         '--devices', devices, '--rows', str(rows)],
        stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError('%s server failed to start' % impl)
        info = json.loads(line)
        results = measure(info['port'], rows, repeats)
        results['load_secs'] = info['load_secs']
        return results
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(devices, ignore_errors=True)


def report(name, res):
    print('%s: loaded %d rows in %.1fs (%.0f rows/s via broker)'
          % (name, res['full_scan']['rows'], res['load_secs'],
             res['full_scan']['rows'] / res['load_secs']))
    for kind in ('full_scan', 'prefix', 'delimiter'):
        r = res[kind]
        print('  %-10s %8.0f rows/s  pages=%-4d p50=%7.1fms p99=%7.1fms'
              % (kind, r['rows_per_sec'], r['pages'], r['p50_ms'],
                 r['p99_ms']))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', type=int, default=1000000)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--swift-python',
                        default='/tmp/swift-venv-dbbench/bin/python')
    parser.add_argument('--serve', choices=('objproxy', 'swift'))
    parser.add_argument('--devices')
    args = parser.parse_args()
    if args.serve:
        if args.serve == 'objproxy':
            sys.path.insert(0, os.path.dirname(os.path.dirname(
                os.path.abspath(__file__))))
        return serve(args.serve, args.devices, args.rows)
    workdir = tempfile.mkdtemp(prefix='bench-listing-')
    try:
        ours = run_impl('objproxy', sys.executable, args.rows, args.repeats,
                        workdir)
        report('objproxy', ours)
        theirs = None
        if os.path.exists(args.swift_python):
            theirs = run_impl('swift', args.swift_python, args.rows,
                              args.repeats, workdir)
            report('swift %s' % swift_version(args.swift_python), theirs)
        else:
            print('swift: %s not found; skipped the comparison'
                  % args.swift_python)
        if theirs:
            print('ratios objproxy/swift (>1 means objproxy faster):')
            for kind in ('full_scan', 'prefix', 'delimiter'):
                print('  %-10s rows/s x%.2f   p50 x%.2f   p99 x%.2f' % (
                    kind, ours[kind]['rows_per_sec'] /
                    theirs[kind]['rows_per_sec'],
                    theirs[kind]['p50_ms'] / ours[kind]['p50_ms'],
                    theirs[kind]['p99_ms'] / ours[kind]['p99_ms']))
            print('  load       rows/s x%.2f' % (theirs['load_secs'] /
                                                 ours['load_secs']))
        print('reproduce: .venv/bin/python bench/bench_listing.py --rows %d '
              '--repeats %d --swift-python %s'
              % (args.rows, args.repeats, args.swift_python))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def swift_version(python):
    try:
        return subprocess.check_output(
            [python, '-c', 'import swift; print(swift.__version__)'],
            text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return '?'


if __name__ == '__main__':
    sys.exit(main())
