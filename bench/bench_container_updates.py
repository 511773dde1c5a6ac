#!/usr/bin/env python3
"""Container-update cost seen through the proxy: latency and bursts.

    .venv/bin/python bench/bench_container_updates.py [--puts 30]
                                                      [--burst 32]
                                                      [--rounds 3]
                                                      [--pipeline P]

Starts a real all-in-one cluster (tests/cluster.py, one worker per
server) in a temporary directory, then:

* sequential: PUTs ``--puts`` 4 KiB objects one after another over one
  keep-alive connection and prints the median and mean ms per PUT;
* burst: PUTs ``--burst`` 4 KiB objects at once (one thread and
  connection each), lists the container immediately and prints how many
  of them the listing shows and how many async pendings the object
  servers had to write (files under ``<devices>/<dev>/async_pending``),
  repeated ``--rounds`` times;
* container server alone: ``--puts`` sequential object-row updates
  (``PUT /dev/part/a/c/o``, ``X-Backend-Layer: container``) straight to
  one container replica, then ``--burst`` of them at once, printing the
  median / slowest ms per update.

Every container update that misses ``container_update_timeout`` shows up
as an async pending and a listing that lags, so both numbers should be
"all listed, 0 pendings".
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.cluster import Cluster  # noqa: E402

BODY = b'x' * 4096


def connect(url):
    parsed = urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=30), parsed.path


def request(conn, method, path, token, body=None, headers=None):
    hdrs = {'X-Auth-Token': token}
    hdrs.update(headers or {})
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def count_async_pendings(cluster):
    total = 0
    for node in cluster.nodes:
        root = os.path.join(node['devices'], node['device'], 'async_pending')
        for _dirpath, _dirs, files in os.walk(root):
            total += len(files)
    return total


def sequential(storage_url, token, container, count):
    conn, base = connect(storage_url)
    times = []
    for i in range(count):
        start = time.perf_counter()
        status, _ = request(conn, 'PUT', '%s/%s/seq-%04d' % (
            base, container, i), token, BODY)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 201, status
    conn.close()
    return times


def burst(storage_url, token, container, count, tag):
    errors = []
    barrier = threading.Barrier(count)

    def put(i):
        conn, base = connect(storage_url)
        try:
            barrier.wait()
            status, _ = request(conn, 'PUT', '%s/%s/%s-%04d' % (
                base, container, tag, i), token, BODY)
            if status != 201:
                errors.append(status)
        finally:
            conn.close()

    threads = [threading.Thread(target=put, args=(i,)) for i in range(count)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    conn, base = connect(storage_url)
    status, data = request(conn, 'GET', '%s/%s?format=json&prefix=%s-' % (
        base, container, tag), token)
    conn.close()
    listed = len(json.loads(data)) if status == 200 else 0
    return elapsed, listed, errors


def row_update(node, path, name):
    from objproxy.common.timestamp import Timestamp
    conn = http.client.HTTPConnection(node['ip'], node['port'], timeout=30)
    try:
        start = time.perf_counter()
        conn.request('PUT', '%s/%s' % (path, name), headers={
            'X-Backend-Layer': 'container',
            'X-Timestamp': Timestamp.now().internal, 'X-Size': '4096',
            'X-Content-Type': 'application/octet-stream',
            'X-Etag': 'd41d8cd98f00b204e9800998ecf8427e'})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201, resp.status
        return (time.perf_counter() - start) * 1000
    finally:
        conn.close()


def container_server_alone(cluster, storage_url, count, burst_size):
    account = urlparse(storage_url).path.rstrip('/').split('/')[-1]
    part, nodes = cluster.ring('container').get_nodes(account, 'seq')
    node = nodes[0]
    path = '/%s/%s/%s/seq' % (node['device'], part, account)
    seq = [row_update(node, path, 'row-%04d' % i) for i in range(count)]
    results = []
    barrier = threading.Barrier(burst_size)

    def one(i):
        barrier.wait()
        results.append(row_update(node, path, 'burst-row-%04d' % i))
    threads = [threading.Thread(target=one, args=(i,))
               for i in range(burst_size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print('container server alone: sequential row update median %.2f ms; '
          '%d concurrent: median %.1f ms, slowest %.1f ms' % (
              statistics.median(seq), burst_size,
              statistics.median(results), max(results)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--puts', type=int, default=30)
    parser.add_argument('--burst', type=int, default=32)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--pipeline', default=None,
                        help='proxy pipeline (default: the full one)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench-cu-') as tmp:
        cluster = Cluster(tmp, workers=1, pipeline=args.pipeline)
        try:
            cluster.start()
            storage_url, token = cluster.token()
            conn, base = connect(storage_url)
            for name in ('seq', 'burst'):
                status, _ = request(conn, 'PUT', '%s/%s' % (base, name),
                                    token)
                assert status in (201, 202), status
            conn.close()
            sequential(storage_url, token, 'seq', 5)  # warm up pools
            times = sequential(storage_url, token, 'seq', args.puts)
            print('sequential 4 KiB PUT x %d: median %.1f ms, mean %.1f '
                  'ms, p90 %.1f ms' % (
                      args.puts, statistics.median(times),
                      statistics.mean(times),
                      sorted(times)[int(len(times) * 0.9) - 1]))
            for rnd in range(args.rounds):
                before = count_async_pendings(cluster)
                elapsed, listed, errors = burst(
                    storage_url, token, 'burst', args.burst, 'r%d' % rnd)
                pendings = count_async_pendings(cluster) - before
                print('burst %d x %d concurrent PUTs: %.0f ms, listing '
                      'shows %d/%d, new async pendings %d, errors %s' % (
                          rnd + 1, args.burst, elapsed * 1000, listed,
                          args.burst, pendings, errors or 'none'))
            container_server_alone(cluster, storage_url, args.puts,
                                   args.burst)
        finally:
            cluster.stop()


if __name__ == '__main__':
    main()
