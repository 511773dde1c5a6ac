"""Benchmark: one object-replicator pass over 2**14 partitions.

Why: Swift's replicator asks every peer for every partition's hashes with
one new TCP connection per request, which caps a pass at a few hundred
partitions per second and leaves thousands of sockets in TIME_WAIT.  The
batched REPLICATE and the pooled connection should make an in-sync pass
cost little more than reading each partition's hashes.json.

Setup: three real storage nodes (``objproxy-server``, one worker each) on
loopback, a ring of 2**PART_POWER partitions and 3 replicas, so every node
is primary for every partition, one object per partition written on node
1 and copied to the other two (all in sync, hashes computed).  Then:

  in-sync   one pass of node 1's replicator: partitions/s, TCP
            connections opened (ConnectionPool.opened)
  1% off    a new object in 1% of the partitions on node 1; one pass; the
            partitions are then compared on all nodes (converged or not)

Reproduce:  .venv/bin/python bench/bench_replicator.py [--part-power 14]
(Swift's own replicator is not installed here, so there is no side-by-side
run; its design makes one HTTP connection per partition per peer.)
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import eventlet  # noqa: E402

eventlet.monkey_patch()

from objproxy.common.hashing import hash_path, set_hash_config  # noqa
from objproxy.common.timestamp import Timestamp  # noqa: E402
from objproxy.daemons.object_replicator import ObjectReplicator  # noqa
from objproxy.ring.builder import RingBuilder  # noqa: E402
from objproxy.storage.object_format import encode_metadata  # noqa: E402
from objproxy.storage.suffix_hashes import (  # noqa: E402
    get_hashes, invalidate_hash)
from objproxy.storage.object_replication_server import read_hashes  # noqa

NODES = 3
HASH_PREFIX, HASH_SUFFIX = 'benchprefix', 'benchsuffix'


def free_ports(count):
    import socket
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(('127.0.0.1', 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def write_object(device_path, part, name, body, timestamp):
    """One .data file in diskfile's format, without the server."""
    name_hash = hash_path('AUTH_bench', 'c', name)
    hash_dir = os.path.join(device_path, 'objects', str(part),
                            name_hash[-3:], name_hash)
    os.makedirs(hash_dir, exist_ok=True)
    import hashlib
    meta = {'name': '/AUTH_bench/c/%s' % name,
            'X-Timestamp': timestamp.internal,
            'Content-Length': str(len(body)),
            'ETag': hashlib.md5(body).hexdigest(),
            'Content-Type': 'application/octet-stream'}
    path = os.path.join(hash_dir, timestamp.internal + '.data')
    with open(path, 'wb') as fp:
        fp.write(body + encode_metadata(meta))
    invalidate_hash(os.path.dirname(hash_dir))


def names_by_partition(part_power, parts_wanted):
    """Object names landing in each wanted partition (search by hashing)."""
    shift = 32 - part_power
    found = {}
    i = 0
    while len(found) < len(parts_wanted):
        name = 'o%d' % i
        i += 1
        part = int(hash_path('AUTH_bench', 'c', name)[:8], 16) >> shift
        if part in parts_wanted and part not in found:
            found[part] = name
    return found


