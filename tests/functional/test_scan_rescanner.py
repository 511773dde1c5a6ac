"""Signatures change, stored objects are judged again (real clamd, real nodes).

Clean objects are stored through the default pipeline; clamd is then
restarted with a new signature file that matches one of them (a string
unique to this test); one ``objproxy-rescanner --once`` pass per node
marks that object infected through a verdict update on every primary,
and reads of it get 403 while the other object stays readable with its
verdict brought up to date.  The client's metadata, set on the PUT or by
a POST, survives the update.  A static large object whose joined content
matches the new signature is marked for a scan on read, and that read
cuts it off and records it as infected.
"""
import configparser
import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from urllib.parse import urlparse

import pytest

from tests.functional.test_pipeline import call
from tests.functional.test_scan_large_objects import raw_get, wait_for_verdict


@pytest.fixture(autouse=True)
def background_rescanners_paused(cluster):
    """The cluster's own rescanners (objproxy-aio runs one per node) are
    paused, so the passes a test runs are the only ones: a background pass
    started by an earlier node restart could otherwise do the work first."""
    procs = [proc for name, proc in cluster.aio.procs.items()
             if name.endswith('-rescanner') and proc.poll() is None]
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    yield
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)


@pytest.fixture
def owner(cluster):
    storage_url, token = cluster.token('test:tester', 'testing')
    path = urlparse(storage_url).path
    container = '%s/rescan-%s' % (path, uuid.uuid4().hex[:8])
    assert call(cluster.proxy_url, 'PUT', container,
                {'X-Auth-Token': token})[0] == 201
    return path.split('/')[-1], container, {'X-Auth-Token': token}


@pytest.fixture
def new_signature(cluster):
    """Installs (when called) a signature file matching a test-unique
    string; removed, and clamd restarted, afterwards."""
    marker = 'objproxy-rescan-%s' % uuid.uuid4().hex
    sig_name = 'Objproxy.Test.Rescan-%s' % marker[-8:]
    written = []

    def install():
        written.append(cluster.clamd.add_signatures(
            'objproxy-rescan-%s.ndb' % marker[-8:],
            '%s:0:*:%s\n' % (sig_name, marker.encode().hex())))
        cluster.clamd.restart()
    try:
        yield marker, sig_name, install
    finally:
        for path in written:
            os.unlink(path)
            cluster.clamd.restart()


