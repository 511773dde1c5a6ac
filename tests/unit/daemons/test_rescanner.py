"""The rescanner on hand-made object files and a real clamd.

Object files are written in the on-disk format (body, checksums,
metadata, trailer); the ring is a stand-in naming the first primary of
each partition; verdict updates are captured instead of sent.
"""
import os

import pytest

from tests.clamd_fixture import clamd  # noqa: F401

from middleware import clamav_verdict
from objproxy.common.clamd import (
    EICAR_TEST_FILE, ClamdCannotRead, signature_fingerprint)
from objproxy.daemons import rescanner
from objproxy.storage import object_format


class FakeRing(object):
    def __init__(self, first):
        self.first = first

    def get_part_nodes(self, part):
        """sda (this node) first, sdb (this node too) second, then a
        device elsewhere; this node's sdc holds no primary."""
        return [dict(self.first, id=0), dict(self.first, id=1, device='sdb'),
                {'device': 'other', 'ip': '10.0.0.9', 'port': 1}]

    def get_nodes(self, account, container, obj):
        return 0, self.get_part_nodes(0)


def write_object(devices, device, part, name, body, extra=None, meta=None):
    hash_dir = os.path.join(devices, device, 'objects', str(part), 'abc',
                            'f' * 29 + 'abc')
    os.makedirs(hash_dir, exist_ok=True)
    metadata = {'name': name, 'Content-Length': str(len(body)),
                'X-Timestamp': '1700000000.00000'}
    metadata.update(extra or {})
    with open(os.path.join(hash_dir, '1700000000.00000.data'), 'wb') as fh:
        fh.write(body)
        block = 65536
        table = b''.join(
            object_format.CHECKSUM.pack(object_format.checksum(
                body[i:i + block])) for i in range(0, len(body), block))
        fh.write(object_format.encode_v2_tail(metadata, table, block))
    if meta is not None:
        with open(os.path.join(hash_dir, '1700000001.00000.meta'),
                  'wb') as fh:
            fh.write(object_format.encode_metadata(meta))
    return hash_dir


@pytest.fixture
def setup(clamd, tmp_path, monkeypatch):
    devices = str(tmp_path)
    sent = []

    def fake_update(pool, ring, account, container, obj, headers, *a, **kw):
        sent.append(((account, container, obj), headers))
        return 3
    monkeypatch.setattr(clamav_verdict, 'update_replicas', fake_update)
    conf = {'devices': devices, 'bind_ip': '127.0.0.1', 'bind_port': '6200',
            'clamd_conf': clamd.conf_path, 'files_per_second': '0',
            'bytes_per_second': '0'}
    ring = FakeRing({'device': 'sda', 'ip': '127.0.0.1', 'port': 6200})
    daemon = rescanner.ObjectRescanner(conf, object_ring=ring)
    current = signature_fingerprint(daemon.address.version(), clamd.db_dir)
    return daemon, devices, sent, current


def test_an_infected_body_is_found_and_only_the_body_is_scanned(setup):
    daemon, devices, sent, _current = setup
    write_object(devices, 'sda', 0, '/a/c/bad', b'x' * 70000 +
                 EICAR_TEST_FILE)
    stats = daemon.run_once()
    assert stats['infected'] == 1 and stats['scanned'] == 1
    assert stats['bytes_scanned'] == 70000 + len(EICAR_TEST_FILE)
    (target, headers), = sent
    assert target == ('a', 'c', 'bad')
    assert headers['X-Object-Sysmeta-Av-Verdict'] == 'infected'
    assert 'EICAR' in headers['X-Object-Sysmeta-Av-Found']


def test_a_current_verdict_in_a_meta_file_is_not_rescanned(setup):
    daemon, devices, sent, current = setup
    write_object(devices, 'sda', 0, '/a/c/ok', b'fine', extra={
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'X-Object-Sysmeta-Av-Signatures': 'db:old'}, meta={
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'X-Object-Sysmeta-Av-Signatures': current})
    stats = daemon.run_once()
    assert stats['current'] == 1 and stats['scanned'] == 0 and sent == []


def test_a_stale_verdict_is_rescanned_and_brought_up_to_date(setup):
    daemon, devices, sent, current = setup
    write_object(devices, 'sda', 0, '/a/c/old', b'fine', extra={
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'X-Object-Sysmeta-Av-Signatures': 'db:old'})
    stats = daemon.run_once()
    assert stats['clean'] == 1
    assert sent[0][1]['X-Object-Sysmeta-Av-Signatures'] == current


def test_only_the_first_primary_rescans(setup):
    daemon, devices, sent, _current = setup
    write_object(devices, 'sdb', 0, '/a/c/elsewhere', EICAR_TEST_FILE)
    stats = daemon.run_once()
    assert stats['objects_checked'] == 0 and sent == []


