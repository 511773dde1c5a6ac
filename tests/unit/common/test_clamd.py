"""INSTREAM writer and clamd helpers, against a real clamd and fake peers.

The fake peers (plain sockets in a thread) exist only for faults a real
clamd will not produce on demand: a slow reader forcing partial sends, a
hang-up with a reason, a clamd that never answers.
"""
import socket
import struct
import threading
import time

import pytest

from tests.clamd_fixture import clamd, clamd_factory  # noqa: F401

from objproxy.common.clamd import (
    EICAR_TEST_FILE, ClamdAddress, ClamdCannotRead, ClamdError,
    ClamdLimitExceeded, ClamdUnavailable, InstreamWriter, parse_reply,
    parse_size, read_clamd_conf, signature_fingerprint)
from objproxy.common.exceptions import ConfigError


# --- verdict parsing ------------------------------------------------------

def test_parse_reply_ok_found_error():
    assert parse_reply(b'stream: OK\x00').status == 'OK'
    found = parse_reply(b'stream: Win.Test.EICAR_HDB-1 FOUND\x00')
    assert found.status == 'FOUND'
    assert found.signature == 'Win.Test.EICAR_HDB-1'
    with pytest.raises(ClamdLimitExceeded):
        parse_reply(b'INSTREAM size limit exceeded. ERROR\x00')
    with pytest.raises(ClamdError, match='Can.t allocate memory'):
        parse_reply(b"stream: Can't allocate memory ERROR")
    with pytest.raises(ClamdError, match='without a verdict'):
        parse_reply(b'')
    with pytest.raises(ClamdError, match='unexpected'):
        parse_reply(b'PONG')


def test_parse_size_notations():
    assert parse_size('1048576') == 1048576
    assert parse_size('25M') == 25 * 1024 * 1024
    assert parse_size('2k') == 2048
    assert parse_size('1G') == 1024 ** 3
    with pytest.raises(ConfigError, match='max_scan_size'):
        parse_size('lots', 'max_scan_size')


def test_read_clamd_conf_fills_defaults(tmp_path):
    conf = tmp_path / 'clamd.conf'
    conf.write_text('# comment\nLocalSocket /run/c.sock\n'
                    'StreamMaxLength 100M\n')
    settings = read_clamd_conf(str(conf))
    assert settings['LocalSocket'] == '/run/c.sock'
    assert settings['StreamMaxLength'] == 100 * 1024 * 1024
    assert settings['MaxFileSize'] == 100 * 1024 * 1024  # clamd default
    conf.write_text('Example\n')
    with pytest.raises(ConfigError, match='Example'):
        read_clamd_conf(str(conf))
    with pytest.raises(ConfigError, match='cannot read'):
        read_clamd_conf(str(tmp_path / 'missing.conf'))


# --- real clamd -----------------------------------------------------------

def _scan(address, pieces):
    writer = address.instream(scan_timeout=30)
    for piece in pieces:
        writer.write(piece)
    return writer.finish()


def test_ping_and_version(clamd):
    address = clamd.address()
    assert address.ping() is True
    assert address.version().startswith('ClamAV ')


def test_reload_is_accepted_by_a_real_clamd(clamd_factory):
    proc = clamd_factory()
    proc.address().reload()
    assert proc.address().ping() is True


def test_scan_file_reads_the_file_in_clamd(clamd, tmp_path):
    infected = tmp_path / 'infected.bin'
    infected.write_bytes(b'x' * 5000 + EICAR_TEST_FILE)
    clean = tmp_path / 'clean.bin'
    clean.write_bytes(b'hello world\n')
    found = clamd.address().scan_file(str(infected))
    assert found.status == 'FOUND'
    assert found.signature.startswith('Objproxy.Test.EICAR')
    assert clamd.address().scan_file(str(clean)) == (
        'OK', None, '%s: OK' % clean)
    with pytest.raises(ClamdCannotRead):
        clamd.address().scan_file(str(tmp_path / 'absent.bin'))


def test_only_a_unix_socket_or_loopback_clamd_counts_as_local():
    assert ClamdAddress(socket_path='/run/clamd.sock').is_local
    assert ClamdAddress(host='127.0.0.1', port=3310).is_local
    assert not ClamdAddress(host='192.0.2.7', port=3310).is_local


def test_clean_and_infected_over_unix_and_tcp(clamd):
    for address in (clamd.address(),
                    ClamdAddress(host=clamd.tcp_host, port=clamd.tcp_port)):
        assert _scan(address, [b'hello world\n' * 1000]).status == 'OK'
        verdict = _scan(address, [b'x' * 5000 + EICAR_TEST_FILE])
        assert verdict.status == 'FOUND'
        assert verdict.signature.startswith('Objproxy.Test.EICAR')


