"""Hostile requests against a real cluster: never a crash, a hang, a leak.

A fixed-seed run of ``tests.fuzz_requests`` (odd paths, odd query strings,
odd headers, broken bodies and chunking, malformed SLO manifests, raw
malformed HTTP; anonymous, bad-token, owner and reseller-admin variants)
goes through the full default pipeline (tempauth, clamav with a real
clamd, slo/dlo) of this module's own cluster.  Then:

* no answer is a 5xx (no fault is injected here), none is missing (a
  connection closed with no response byte, unless the client itself cut
  the request short), none echoes an injected header;
* no log of the cluster gained a Python traceback;
* no file appeared in the cluster's directory outside the devices and the
  logs, nor anywhere in the usual temp directories under a name the
  fuzzer made up;
* the cluster still serves its owner afterwards.

The family -> count -> status table is printed in the test output.  A
failure prints each distinct problem's first request with its family,
seed, index and raw bytes; ``python -m tests.fuzz_requests --seed S
--index I --url URL --show`` replays it (its docstring has the longer
on-demand runs).
"""
import http.client
import os
import uuid
from urllib.parse import urlparse

import pytest

from tests import fuzz_requests as fuzz
from tests.cluster import Cluster
from tests.waiting import wait_for

# 4,200 requests, 700 per family (each family's fixed corpus is replayed
# once per seed); about 30 s on two cores.
SEEDS = [(20240611, 1500), (99, 1500), (4242, 1200)]
MIN_PER_FAMILY = 600
BUDGET_SECONDS = 240
TEMP_ROOTS = ('/tmp', '/var/tmp', '/dev/shm')


def tree(data_dir):
    """Every path under the cluster dir, except the logs and the contents
    of each node's device directories (where data belongs)."""
    found = set()
    srv = os.path.join(data_dir, 'srv')
    for root, dirs, files in os.walk(data_dir):
        rel = os.path.relpath(root, data_dir)
        if rel == 'log':
            dirs[:] = []
            continue
        if os.path.dirname(root) == srv:
            # srv/nodeN: its device directories (sdbN) hold the data
            for name in dirs:
                found.add(os.path.join(rel, name) + '/')
            dirs[:] = []
        for name in files:
            found.add(os.path.join(rel, name))
    # run/clamd's own scratch and the recon files change by themselves
    return {p for p in found if not p.endswith(('.recon', '.tmp'))}


def marker_paths(roots=TEMP_ROOTS, depth=2):
    """Paths (to ``depth`` levels) whose name contains the fuzz marker."""
    marker = fuzz.MARK.decode()
    hits = set()

    def walk(path, level):
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for entry in entries:
            if marker in entry.name:
                hits.add(entry.path)
            if level < depth and entry.is_dir(follow_symlinks=False):
                walk(entry.path, level + 1)
    for root in list(roots) + [os.getcwd()]:
        walk(root, 1)
    return hits


def log_sizes(log_dir):
    return {name: os.path.getsize(os.path.join(log_dir, name))
            for name in os.listdir(log_dir)}


def new_tracebacks(log_dir, sizes):
    out = []
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        with open(path, 'rb') as fp:
            fp.seek(sizes.get(name, 0))
            text = fp.read().decode('utf-8', 'replace')
        start = text.find('Traceback')
        if start >= 0:
            out.append('%s (%d tracebacks), first:\n%s' % (
                name, text.count('Traceback'), text[max(0, start - 300):
                                                   start + 2500]))
    return out


def proxy_log_caught_up(proxy_url, log_dir):
    """Send one last request and wait until the proxy's access log shows
    it, so the lines (and any traceback) of the run before it are in."""
    mark = 'fuzz-log-mark-%s' % uuid.uuid4().hex
    parsed = urlparse(proxy_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=10)
    try:
        conn.request('HEAD', '/v1/AUTH_' + mark)
        conn.getresponse().read()
    finally:
        conn.close()
    path = os.path.join(log_dir, 'proxy.log')

    def logged():
        with open(path, 'rb') as fp:
            return mark.encode() in fp.read()
    wait_for(logged, timeout=30, interval=0.05,
             what='the proxy to log %s' % mark)


class FuzzRun(object):
    pass