def rescanner_conf(cluster, index, tmp_path):
    """The node's config with an [object-rescanner] section for our clamd
    and no rate limit."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(cluster.aio.layout.node_conf(index))
    if not parser.has_section('object-rescanner'):
        parser.add_section('object-rescanner')
    parser['object-rescanner'].update({
        'clamd_conf': cluster.clamd.conf_path, 'files_per_second': '0',
        'bytes_per_second': '0'})
    path = str(tmp_path / ('rescanner%d.conf' % index))
    with open(path, 'w') as fh:
        parser.write(fh)
    return path


def run_rescanners(cluster, tmp_path, partitions):
    totals = []
    for index in range(len(cluster.nodes)):
        result = subprocess.run(
            [sys.executable, '-m', 'objproxy.cli.rescanner',
             rescanner_conf(cluster, index, tmp_path), '--once', '--json',
             '--partitions', ','.join(str(p) for p in partitions)],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (result.stdout, result.stderr)
        totals.append(json.loads(result.stdout)['object-rescanner'])
    return totals


def test_a_signature_update_marks_a_stored_object_infected(
        cluster, owner, new_signature, tmp_path):
    account, container, auth = owner
    marker, sig_name, install = new_signature
    url = cluster.proxy_url
    bad = container + '/report.txt'
    good = container + '/notes.txt'
    assert call(url, 'PUT', bad, auth,
                b'quarterly report ' + marker.encode() + b' end')[0] == 201
    assert call(url, 'PUT', good, auth, b'nothing to see here')[0] == 201
    before = call(url, 'HEAD', good, auth)[1]
    assert call(url, 'HEAD', bad, auth)[1]['x-object-av-verdict'] == 'clean'

    install()                  # the new database, loaded by a restart
    ring = cluster.ring('object')
    cname = container.split('/')[-1]
    parts = {ring.get_part(account, cname, name)
             for name in ('report.txt', 'notes.txt')}
    totals = run_rescanners(cluster, tmp_path, parts)

    # rescanned by its first primary (and by a node holding a copy as a
    # handoff, if a PUT found a primary busy)
    assert sum(t['infected'] for t in totals) >= 1
    assert sum(t['scanned'] for t in totals) >= 2
    status, headers, body = call(url, 'GET', bad, auth)
    assert status == 403 and sig_name.encode() in body
    status, headers, _b = call(url, 'HEAD', bad, auth)
    assert headers['x-object-av-verdict'] == 'infected'
    assert headers['x-object-av-found'].startswith(sig_name)
    status, headers, body = call(url, 'GET', good, auth)
    assert (status, body) == (200, b'nothing to see here')
    assert headers['x-object-av-verdict'] == 'clean'
    assert headers['x-object-av-signatures'] != \
        before['x-object-av-signatures']
    # every replica holds the update (a .meta beside each .data), also
    # one that a PUT wrote to a handoff because a primary was busy
    files = cluster.object_files(account, cname, 'report.txt')
    replicas = [names for names in files.values()
                if any(n.endswith('.data') for n in names)]
    assert len(replicas) >= 3
    assert all(any(n.endswith('.meta') for n in names) for names in replicas)

    # a second pass finds nothing left to do
    again = run_rescanners(cluster, tmp_path, parts)
    assert sum(t['scanned'] for t in again) == 0


@pytest.mark.parametrize('by_post', [False, True], ids=['put', 'post'])
def test_a_verdict_update_keeps_the_clients_metadata(
        cluster, owner, new_signature, tmp_path, by_post):
    account, container, auth = owner
    marker, _sig_name, install = new_signature
    url = cluster.proxy_url
    obj = container + '/tagged.txt'
    meta = {'X-Object-Meta-Owner': 'alice', 'Content-Disposition': 'inline'}
    assert call(url, 'PUT', obj, auth if by_post else dict(auth, **meta),
                b'tagged ' + marker.encode())[0] == 201
    if by_post:
        assert call(url, 'POST', obj, dict(auth, **meta))[0] == 202
    install()
    cname = container.split('/')[-1]
    run_rescanners(cluster, tmp_path,
                   {cluster.ring('object').get_part(account, cname,
                                                    'tagged.txt')})
    _s, headers, _b = call(url, 'HEAD', obj, auth)
    assert headers['x-object-av-verdict'] == 'infected'
    assert headers['x-object-meta-owner'] == 'alice'
    assert headers['content-disposition'] == 'inline'
    # and a client POST after the update keeps the verdict
    assert call(url, 'POST', obj, dict(auth, **{
        'X-Object-Meta-Owner': 'bob'}))[0] == 202
    _s, headers, _b = call(url, 'HEAD', obj, auth)
    assert headers['x-object-meta-owner'] == 'bob'
    assert headers['x-object-av-verdict'] == 'infected'


def test_a_signature_split_across_segments_is_found_after_an_update(
        cluster, owner, new_signature, tmp_path):
    """A static large object judged clean, whose joined content matches a
    signature added later, is never read whole again."""
    account, container, auth = owner
    marker, sig_name, install = new_signature
    url = cluster.proxy_url
    first = b'quarterly ' + marker[:16].encode()
    second = marker[16:].encode() + b' end'
    manifest = []
    for name, body in (('seg/1', first), ('seg/2', second)):
        assert call(url, 'PUT', container + '/' + name, auth, body)[0] == 201
        manifest.append({'path': container.split('/', 3)[-1] + '/' + name,
                         'etag': hashlib.md5(body).hexdigest(),
                         'size_bytes': len(body)})
    slo = container + '/joined.txt'
    assert call(url, 'PUT', slo + '?multipart-manifest=put', auth,
                json.dumps(manifest).encode())[0] == 201
    assert call(url, 'HEAD', slo, auth)[1]['x-object-av-verdict'] == 'clean'

    install()
    cname = container.split('/')[-1]
    ring = cluster.ring('object')
    totals = run_rescanners(cluster, tmp_path, {
        ring.get_part(account, cname, name)
        for name in ('joined.txt', 'seg/1', 'seg/2')})
    assert sum(t['manifests_marked'] for t in totals) >= 1
    assert sum(t['infected'] for t in totals) == 0   # no segment alone
    assert call(url, 'HEAD', slo, auth)[1]['x-object-av-verdict'] == \
        'unscanned; signatures changed'

    status, body, _short = raw_get(url, slo, auth)
    assert status == 403 or body != first + second
    assert marker.encode() not in body
    # the read records its verdict
    assert wait_for_verdict(url, slo, auth, 'infected')[
        'x-object-av-verdict'] == 'infected'
    status, _headers, body = call(url, 'GET', slo, auth)
    assert status == 403 and sig_name.encode() in body


def test_a_copy_written_to_a_handoff_is_rescanned(
        cluster, owner, new_signature, tmp_path):
    """A PUT made while the first primary was down left a copy on a
    handoff; the handoff's node rescans it and every copy is updated."""
    account, container, auth = owner
    marker, _sig_name, install = new_signature
    cname = container.split('/')[-1]
    ring = cluster.ring('object')
    part = ring.get_part(account, cname, 'handed.txt')
    first = ring.get_part_nodes(part)[0]
    down = next(index for index, node in enumerate(cluster.nodes)
                if node['port'] == first['port'])
    # a proxy of its own: the shared one may still skip a node that an
    # earlier test stopped (error limiting), and then write no handoff
    with cluster.extra_proxy('rescan-handoff') as proxy:
        cluster.stop_node(down)
        try:
            assert call(proxy.url, 'PUT', container + '/handed.txt',
                        auth, b'handed ' + marker.encode())[0] == 201
        finally:
            cluster.start_node(down)
    # the proxy answers once every node it wrote to has answered
    files = cluster.object_files(account, cname, 'handed.txt')
    assert down not in files and len(files) == 3    # two primaries, a handoff

    install()
    totals = run_rescanners(cluster, tmp_path, {part})
    assert sum(t['infected'] for t in totals) == 1
    assert sum(t['failures'] for t in totals) == 0
    files = cluster.object_files(account, cname, 'handed.txt')
    assert all(any(n.endswith('.meta') for n in names)
               for names in files.values())
    status, _headers, _body = call(cluster.proxy_url, 'GET',
                                   container + '/handed.txt', auth)
    assert status == 403


