#!/usr/bin/env python3
"""Does running SQLite work in eventlet's thread pool pay off?

    .venv/bin/python bench/bench_db_offload.py [--rows 60000]

Serves a ContainerServer (fsync on, as in production) with eventlet.wsgi
on a free loopback port, once with ``db_threadpool = false`` (SQLite in
the hub's thread) and once with ``true``.  One client keeps asking for
big listings (10,000 rows of a ``--rows`` container) and merging bursts
of object rows into it; meanwhile another client HEADs a small, unrelated
container.  Printed per mode: the unrelated HEAD's median and worst
latency (what a slow SQLite call costs everybody else), the big
listing's median, and the sequential row-update latency (the thread
pool's overhead on the fast path).
"""
import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402

from objproxy.common.hashing import set_hash_config  # noqa: E402
from objproxy.common.timestamp import Timestamp  # noqa: E402
from objproxy.storage.container_broker import ContainerBroker  # noqa: E402
from objproxy.storage.container_server import ContainerServer  # noqa: E402


def call(port, method, path, headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    try:
        start = time.perf_counter()
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, (time.perf_counter() - start) * 1000
    finally:
        conn.close()


def row(port, container, name):
    return call(port, 'PUT', '/sda/1/a/%s/%s' % (container, name), {
        'X-Backend-Layer': 'container', 'X-Size': '10',
        'X-Timestamp': Timestamp.now().internal,
        'X-Content-Type': 'text/plain', 'X-Etag': 'e'})


def run(mode, rows):
    set_hash_config('bench-prefix', 'bench-suffix')
    with tempfile.TemporaryDirectory(prefix='bench-offload-') as tmp:
        os.mkdir(os.path.join(tmp, 'sda'))
        app = ContainerServer({'devices': tmp, 'fsync': 'true',
                               'db_threadpool': mode,
                               'log_address': '/nonexistent'})
        sock = eventlet.listen(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        server = eventlet.spawn(eventlet.wsgi.server, sock, app,
                                log_output=False)
        done = []
        results = {}

        def client():
            try:
                for name in ('big', 'small'):
                    call(port, 'PUT', '/sda/1/a/' + name,
                         {'X-Timestamp': Timestamp.now().internal})
                # fill from this (non-hub) thread: no thread-pool offload
                broker = ContainerBroker(
                    app.get_broker('sda', '1', 'a', 'big').db_file)
                broker.merge_items([{
                    'name': 'o%07d' % i, 'created_at': '1', 'size': 1,
                    'content_type': 't', 'etag': 'e', 'deleted': 0}
                    for i in range(rows)])
                broker.close()
                seq = [row(port, 'small', 's%04d' % i)[1]
                       for i in range(200)]
                results['row'] = statistics.median(seq)
                stop = threading.Event()
                heads = []

                def prober():
                    while not stop.is_set():
                        heads.append(call(port, 'HEAD', '/sda/1/a/small')[1])
                        time.sleep(0.002)
                probe = threading.Thread(target=prober)
                probe.start()
                lists = []
                for rnd in range(8):
                    for i in range(300):
                        row(port, 'big', 'n%d-%04d' % (rnd, i))
                    lists.append(call(port, 'GET', '/sda/1/a/big?limit='
                                      '10000&format=json')[1])
                stop.set()
                probe.join()
                results['head'] = (statistics.median(heads), max(heads),
                                   len(heads))
                results['list'] = statistics.median(lists)
            finally:
                done.append(True)

        thread = threading.Thread(target=client)
        thread.start()
        while not done:
            eventlet.sleep(0.01)
        thread.join()
        server.kill()
        app.reporter.stop()
    head = results['head']
    print('db_threadpool=%-5s unrelated HEAD median %.2f ms, worst %.1f '
          'ms (%d probes); 10k-row listing median %.1f ms; row update '
          'median %.2f ms' % (mode, head[0], head[1], head[2],
                              results['list'], results['row']))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', type=int, default=60000)
    args = parser.parse_args()
    for mode in ('false', 'true'):
        run(mode, args.rows)


if __name__ == '__main__':
    main()