def test_signature_split_across_frames(clamd):
    pieces = [b'a' * 70000 + EICAR_TEST_FILE[:10],
              EICAR_TEST_FILE[10:11], EICAR_TEST_FILE[11:] + b'b' * 9]
    assert _scan(clamd.address(), pieces).status == 'FOUND'


def test_big_write_is_split_into_frames(clamd):
    writer = InstreamWriter(clamd.address().connect(), max_frame=4096)
    data = b'z' * 100000 + EICAR_TEST_FILE
    writer.write(data)
    assert writer.bytes_sent == len(data)
    assert writer.finish().status == 'FOUND'


def test_real_clamd_size_limit_reported(clamd_factory):
    small = clamd_factory(max_size=1024 * 1024)
    writer = small.address().instream(scan_timeout=10)
    with pytest.raises(ClamdLimitExceeded):
        for _ in range(64):
            writer.write(b'q' * 65536)
        writer.finish()
    assert writer.sock is None  # closed after the failure


def test_unreachable_clamd(tmp_path):
    address = ClamdAddress(socket_path=str(tmp_path / 'nobody.sock'),
                           timeout=1)
    with pytest.raises(ClamdUnavailable):
        address.instream()
    with pytest.raises(ClamdUnavailable):
        address.ping()
    with pytest.raises(ClamdUnavailable):
        address.version()
    port_holder = socket.socket()
    port_holder.bind(('127.0.0.1', 0))  # bound, not listening: refused
    try:
        tcp = ClamdAddress(host='127.0.0.1',
                           port=port_holder.getsockname()[1], timeout=1)
        with pytest.raises(ClamdUnavailable):
            tcp.instream()
    finally:
        port_holder.close()


# --- fake peers for faults -------------------------------------------------

class FakeClamd(object):
    """A unix-socket peer running ``behaviour(conn)`` in a thread."""

    def __init__(self, path, behaviour):
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.result = {}
        self.thread = threading.Thread(target=self._run, args=(behaviour,),
                                       daemon=True)
        self.thread.start()

    def _run(self, behaviour):
        conn, _ = self.server.accept()
        try:
            behaviour(conn, self.result)
        finally:
            conn.close()
            self.server.close()

    def join(self):
        self.thread.join(10)
        assert not self.thread.is_alive()


def _recv_exact(conn, count):
    data = b''
    while len(data) < count:
        part = conn.recv(count - len(data))
        if not part:
            raise EOFError
        data += part
    return data


def test_partial_sends_keep_framing(tmp_path):
    """A slow reader with tiny buffers forces partial writes; every frame
    must still arrive whole and in order."""
    payload = bytes(range(256)) * 8192  # 2 MiB, position-dependent bytes

    def slow_reader(conn, result):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert _recv_exact(conn, 10) == b'zINSTREAM\x00'
        received = []
        frames = 0
        while True:
            size = struct.unpack('!L', _recv_exact(conn, 4))[0]
            if size == 0:
                break
            frames += 1
            received.append(_recv_exact(conn, size))
            time.sleep(0.001)
        result['data'] = b''.join(received)
        result['frames'] = frames
        conn.sendall(b'stream: OK\x00')

    fake = FakeClamd(str(tmp_path / 'slow.sock'), slow_reader)
    sock = ClamdAddress(socket_path=fake.path, timeout=10).connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    writer = InstreamWriter(sock, max_frame=300000)
    for start in range(0, len(payload), 700001):
        writer.write(payload[start:start + 700001])
    assert writer.finish().status == 'OK'
    fake.join()
    assert fake.result['data'] == payload
    assert fake.result['frames'] == 9  # 3 writes x 3 frames of <=300000


def test_early_close_reports_clamd_reason(tmp_path):
    def refuse_after_a_while(conn, result):
        _recv_exact(conn, 10)
        _recv_exact(conn, 4 + 65536)
        conn.sendall(b'INSTREAM size limit exceeded. ERROR\x00')
        conn.shutdown(socket.SHUT_RDWR)

    fake = FakeClamd(str(tmp_path / 'limit.sock'), refuse_after_a_while)
    writer = ClamdAddress(socket_path=fake.path, timeout=5).instream()
    with pytest.raises(ClamdLimitExceeded, match='size limit'):
        for _ in range(200):
            writer.write(b'p' * 65536)
        writer.finish()
    fake.join()