def test_a_copy_keeps_its_sources_verdict_until_the_rescanner_judges_it(
        cluster, owner, new_signature, tmp_path):
    """A server-side copy of a whole clean object carries the source's
    verdict (the same bytes, judged once); a ranged copy is new content
    and is scanned.  The rescanner then judges the copy like any object."""
    account, container, auth = owner
    marker, sig_name, install = new_signature
    url = cluster.proxy_url
    cname = container.split('/')[-1]
    body = b'minutes ' + marker.encode() + b' end'
    assert call(url, 'PUT', container + '/minutes.txt', auth, body)[0] == 201
    source = call(url, 'HEAD', container + '/minutes.txt', auth)[1]
    install()

    status, _h, _b = call(url, 'COPY', container + '/minutes.txt',
                          dict(auth, Destination=cname + '/copy.txt'))
    assert status == 201
    copied = call(url, 'HEAD', container + '/copy.txt', auth)[1]
    for name in ('verdict', 'engine', 'signatures', 'scanned-at'):
        assert copied['x-object-av-' + name] == \
            source['x-object-av-' + name]
    status, _h, reply = call(url, 'PUT', container + '/part.txt', dict(
        auth, **{'X-Copy-From': cname + '/minutes.txt',
                 'Range': 'bytes=0-%d' % (len(body) - 5)}))
    assert status == 403 and sig_name.encode() in reply
    assert call(url, 'HEAD', container + '/part.txt', auth)[0] == 404

    ring = cluster.ring('object')
    run_rescanners(cluster, tmp_path, {
        ring.get_part(account, cname, name)
        for name in ('minutes.txt', 'copy.txt')})
    for name in ('minutes.txt', 'copy.txt'):
        status, _h, reply = call(url, 'GET', container + '/' + name, auth)
        assert status == 403 and sig_name.encode() in reply