def test_a_copy_on_a_handoff_is_rescanned_too(setup):
    daemon, devices, sent, _current = setup
    write_object(devices, 'sdc', 0, '/a/c/handed-off', EICAR_TEST_FILE)
    stats = daemon.run_once()
    assert stats['objects_checked'] == 1 and stats['infected'] == 1
    assert [target for target, _headers in sent] == [('a', 'c', 'handed-off')]


def test_manifests_and_oversize_bodies_are_skipped(setup):
    daemon, devices, sent, current = setup
    write_object(devices, 'sda', 0, '/a/c/slo', b'[]', extra={
        'X-Static-Large-Object': 'True',
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'X-Object-Sysmeta-Av-Signatures': current})
    daemon.max_scan_size = 3
    write_object(devices, 'sda', 1, '/a/c/big', b'abcdef')
    stats = daemon.run_once()
    assert stats['manifests'] == 1 and stats['oversize'] == 1
    assert stats['manifests_marked'] == 0
    assert sent == []


def test_a_stale_static_large_object_is_marked_for_a_scan_on_read(setup):
    daemon, devices, sent, current = setup
    write_object(devices, 'sda', 0, '/a/c/slo', b'[]', extra={
        'X-Static-Large-Object': 'True',
        'X-Object-Sysmeta-Av-Verdict': 'clean',
        'X-Object-Sysmeta-Av-Signatures': 'older'})
    stats = daemon.run_once()
    assert stats['manifests'] == 1 and stats['manifests_marked'] == 1
    assert stats['scanned'] == 0
    (target, headers), = sent
    assert target == ('a', 'c', 'slo')
    assert headers['X-Object-Sysmeta-Av-Verdict'] == \
        clamav_verdict.RESCAN_ON_READ
    assert headers['X-Object-Sysmeta-Av-Signatures'] == current
    # and a read under the default policy scans it
    assert clamav_verdict.needs_scan(clamav_verdict.RESCAN_ON_READ, current,
                                     current, 'missing')


def _data_file(hash_dir):
    name, = [n for n in os.listdir(hash_dir) if n.endswith('.data')]
    return os.path.join(hash_dir, name)


def test_a_local_clamd_scans_a_body_only_copy_and_the_copy_is_removed(
        setup):
    """clamd reads the body itself (SCAN), not the whole .data file: the
    MD5 signature of the test file matches only the exact body."""
    daemon, devices, _sent, _current = setup
    path = _data_file(write_object(devices, 'sda', 0, '/a/c/exact',
                                   EICAR_TEST_FILE))
    verdict = daemon.scan_body(path, len(EICAR_TEST_FILE))
    assert verdict.status == 'FOUND'
    assert verdict.reply.startswith(os.path.join(devices, 'sda', 'tmp'))
    assert os.listdir(os.path.join(devices, 'sda', 'tmp')) == []


def test_a_body_over_clamds_file_limit_is_streamed_not_scanned_whole(setup):
    """clamd answers OK without scanning a file over MaxFileSize, so such
    a body goes by INSTREAM (whose limit clamd reports as an error)."""
    daemon, devices, _sent, _current = setup
    path = _data_file(write_object(devices, 'sda', 0, '/a/c/big',
                                   b'y' * 100 + EICAR_TEST_FILE))
    daemon.clamd_limits['MaxFileSize'] = 50
    verdict = daemon.scan_body(path, 100 + len(EICAR_TEST_FILE))
    assert verdict.status == 'FOUND'
    assert verdict.reply.startswith('stream:')


def test_when_clamd_cannot_read_the_copy_bodies_are_streamed(setup,
                                                             monkeypatch):
    daemon, devices, _sent, _current = setup
    path = _data_file(write_object(devices, 'sda', 0, '/a/c/denied',
                                   EICAR_TEST_FILE))
    asked = []

    def cannot_read(copy, timeout=None):
        asked.append(copy)
        raise ClamdCannotRead('Access denied. ERROR')
    monkeypatch.setattr(daemon.address, 'scan_file', cannot_read)
    first = daemon.scan_body(path, len(EICAR_TEST_FILE))
    second = daemon.scan_body(path, len(EICAR_TEST_FILE))
    assert first.status == second.status == 'FOUND'
    assert second.reply.startswith('stream:')
    assert len(asked) == 1 and daemon.scan_on_disk is False
    assert os.listdir(os.path.join(devices, 'sda', 'tmp')) == []


def test_a_remote_clamd_is_sent_the_body(clamd, tmp_path):
    conf = {'devices': str(tmp_path), 'clamd_host': '192.0.2.1',
            'clamd_port': '3310'}
    assert rescanner.ObjectRescanner(conf).scan_on_disk is False
    conf = {'devices': str(tmp_path), 'clamd_socket': clamd.socket_path}
    assert rescanner.ObjectRescanner(conf).scan_on_disk is True