def test_no_verdict_times_out(tmp_path):
    release = threading.Event()

    def never_answers(conn, result):
        _recv_exact(conn, 10)
        _recv_exact(conn, 4 + 3 + 4)
        release.wait(10)

    fake = FakeClamd(str(tmp_path / 'mute.sock'), never_answers)
    writer = ClamdAddress(socket_path=fake.path, timeout=5).instream(
        scan_timeout=0.3)
    writer.write(b'abc')
    started = time.monotonic()
    with pytest.raises(ClamdError, match='no verdict'):
        writer.finish()
    assert time.monotonic() - started < 3
    release.set()
    fake.join()


def test_hangup_without_reply(tmp_path):
    def hang_up(conn, result):
        _recv_exact(conn, 10)

    fake = FakeClamd(str(tmp_path / 'gone.sock'), hang_up)
    writer = ClamdAddress(socket_path=fake.path, timeout=5).instream()
    fake.join()
    with pytest.raises(ClamdError):
        for _ in range(100):
            writer.write(b'h' * 65536)
        writer.finish()


def test_ping_and_version_to_a_hung_clamd_time_out_without_blocking_the_hub(
        tmp_path):
    """A clamd that accepts connections but never answers (SIGSTOPped)
    costs PING/VERSION their timeout, waiting on green sockets only."""
    import eventlet
    release = threading.Event()

    def never_answers(conn, result):
        result['got'] = _recv_exact(conn, len(b'nPING\n'))
        release.wait(10)

    fake = FakeClamd(str(tmp_path / 'stopped.sock'), never_answers)
    address = ClamdAddress(socket_path=fake.path, timeout=10)
    ticks = []

    def ticker():
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.02)
    ticking = eventlet.spawn(ticker)
    try:
        started = time.monotonic()
        with pytest.raises(ClamdUnavailable, match='PING'):
            address.ping(timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        ticking.kill()
        release.set()
    fake.join()
    assert fake.result['got'] == b'nPING\n'
    assert 0.4 < elapsed < 2, elapsed
    assert len(ticks) >= 10  # the hub kept running other green threads


def test_command_timeout_covers_pyclamds_read_retries(tmp_path):
    """One deadline for the whole command: pyclamd retries a timed-out
    read five times, which cannot stretch VERSION past its timeout."""
    release = threading.Event()

    def silent(conn, result):
        result['got'] = _recv_exact(conn, len(b'nVERSION\n'))
        release.wait(10)

    fake = FakeClamd(str(tmp_path / 'silent.sock'), silent)
    address = ClamdAddress(socket_path=fake.path, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ClamdUnavailable, match='VERSION within 0.5s'):
        address.version()
    elapsed = time.monotonic() - started
    release.set()
    fake.join()
    assert fake.result['got'] == b'nVERSION\n'
    assert elapsed < 1.5, elapsed


def test_an_unexpected_version_reply_is_an_error(tmp_path):
    def odd(conn, result):
        _recv_exact(conn, len(b'nVERSION\n'))
        conn.sendall(b'Hello\n')

    fake = FakeClamd(str(tmp_path / 'odd.sock'), odd)
    with pytest.raises(ClamdError, match='unexpected VERSION reply'):
        ClamdAddress(socket_path=fake.path, timeout=2).version()
    fake.join()


def test_verdict_wait_is_bounded_by_scan_timeout_not_the_write_timeout(
        tmp_path):
    release = threading.Event()

    def never_answers(conn, result):
        _recv_exact(conn, 10)
        _recv_exact(conn, 4 + 3 + 4)
        release.wait(10)

    fake = FakeClamd(str(tmp_path / 'slow.sock'), never_answers)
    writer = ClamdAddress(socket_path=fake.path, timeout=0.2).instream(
        scan_timeout=1.0)
    writer.write(b'abc')
    started = time.monotonic()
    with pytest.raises(ClamdError, match='no verdict'):
        writer.finish()
    elapsed = time.monotonic() - started
    assert 0.8 < elapsed < 2, elapsed  # scan_timeout, not the 0.2 s timeout
    release.set()
    fake.join()


def test_the_fingerprint_follows_the_database_files(tmp_path):
    (tmp_path / 'a.ndb').write_bytes(b'Sig1:0:*:41424344\n')
    versioned = 'ClamAV 1.4.2/27500/Tue Dec  1 08:00:00 2026'
    assert signature_fingerprint(versioned, str(tmp_path)) == versioned
    first = signature_fingerprint('ClamAV 1.4.2', str(tmp_path))
    assert first.startswith('db:')
    (tmp_path / 'b.hdb').write_bytes(b'00:1:x\n')
    assert signature_fingerprint('ClamAV 1.4.2', str(tmp_path)) != first
    assert signature_fingerprint('ClamAV 1.4.2', None) == 'ClamAV 1.4.2'