def setup(root, part_power):
    set_hash_config(HASH_PREFIX, HASH_SUFFIX)
    etc = os.path.join(root, 'etc')
    os.makedirs(etc)
    with open(os.path.join(etc, 'objproxy.conf'), 'w') as fp:
        fp.write('[objproxy-hash]\nhash_path_prefix = %s\n'
                 'hash_path_suffix = %s\n' % (HASH_PREFIX, HASH_SUFFIX))
    ports = free_ports(NODES)
    for ring_name in ('object', 'container', 'account'):
        builder = RingBuilder(part_power, 3, 1)
        for i, port in enumerate(ports):
            builder.add_dev({'region': 1, 'zone': i + 1, 'ip': '127.0.0.1',
                             'port': port, 'device': 'sdb%d' % (i + 1),
                             'weight': 100, 'meta': ''})
        builder.rebalance(seed=1)
        builder.write_ring(os.path.join(etc, ring_name + '.ring.gz'))
    confs = []
    for i, port in enumerate(ports):
        devices = os.path.join(root, 'node%d' % (i + 1))
        os.makedirs(os.path.join(devices, 'sdb%d' % (i + 1)))
        conf = os.path.join(etc, 'node%d.conf' % (i + 1))
        with open(conf, 'w') as fp:
            fp.write('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\n'
                     'workers = 1\ndevices = %s\nmount_check = false\n'
                     'objproxy_dir = %s\nfsync = false\nlog_file = %s\n\n'
                     '[pipeline:main]\npipeline = storage-server\n\n'
                     '[app:storage-server]\nuse = egg:objproxy#'
                     'storage_server\n\n[object-replicator]\n'
                     'concurrency = 2\n' % (
                         port, devices, etc,
                         os.path.join(root, 'node%d.log' % (i + 1))))
        confs.append(conf)
    # populate node 1, hash, copy to the others
    dev1 = os.path.join(root, 'node1', 'sdb1')
    parts = 2 ** part_power
    t0 = time.time()
    names = names_by_partition(part_power, set(range(parts)))
    ts = Timestamp(time.time() - 3600)
    for part, name in names.items():
        write_object(dev1, part, name, b'x' * 64, ts)
    for part in range(parts):
        get_hashes(dev1, part)
    for i in range(1, NODES):
        shutil.copytree(os.path.join(dev1, 'objects'),
                        os.path.join(root, 'node%d' % (i + 1),
                                     'sdb%d' % (i + 1), 'objects'))
    print('setup: %d partitions, %d objects per node in %.1fs'
          % (parts, len(names), time.time() - t0))
    return confs, ports, etc


def start_nodes(confs, ports):
    procs = []
    for conf in confs:
        procs.append(subprocess.Popen(
            [sys.executable, '-W', 'ignore', '-m', 'objproxy.cli.server',
             conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    deadline = time.time() + 30
    import socket
    for port in ports:
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError('node on %d did not start' % port)
                time.sleep(0.1)
    return procs


def one_pass(conf_path):
    from objproxy.daemons.daemon import load_section
    conf = load_section(conf_path, 'object-replicator')
    conf['log_level'] = 'WARNING'
    replicator = ObjectReplicator(conf)
    return replicator.run_once()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--part-power', type=int, default=14)
    parser.add_argument('--out-of-sync', type=float, default=0.01)
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix='bench-repl-')
    procs = []
    try:
        confs, ports, etc = setup(root, args.part_power)
        procs = start_nodes(confs, ports)
        stats = one_pass(confs[0])
        print('in-sync pass: %(partitions_checked)d partitions in '
              '%(elapsed).2fs = %(partitions_per_second).0f partitions/s, '
              '%(connections_opened)d TCP connections opened, '
              '%(suffixes_synced)d suffixes synced, %(failures)d failures'
              % stats)
        # 1% of partitions: a newer object on node 1 only
        parts = 2 ** args.part_power
        chosen = sorted(random.Random(7).sample(
            range(parts), max(1, int(parts * args.out_of_sync))))
        dev1 = os.path.join(root, 'node1', 'sdb1')
        shift = 32 - args.part_power
        i = 0
        pending = set(chosen)
        ts = Timestamp(time.time())
        while pending:
            name = 'new%d' % i
            i += 1
            part = int(hash_path('AUTH_bench', 'c', name)[:8], 16) >> shift
            if part in pending:
                pending.discard(part)
                write_object(dev1, part, name, b'y' * 1024, ts)
        stats = one_pass(confs[0])
        print('1%% out of sync (%d partitions): pass took %.2fs, '
              '%d objects pushed, %d suffixes synced, %d connections, '
              '%d failures' % (len(chosen), stats['elapsed'],
                               stats['objects_pushed'],
                               stats['suffixes_synced'],
                               stats['connections_opened'],
                               stats['failures']))
        converged = 0
        for part in chosen:
            hashes = [read_hashes(os.path.join(root, 'node%d' % (n + 1),
                                               'sdb%d' % (n + 1)), part)
                      for n in range(NODES)]
            converged += all(h == hashes[0] for h in hashes)
        print('converged after one pass: %d/%d partitions'
              % (converged, len(chosen)))
        stats = one_pass(confs[0])
        print('next pass: %(partitions_per_second).0f partitions/s, '
              '%(suffixes_synced)d suffixes synced' % stats)
        print(json.dumps(stats, sort_keys=True))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
