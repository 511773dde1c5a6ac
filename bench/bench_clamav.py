"""Benchmark: streaming virus scan vs clamd's raw rate vs buffer-then-scan.

Why: the clamav filter claims that scanning while streaming costs little
over clamd's own INSTREAM rate and keeps memory O(chunk), where the naive
design (read the whole body, then scan it) needs memory proportional to
the object.  This measures all three on a private clamd:

  raw       InstreamWriter fed 1 MiB frames straight from memory
  filter    ClamavFilter in front of a sink app reading 64 KiB chunks
            like the proxy (body generated on the fly, never held whole)
  buffered  read the whole body into memory, then INSTREAM it

For each size it prints MB/s, the growth of the peak RSS during the run
(each run happens in a forked child, so every figure is its own), and
the ratios.  ``--proxy-url`` is reserved for the full-pipeline run
(PUT through a real proxy), to be added by the integrator.

Reproduce:  .venv/bin/python bench/bench_clamav.py --sizes 64,256
"""
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from objproxy.cli.clamd_runner import ClamdProcess  # noqa: E402
from middleware.clamav import ClamavFilter  # noqa: E402

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)  # incompressible filler so clamd does real work


def peak_rss():
    """This process's peak resident set size in bytes (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class GeneratedBody(object):
    """A ``wsgi.input`` producing ``size`` bytes without holding them."""

    def __init__(self, size):
        self.size = size
        self.pos = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.size - self.pos
        size = min(size, self.size - self.pos)
        offset = self.pos % len(BLOCK)
        size = min(size, len(BLOCK) - offset)
        self.pos += size
        return BLOCK[offset:offset + size]


def sink_app(env, start_response):
    """Stands in for the proxy: reads 64 KiB chunks and drops them."""
    remaining = int(env['CONTENT_LENGTH'])
    body = env['wsgi.input']
    while remaining:
        data = body.read(min(65536, remaining))
        if not data:
            break
        remaining -= len(data)
    start_response('201 Created', [('Content-Length', '0')])
    return [b'']


def timed(func):
    before = peak_rss()
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    return result, elapsed, peak_rss() - before


def bench_raw(address, size):
    def run():
        writer = address.instream(scan_timeout=600)
        sent = 0
        while sent < size:
            piece = BLOCK[:min(MiB, size - sent)]
            writer.write(piece)
            sent += len(piece)
        return writer.finish().status
    return timed(run)


def bench_filter(filt, size):
    def run():
        status = []
        env = {'REQUEST_METHOD': 'PUT', 'PATH_INFO': '/v1/AUTH_b/c/obj',
               'CONTENT_LENGTH': str(size), 'wsgi.input': GeneratedBody(size),
               'QUERY_STRING': ''}
        body = filt(env, lambda s, h, e=None: status.append(s))
        b''.join(body)
        return status[0]
    return timed(run)


def bench_buffered(address, size):
    def run():
        source = GeneratedBody(size)
        parts = []
        while True:
            data = source.read(65536)
            if not data:
                break
            parts.append(data)
        whole = b''.join(parts)
        del parts
        writer = address.instream(scan_timeout=600)
        writer.write(whole)
        return writer.finish().status
    return timed(run)


def isolated(func, *args):
    """Run one measurement in a forked child so its peak RSS is its own."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            result = func(*args)
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError('measurement %s failed' % func.__name__)
    return json.loads(data)


def rate(size, seconds):
    return size / MiB / seconds if seconds else float('inf')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='64,256',
                        help='object sizes in MiB, comma separated')
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs per measurement (best is reported)')
    parser.add_argument('--proxy-url', default=None,
                        help='(reserved) also PUT through a real proxy')
    args = parser.parse_args(argv)
    if args.proxy_url:
        parser.error('--proxy-url is not implemented yet')
    sizes = [int(s) * MiB for s in args.sizes.split(',')]

    run_dir = tempfile.mkdtemp(prefix='objproxy-bench-clamd-')
    proc = ClamdProcess(run_dir, max_size=max(sizes) + MiB)
    proc.start()
    try:
        address = proc.address(timeout=60)
        filt = ClamavFilter(sink_app, {
            'clamd_socket': proc.socket_path, 'max_scan_size':
            str(max(sizes) + MiB), 'scan_timeout': '600'})
        print('clamd %s, started in %.2fs' % (address.version(),
                                              proc.startup_seconds))
        results = {}
        for name, func, target in (('raw', bench_raw, address),
                                   ('filter', bench_filter, filt),
                                   ('buffered', bench_buffered, address)):
            for size in sizes:
                runs = [isolated(func, target, size)
                        for _ in range(args.repeat)]
                results[name, size] = (
                    runs[0][0], min(r[1] for r in runs),
                    max(r[2] for r in runs))
        print('%-9s %8s %10s %10s %14s' % ('mode', 'MiB', 'result',
                                            'MB/s', 'peak RSS +MiB'))
        for (name, size), (outcome, seconds, growth) in results.items():
            print('%-9s %8d %10s %10.1f %14.1f' % (
                name, size // MiB, outcome, rate(size, seconds),
                growth / MiB))
        for size in sizes:
            raw = results['raw', size][1]
            filt_t = results['filter', size][1]
            buf = results['buffered', size]
            print('%d MiB: filter/raw speed %.2f, filter/buffered speed '
                  '%.2f, buffered RSS growth %.0f MiB vs filter %.1f MiB'
                  % (size // MiB, raw / filt_t, buf[1] / filt_t,
                     buf[2] / MiB, results['filter', size][2] / MiB))
        print('reproduce: .venv/bin/python bench/bench_clamav.py --sizes %s'
              % args.sizes)
    finally:
        proc.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