@pytest.fixture(scope='module')
def fuzz_run(tmp_path_factory, request):
    cluster = Cluster(tmp_path_factory.mktemp('fuzz'))
    try:
        cluster.start()
        ctx = fuzz.prepare(cluster.proxy_url)
        log_dir = os.path.join(cluster.data_dir, 'log')
        run = FuzzRun()
        run.ctx = ctx
        run.tree_before = tree(cluster.data_dir)
        run.markers_before = marker_paths()
        sizes = log_sizes(log_dir)
        run.report = fuzz.run(SEEDS, ctx, timeout=10,
                              budget=BUDGET_SECONDS)
        proxy_log_caught_up(cluster.proxy_url, log_dir)
        run.tracebacks = new_tracebacks(log_dir, sizes)
        run.new_paths = sorted(tree(cluster.data_dir) - run.tree_before)
        run.new_markers = sorted(marker_paths() - run.markers_before)
        run.health = owner_head(cluster, ctx)
        reporter = request.config.pluginmanager.getplugin(
            'terminalreporter')
        text = '\nfuzz run:\n%s\n' % run.report.table()
        if reporter is not None:
            reporter.write_line(text)
        else:
            print(text)
        yield run
    finally:
        cluster.stop()


def owner_head(cluster, ctx):
    """Status of a fresh object's upload and read-back by the owner."""
    path = '/v1/AUTH_test/fzmark/fzmark-health'
    headers = {'X-Auth-Token': ctx['tokens']['owner']}
    statuses = []
    for method, body in (('PUT', b'still alive'), ('GET', None)):
        conn = http.client.HTTPConnection(*ctx['addr'], timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            statuses.append(resp.status)
        except OSError as err:
            return 'no answer: %s' % err
        finally:
            conn.close()
    if statuses == [201, 200] and data == b'still alive':
        return 'ok'
    return 'PUT/GET gave %s' % statuses


def test_every_family_is_exercised(fuzz_run):
    """At least 2,000 requests, at least 600 in each input family, and
    the whole run fits its time budget."""
    report = fuzz_run.report
    assert not report.skipped, ('%d requests not sent: the run blew its '
                                'time budget\n%s' % (report.skipped,
                                                     report.table()))
    assert sum(report.counts.values()) >= 2000, report.table()
    for family in fuzz.FAMILIES:
        assert report.counts[family] >= MIN_PER_FAMILY, report.table()


def test_no_server_error_missing_answer_or_injected_header(fuzz_run):
    """Every hostile request gets a real answer below 500, and no
    response carries a header smuggled in through the request."""
    report = fuzz_run.report
    assert not report.failures, '%s\n\n%s' % (report.table(),
                                              report.failure_text())


def test_no_traceback_in_any_cluster_log(fuzz_run):
    """Bad input is refused cleanly: no process logs a traceback."""
    assert not fuzz_run.tracebacks, '\n\n'.join(fuzz_run.tracebacks)


def test_nothing_written_outside_the_devices(fuzz_run):
    """Request paths never reach the filesystem outside the devices:
    nothing new in the cluster's other directories, nothing named after a
    request in the temp directories or the working directory."""
    assert not fuzz_run.new_paths, fuzz_run.new_paths
    assert not fuzz_run.new_markers, fuzz_run.new_markers


def test_cluster_still_serves_its_owner(fuzz_run):
    """After the whole run the owner can still store and read an
    object."""
    assert fuzz_run.health == 'ok', fuzz_run.health


@pytest.mark.parametrize('path', [
    b'/v1/AUTH_test?prefix=\xe4\xb8\xad',
    b'/v1/AUTH_test/fzmark?prefix=\xe4\xb8\xad',
    # (Swift refuses delimiters above U+00FE with 412, hence the e-acute)
    b'/v1/AUTH_test/fzmark?marker=\xe4\xb8\xad&delimiter=\xc3\xa9',
], ids=['account-prefix', 'container-prefix', 'container-marker-delimiter'])
def test_raw_utf8_in_listing_query_lists_like_percent_encoding(fuzz_run,
                                                                path):
    """Raw (unencoded) UTF-8 in a listing's query string is listed exactly
    as its percent-encoded form (an empty listing: 204), and the cluster
    keeps serving everyone afterwards."""
    ctx = fuzz_run.ctx
    host, port = ctx['addr']

    def get(raw_path):
        raw = fuzz.request(ctx, 'GET', raw_path, identity='owner')
        result = fuzz.send(fuzz.Case('check', 0, 0, 'owner', 'GET', raw),
                           host, port, timeout=10)
        return result.status, result.head
    base, _, query = path.partition(b'?')
    encoded = base + b'?' + b''.join(
        b'%%%02X' % c if c >= 0x80 else bytes([c]) for c in query)
    assert get(path)[0] == get(encoded)[0] == 204, (get(path), get(encoded))
    for _ in range(3):
        status = get(b'/v1/AUTH_test/fzmark?limit=1')[0]
        assert status == 200, status
