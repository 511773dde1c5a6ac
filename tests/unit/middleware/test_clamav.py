"""The clamav filter against a real clamd loaded with the EICAR signatures.

The app behind the filter is a tiny stand-in for the proxy: it reads
``wsgi.input`` in 64 KiB chunks the way the proxy does, records what it
would have stored, and on InputRejected "aborts" (records it) and
re-raises.  The key property checked everywhere: for an infected body it
never receives the complete body, so no storage node could commit it.
"""
import hashlib
import re
import logging
import os
import signal
import time

import eventlet
import eventlet.event
import pytest
from webob import Request

from tests.clamd_fixture import clamd, clamd_factory  # noqa: F401
from tests.waiting import wait_for

from middleware import clamav
from middleware.copy import COPIED_VERDICT_ENV
from objproxy.common.clamd import EICAR_TEST_FILE
from objproxy.common.exceptions import (
    ConfigError, InputRejected)
from objproxy.common.registry import clear_info, get_info, register_info

MiB = 1024 * 1024
FILLER = hashlib.sha256(b'objproxy').digest() * 2048  # 64 KiB, fixed


class GeneratedInput(object):
    """A request body made on the fly: ``size`` bytes of filler with the
    EICAR file written at ``eicar_at``; reads return at most ``piece``
    bytes like a socket.  ``on_offset`` is called once when that many
    bytes were handed out (to inject faults mid-stream)."""

    def __init__(self, size, eicar_at=None, piece=65536, on_offset=None,
                 yield_every_read=False):
        self.size = size
        self.eicar_at = eicar_at
        self.piece = piece
        self.pos = 0
        self.on_offset = on_offset
        self.yield_every_read = yield_every_read

    def byte_range(self, start, end):
        out = bytearray()
        while start < end:
            offset = start % len(FILLER)
            take = min(end - start, len(FILLER) - offset)
            out += FILLER[offset:offset + take]
            start += take
        if self.eicar_at is not None:
            lo = max(self.eicar_at, end - len(out))
            hi = min(self.eicar_at + len(EICAR_TEST_FILE), end)
            base = end - len(out)
            for i in range(lo, hi):
                out[i - base] = EICAR_TEST_FILE[i - self.eicar_at]
        return bytes(out)

    def whole(self):
        return self.byte_range(0, self.size)

    def read(self, size=-1):
        if self.yield_every_read:
            eventlet.sleep(0)
        if self.on_offset and self.pos >= self.on_offset[0]:
            offset, hook = self.on_offset
            self.on_offset = None
            hook()
        if size is None or size < 0:
            size = self.size
        end = min(self.size, self.pos + size, self.pos + self.piece)
        data = self.byte_range(self.pos, end)
        self.pos = end
        return data


class FakeProxy(object):
    """Reads the body like the proxy and records what it would store."""

    def __init__(self, chunk=65536, use_readline=False, read_body=True):
        self.chunk = chunk
        self.use_readline = use_readline
        self.read_body = read_body
        self.calls = []

    def __call__(self, env, start_response):
        record = {'received': 0, 'md5': hashlib.md5(), 'complete': False,
                  'aborted': None, 'input': env['wsgi.input'],
                  'verdict': env.get('HTTP_X_OBJECT_SYSMETA_AV_VERDICT'),
                  'engine': env.get('HTTP_X_OBJECT_SYSMETA_AV_ENGINE'),
                  'scanned_at': env.get(
                      'HTTP_X_OBJECT_SYSMETA_AV_SCANNED_AT')}
        self.calls.append(record)
        if not self.read_body:
            start_response('412 Precondition Failed',
                           [('Content-Length', '0')])
            return [b'']
        length = env.get('CONTENT_LENGTH')
        remaining = int(length) if length else None
        inp = env['wsgi.input']
        try:
            while remaining is None or remaining > 0:
                if self.use_readline:
                    data = inp.readline()
                else:
                    size = self.chunk if remaining is None else \
                        min(self.chunk, remaining)
                    data = inp.read(size)
                if not data:
                    break
                record['received'] += len(data)
                record['md5'].update(data)
                if remaining is not None:
                    remaining -= len(data)
        except InputRejected as err:
            record['aborted'] = err.status
            raise
        record['complete'] = True
        start_response('201 Created', [('Content-Length', '0')])
        return [b'']


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def log():
    logger = logging.getLogger('test.clamav.%d' % id(object()))
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, handler.lines


def make_filter(clamd, logger, app=None, **options):
    conf = {'clamd_socket': clamd.socket_path, 'timeout': '5',
            'scan_timeout': '60'}
    conf.update(options)
    app = app or FakeProxy()
    return clamav.ClamavFilter(app, conf, logger=logger), app


def put(filt, body_input, length=True, path='/v1/AUTH_test/cont/obj',
        headers=None):
    environ = {'REQUEST_METHOD': 'PUT', 'wsgi.input': body_input,
               'HTTP_X_TRANS_ID': 'tx-test-1'}
    if length:
        environ['CONTENT_LENGTH'] = str(body_input.size)
    else:
        environ['HTTP_TRANSFER_ENCODING'] = 'chunked'
    req = Request.blank(path, environ=environ, headers=headers or {})
    if not length:
        req.environ.pop('CONTENT_LENGTH', None)
    return req.get_response(filt)


# --- the core behaviour ---------------------------------------------------

@pytest.mark.parametrize('length', [True, False], ids=['length', 'chunked'])
def test_clean_upload_is_stored_and_labelled(clamd, log, length):
    filt, app = make_filter(clamd, log[0])
    body = GeneratedInput(3 * MiB + 123, piece=10000)
    resp = put(filt, body, length=length)
    assert resp.status_int == 201
    record = app.calls[0]
    assert record['complete']
    assert record['received'] == body.size
    assert record['md5'].hexdigest() == hashlib.md5(body.whole()).hexdigest()
    assert record['engine'].startswith('ClamAV 1.')
    assert filt.slots.balance == filt.max_concurrent_scans


@pytest.mark.parametrize('length', [True, False], ids=['length', 'chunked'])
def test_eicar_at_start_is_rejected(clamd, log, length):
    logger, lines = log
    filt, app = make_filter(clamd, logger)
    body = GeneratedInput(MiB, eicar_at=0)
    resp = put(filt, body, length=length)
    assert resp.status_int == 403
    assert b'Objproxy.Test.EICAR' in resp.body
    assert resp.content_type == 'text/plain'
    record = app.calls[0]
    assert record['aborted'] == '403 Forbidden'
    assert not record['complete']
    assert record['received'] < body.size
    infected = [line for line in lines if 'infected' in line]
    assert len(infected) == 1
    for part in ('tx-test-1', 'account=AUTH_test', 'container=cont',
                 'object=obj', 'signature=Objproxy.Test.EICAR'):
        assert part in infected[0]


def test_eicar_in_the_middle_of_50_mib(clamd, log):
    filt, app = make_filter(clamd, log[0])
    body = GeneratedInput(50 * MiB, eicar_at=25 * MiB + 12345)
    resp = put(filt, body)
    assert resp.status_int == 403
    record = app.calls[0]
    assert not record['complete']
    # everything but the held-back final chunk went through, no more
    assert body.size - 2 * 65536 <= record['received'] < body.size


@pytest.mark.parametrize('offset', [65536 - 30, 2 * 65536 - 1, 65536 * 3])
def test_eicar_split_across_chunk_boundaries(clamd, log, offset):
    filt, app = make_filter(clamd, log[0])
    body = GeneratedInput(5 * 65536, eicar_at=offset, piece=65536)
    resp = put(filt, body, length=False)
    assert resp.status_int == 403
    assert app.calls[0]['received'] < body.size


def test_eicar_in_the_final_chunk_never_reaches_the_app(clamd, log):
    filt, app = make_filter(clamd, log[0])
    size = 4 * 65536
    body = GeneratedInput(size, eicar_at=size - len(EICAR_TEST_FILE))
    resp = put(filt, body)
    assert resp.status_int == 403
    assert app.calls[0]['received'] <= size - 65536


def test_readline_consumer(clamd, log):
    text_filter, app = make_filter(clamd, log[0],
                                   app=FakeProxy(use_readline=True))
    body = GeneratedInput(300000, piece=7000)
    assert put(text_filter, body).status_int == 201
    assert app.calls[0]['received'] == body.size
    infected = GeneratedInput(300000, eicar_at=299000, piece=7000)
    assert put(text_filter, infected, length=False).status_int == 403
    assert not app.calls[1]['complete']


def test_app_not_reading_the_body_releases_the_scan(clamd, log):
    filt, app = make_filter(clamd, log[0], app=FakeProxy(read_body=False),
                            max_concurrent_scans='2')
    resp = put(filt, GeneratedInput(MiB))
    assert resp.status_int == 412
    assert filt.slots.balance == 2
    scan_input = app.calls[0]['input']
    with pytest.raises(InputRejected):
        scan_input.read(10)  # the session is closed: never unscanned data


# --- clamd failures -------------------------------------------------------

def test_clamd_unreachable_fails_closed(tmp_path, log, clamd):
    logger, lines = log
    filt, app = make_filter(clamd, logger,
                            clamd_socket=str(tmp_path / 'none.sock'))
    resp = put(filt, GeneratedInput(1000))
    assert resp.status_int == 503
    assert app.calls == []
    assert any('clamd unavailable, refusing' in line and 'tx-test-1' in line
               for line in lines)


def test_clamd_unreachable_allowed_is_stored_unscanned(tmp_path, log, clamd):
    logger, lines = log
    filt, app = make_filter(clamd, logger, on_error='allow',
                            clamd_socket=str(tmp_path / 'none.sock'))
    body = GeneratedInput(1000, eicar_at=0)
    resp = put(filt, body)
    assert resp.status_int == 201
    assert app.calls[0]['complete']
    assert app.calls[0]['verdict'] == 'unscanned; clamd-unavailable'
    assert any('storing unscanned' in line for line in lines)


@pytest.mark.parametrize('on_error', ['refuse', 'allow'])
def test_clamd_dying_mid_stream_refuses(clamd_factory, log, on_error):
    private = clamd_factory()
    logger, lines = log
    filt, app = make_filter(private, logger, on_error=on_error)
    filt._label()  # version cached while clamd is up
    body = GeneratedInput(8 * MiB, on_offset=(2 * MiB, private.stop))
    resp = put(filt, body)
    assert resp.status_int == 503
    assert not app.calls[0]['complete']
    assert app.calls[0]['received'] < body.size
    assert any('scan failed' in line for line in lines)


# --- size limits ----------------------------------------------------------

def test_oversize_with_length_refused_up_front(clamd, log):
    filt, app = make_filter(clamd, log[0], max_scan_size='1M')
    resp = put(filt, GeneratedInput(MiB + 1))
    assert resp.status_int == 413
    assert app.calls == []


def test_oversize_with_length_allowed_unscanned(clamd, log):
    filt, app = make_filter(clamd, log[0], max_scan_size='1M',
                            oversize='allow')
    body = GeneratedInput(MiB + 1)
    resp = put(filt, body)
    assert resp.status_int == 201
    assert app.calls[0]['received'] == body.size
    assert app.calls[0]['verdict'] == 'unscanned; oversize'


@pytest.mark.parametrize('oversize', ['refuse', 'allow'])
def test_chunked_oversize_refused_mid_stream(clamd, log, oversize):
    filt, app = make_filter(clamd, log[0], max_scan_size='1M',
                            oversize=oversize)
    body = GeneratedInput(3 * MiB)
    resp = put(filt, body, length=False)
    assert resp.status_int == 413
    assert not app.calls[0]['complete']
    assert app.calls[0]['received'] <= MiB


def test_exactly_max_scan_size_is_scanned(clamd, log):
    filt, app = make_filter(clamd, log[0], max_scan_size='1M')
    assert put(filt, GeneratedInput(MiB), length=False).status_int == 201
    assert app.calls[0]['engine'].startswith('ClamAV')


def test_invalid_content_length(clamd, log):
    filt, app = make_filter(clamd, log[0])
    req = Request.blank('/v1/a/c/o', environ={
        'REQUEST_METHOD': 'PUT', 'CONTENT_LENGTH': 'ten'})
    resp = req.get_response(filt)
    assert resp.status_int == 400
    assert app.calls == []


# --- concurrency ----------------------------------------------------------

def test_32_concurrent_uploads_get_the_right_verdicts(clamd, log):
    filt, app = make_filter(clamd, log[0], max_concurrent_scans='8')
    pool = eventlet.GreenPool(32)
    jobs = []
    for i in range(32):
        infected = i % 3 == 0
        body = GeneratedInput(
            256 * 1024 + i * 1000,
            eicar_at=(i * 7919) % (200 * 1024) if infected else None,
            piece=16384, yield_every_read=True)
        jobs.append((infected, pool.spawn(put, filt, body, i % 2 == 0)))
    for infected, job in jobs:
        resp = job.wait()
        assert resp.status_int == (403 if infected else 201)
    assert sum(1 for c in app.calls if c['complete']) == 21
    assert filt.slots.balance == 8


def test_scan_queue_timeout_gives_503(clamd, log):
    filt, app = make_filter(clamd, log[0], max_concurrent_scans='1',
                            scan_queue_timeout='0.2')

    release = eventlet.event.Event()

    def slow_reader():
        release.wait()       # the client stalls until the test is done
    slow = eventlet.spawn(put, filt, GeneratedInput(
        MiB, on_offset=(65536, slow_reader), yield_every_read=True))
    wait_for(lambda: filt.slots.balance == 0, timeout=5,
             sleep=eventlet.sleep, what='the slow upload to take the slot')
    resp = put(filt, GeneratedInput(1000))
    assert resp.status_int == 503
    assert b'busy' in resp.body
    release.send()
    assert slow.wait().status_int == 201


# --- what is not scanned --------------------------------------------------

@pytest.mark.parametrize('method,path,query,headers', [
    ('GET', '/v1/a/c/o', '', {}),
    ('PUT', '/v1/a/c', '', {}),
    ('PUT', '/v1/a/c/o', '', {'X-Copy-From': '/c/src'}),
    ('COPY', '/v1/a/c/o', '', {'Destination': '/c/dst'}),
    ('POST', '/v1/a/c/o', '', {}),
])
def test_pass_through_untouched(clamd, log, method, path, query, headers):
    filt, app = make_filter(clamd, log[0])
    body = GeneratedInput(0 if 'X-Copy-From' in headers else 1000,
                          eicar_at=0)
    headers = dict(headers, **{'X-Object-Sysmeta-Av-Verdict': 'forged'})
    req = Request.blank(path + ('?' + query if query else ''),
                        environ={'REQUEST_METHOD': method,
                                 'wsgi.input': body,
                                 'CONTENT_LENGTH': str(body.size)},
                        headers=headers)
    resp = req.get_response(filt)
    assert resp.status_int == 201
    assert app.calls[0]['input'] is body
    if path == '/v1/a/c':
        assert app.calls[0]['verdict'] == 'forged'  # not an object
    else:
        assert app.calls[0]['verdict'] is None  # clients cannot set it


def test_forged_verdict_on_put_replaced(clamd, log):
    filt, app = make_filter(clamd, log[0])
    resp = put(filt, GeneratedInput(100), headers={
        'X-Object-Sysmeta-Av-Engine': 'ClamAV trust me',
        'X-Object-Sysmeta-Av-Verdict': 'clean'})
    assert resp.status_int == 201
    assert app.calls[0]['engine'] != 'ClamAV trust me'
    assert app.calls[0]['engine'].startswith('ClamAV 1.')


def test_a_clean_upload_is_labelled_clean_with_engine_and_time(clamd, log):
    filt, app = make_filter(clamd, log[0])
    assert put(filt, GeneratedInput(100)).status_int == 201
    record = app.calls[0]
    assert record['verdict'] == 'clean'
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$',
                    record['scanned_at'])


def test_user_metadata_is_left_alone(clamd, log):
    filt, app = make_filter(clamd, log[0])
    assert put(filt, GeneratedInput(100), headers={
        'X-Object-Meta-Scanned-By': 'mine'}).status_int == 201
    assert app.calls[0]['verdict'] == 'clean'


def test_reads_show_the_stored_verdict_under_public_names():
    from middleware.clamav import expose_verdict
    seen = []
    start = expose_verdict(lambda status, headers: seen.append(headers))
    start('200 OK', [('X-Object-Sysmeta-Av-Verdict', 'clean'),
                     ('X-Object-Sysmeta-Av-Scanned-At', '2026-12-01T00:00Z'),
                     ('X-Object-Meta-Color', 'blue')])
    headers = dict(seen[0])
    assert headers['X-Object-Av-Verdict'] == 'clean'
    assert headers['X-Object-Av-Scanned-At'] == '2026-12-01T00:00Z'
    assert headers['X-Object-Meta-Color'] == 'blue'


# --- configuration --------------------------------------------------------

def test_factory_registers_info_and_refuses_unknown(clamd):
    clear_info()
    factory = clamav.filter_factory({}, clamd_socket=clamd.socket_path,
                                    max_scan_size='64M')
    filt = factory(FakeProxy())
    assert isinstance(filt, clamav.ClamavFilter)
    info = get_info()['clamav']
    assert info['max_scan_size'] == 64 * MiB
    assert info['on_error'] == 'refuse'
    assert 'clamd_socket' not in info
    with pytest.raises(ConfigError, match='scan_size_typo'):
        clamav.filter_factory({}, clamd_socket='/x', scan_size_typo='1')
    clear_info()


def test_info_max_file_size_is_the_scan_limit_when_oversize_is_refused(
        clamd):
    clear_info()
    try:
        register_info('swift', max_file_size=5 * 1024 * MiB)
        clamav.filter_factory({}, clamd_socket=clamd.socket_path,
                              max_scan_size='64M')
        assert get_info()['swift']['max_file_size'] == 64 * MiB
        clear_info()
        register_info('swift', max_file_size=5 * 1024 * MiB)
        clamav.filter_factory({}, clamd_socket=clamd.socket_path,
                              max_scan_size='64M', oversize='allow')
        assert get_info()['swift']['max_file_size'] == 5 * 1024 * MiB
    finally:
        clear_info()


def test_an_oversize_refusal_tells_the_client_to_segment(clamd, log):
    filt, app = make_filter(clamd, log[0], max_scan_size='1K')
    resp = put(filt, GeneratedInput(4096))
    assert resp.status_int == 413
    assert b'--segment-size' in resp.body


def test_clamd_conf_limits_and_socket(clamd, tmp_path):
    conf = tmp_path / 'clamd.conf'
    conf.write_text('LocalSocket %s\nStreamMaxLength 100M\n'
                    'MaxFileSize 1G\nMaxScanSize 1G\n' % clamd.socket_path)
    filt = clamav.ClamavFilter(FakeProxy(), {
        'clamd_conf': str(conf), 'max_scan_size': '100M'})
    assert filt.address.socket_path == clamd.socket_path
    with pytest.raises(ConfigError, match='StreamMaxLength'):
        clamav.ClamavFilter(FakeProxy(), {'clamd_conf': str(conf),
                                          'max_scan_size': '101M'})
    # MaxFileSize left at clamd's default (100M) would be a silent bypass
    conf.write_text('LocalSocket /x\nStreamMaxLength 1G\n')
    with pytest.raises(ConfigError, match='MaxFileSize'):
        clamav.ClamavFilter(FakeProxy(), {'clamd_conf': str(conf),
                                          'max_scan_size': '200M'})


def test_runner_config_is_accepted(clamd):
    filt = clamav.ClamavFilter(FakeProxy(), {
        'clamd_conf': clamd.conf_path, 'max_scan_size': '512M'})
    assert filt.address.socket_path == clamd.socket_path
    with pytest.raises(ConfigError):
        clamav.ClamavFilter(FakeProxy(), {'clamd_conf': clamd.conf_path,
                                          'max_scan_size': '513M'})


@pytest.mark.parametrize('options,message', [
    ({}, 'clamd_socket'),
    ({'clamd_socket': '/x', 'on_error': 'maybe'}, 'on_error'),
    ({'clamd_socket': '/x', 'oversize': 'sometimes'}, 'oversize'),
    ({'clamd_socket': '/x', 'max_scan_size': 'big'}, 'max_scan_size'),
    ({'clamd_socket': '/x', 'max_concurrent_scans': '0'},
     'max_concurrent_scans'),
])
def test_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        clamav.ClamavFilter(FakeProxy(), options)


def test_rejection_swallowed_by_the_app_still_reaches_the_client(clamd, log):
    logger, lines = log
    inner = FakeProxy()

    def swallowing_app(env, start_response):
        try:
            return inner(env, start_response)
        except InputRejected:
            start_response('500 Internal Error', [('Content-Length', '0')])
            return [b'']
    filt, _ = make_filter(clamd, logger, app=swallowing_app)
    calls = []

    def server_start_response(status, headers, exc_info=None):
        # like a real server before any body byte is sent: a second call
        # must carry exc_info and replaces the first
        assert not calls or exc_info is not None
        calls.append(status)
    body = filt({'REQUEST_METHOD': 'PUT', 'PATH_INFO': '/v1/a/c/o',
                 'CONTENT_LENGTH': '70000', 'wsgi.input':
                 GeneratedInput(70000, eicar_at=100)},
                server_start_response)
    assert calls == ['500 Internal Error', '403 Forbidden']
    assert b'Objproxy.Test.EICAR' in b''.join(body)
    assert not inner.calls[0]['complete']
    assert any('did not re-raise' in line for line in lines)


@pytest.mark.parametrize('length', [True, False], ids=['length', 'chunked'])
def test_copy_with_a_body_is_refused(clamd, log, length):
    filt, app = make_filter(clamd, log[0])
    resp = put(filt, GeneratedInput(1000, eicar_at=0), length=length,
               headers={'X-Copy-From': '/c/src'})
    assert resp.status_int == 400
    assert b'zero byte body' in resp.body
    assert app.calls == []


# --- a clamd that stops answering -------------------------------------------

@pytest.fixture
def fake_clamd(tmp_path):
    from tests.unit.middleware.fake_clamd import FakeClamd
    made = []

    def factory(**kwargs):
        fake = FakeClamd(str(tmp_path / ('fake%d.sock' % len(made))),
                         **kwargs)
        made.append(fake)
        return fake
    yield factory
    for fake in made:
        fake.close()


def test_default_scan_timeout_stays_well_below_client_timeout():
    filt = clamav.ClamavFilter(FakeProxy(), {'clamd_socket': '/x'})
    # the proxy's and the storage nodes' client_timeout default to 60
    assert filt.scan_timeout <= 30
    assert filt.timeout + filt.scan_timeout < 60


@pytest.mark.parametrize('options,message', [
    ({'scan_timeout': 'soon'}, 'scan_timeout'),
    ({'scan_timeout': '0'}, 'scan_timeout'),
    ({'client_timeout': '30', 'scan_timeout': '25'}, 'client_timeout'),
    ({'client_timeout': '30', 'timeout': '10', 'scan_timeout': '20'},
     'client_timeout'),
])
def test_bad_scan_timeout_is_a_config_error(options, message):
    options = dict(options, clamd_socket='/x')
    with pytest.raises(ConfigError, match=message):
        clamav.ClamavFilter(FakeProxy(), options)


def test_scan_timeout_near_the_default_client_timeout_warns(log):
    logger, lines = log
    clamav.ClamavFilter(FakeProxy(), {'clamd_socket': '/x',
                                      'scan_timeout': '55'}, logger=logger)
    assert any('must stay below client_timeout' in line for line in lines)


def test_hung_clamd_gives_503_within_scan_timeout(fake_clamd, log):
    """clamd answers VERSION but never gives a verdict: the upload gets
    503 after scan_timeout, even when the VERSION cache is due for a
    refresh (that refresh must not add to the wait)."""
    fake = fake_clamd(instream='hang')
    logger, lines = log
    filt, app = make_filter(fake, logger, timeout='5', scan_timeout='1',
                            version_refresh='0')
    filt._label()  # a label is cached, as after the first upload
    fake.hang_all = True  # from now on clamd answers nothing at all
    started = time.monotonic()
    resp = put(filt, GeneratedInput(300 * 1024))
    elapsed = time.monotonic() - started
    assert resp.status_int == 503
    assert elapsed < 3, elapsed  # scan_timeout (1), not timeout + more
    assert not app.calls[0]['complete']
    assert app.calls[0]['received'] < 300 * 1024
    assert any('scan failed' in line and 'no verdict' in line
               for line in lines)


def test_sigstopped_clamd_gives_503_within_scan_timeout(clamd_factory, log):
    private = clamd_factory()
    filt, app = make_filter(private, log[0], scan_timeout='1.5',
                            version_refresh='0')
    assert put(filt, GeneratedInput(1000)).status_int == 201
    os.kill(private.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        resp = put(filt, GeneratedInput(200 * 1024))
        elapsed = time.monotonic() - started
    finally:
        os.kill(private.pid, signal.SIGCONT)
    assert resp.status_int == 503
    assert 1.0 < elapsed < 4, elapsed
    assert not app.calls[-1]['complete']
    # clamd continues where it stopped: the next upload is scanned again
    assert put(filt, GeneratedInput(1000)).status_int == 201


class EmptyInput(GeneratedInput):
    def __init__(self):
        super().__init__(0)


def test_empty_upload_is_scanned_before_it_is_labelled(clamd, log):
    filt, app = make_filter(clamd, log[0])
    resp = put(filt, EmptyInput())
    assert resp.status_int == 201
    assert app.calls[0]['engine'].startswith('ClamAV ')


def test_empty_upload_gets_an_answer_from_clamd(fake_clamd, log):
    fake = fake_clamd(instream='ok')
    filt, app = make_filter(fake, log[0])
    assert put(filt, EmptyInput()).status_int == 201
    assert app.calls[0]['engine'] == fake.version
    assert 'INSTREAM-END' in fake.commands  # the empty stream was ended


@pytest.mark.parametrize('behaviour', ['hang', 'close'])
def test_empty_upload_without_a_verdict_is_refused(fake_clamd, log,
                                                   behaviour):
    fake = fake_clamd(instream=behaviour)
    logger, lines = log
    filt, app = make_filter(fake, logger, scan_timeout='0.5')
    started = time.monotonic()
    resp = put(filt, EmptyInput())
    assert resp.status_int == 503
    assert time.monotonic() - started < 3
    assert app.calls == []  # never stored, so never labelled as scanned
    assert filt.slots.balance == filt.max_concurrent_scans


def test_empty_upload_without_a_verdict_allowed_is_labelled_unscanned(
        fake_clamd, log):
    fake = fake_clamd(instream='close')
    filt, app = make_filter(fake, log[0], on_error='allow')
    assert put(filt, EmptyInput()).status_int == 201
    assert app.calls[0]['verdict'] == 'unscanned; clamd-unavailable'


def test_empty_upload_with_clamd_unreachable_is_refused(tmp_path, log,
                                                        clamd):
    filt, app = make_filter(clamd, log[0],
                            clamd_socket=str(tmp_path / 'none.sock'))
    assert put(filt, EmptyInput()).status_int == 503
    assert app.calls == []


# --- the health probe behind /healthcheck -----------------------------------

def test_health_check_pings_and_caches(fake_clamd, log):
    fake = fake_clamd()
    filt, _ = make_filter(fake, log[0], ping_cache='0.3')
    assert filt.health_check() is None
    for _ in range(20):
        assert filt.health_check() is None
    assert fake.commands.count('PING') == 1
    deadline = time.monotonic() + 5
    while fake.commands.count('PING') < 2 and time.monotonic() < deadline:
        eventlet.sleep(0.05)
        filt.health_check()
    assert fake.commands.count('PING') == 2


def test_health_check_hung_clamd_never_blocks_the_hub(fake_clamd, log):
    fake = fake_clamd(hang_all=True)
    logger, lines = log
    filt, _ = make_filter(fake, logger, ping_timeout='0.5', ping_cache='5')
    ticks = []

    def ticker():
        while len(ticks) < 1000:
            ticks.append(time.monotonic())
            eventlet.sleep(0.02)
    ticking = eventlet.spawn(ticker)
    try:
        started = time.monotonic()
        pool = eventlet.GreenPool()
        results = list(pool.imap(lambda _: filt.health_check(), range(10)))
        elapsed = time.monotonic() - started
    finally:
        ticking.kill()
    assert results == ['clamd unreachable'] * 10
    assert 0.4 < elapsed < 2, elapsed
    assert len(ticks) >= 10  # other green threads ran meanwhile
    assert fake.connections == 1  # one PING in flight, the rest waited
    assert any('health check' in line for line in lines)


def test_health_check_follows_clamd_down_and_up(clamd_factory, log):
    private = clamd_factory()
    filt, _ = make_filter(private, log[0], ping_cache='0')
    assert filt.health_check() is None
    private.stop()
    assert filt.health_check() == 'clamd unreachable'
    private.start()
    assert filt.health_check() is None


@pytest.mark.parametrize('options,message', [
    ({'ping_timeout': '0'}, 'ping_timeout'),
    ({'ping_cache': '-1'}, 'ping_cache'),
    ({'ping_cache': 'often'}, 'ping_cache'),
])
def test_bad_health_options(options, message):
    with pytest.raises(ConfigError, match=message):
        clamav.ClamavFilter(FakeProxy(), dict(options, clamd_socket='/x'))


# --- server-side copies ---------------------------------------------------

def copy_put(filt, body_input, copied=None, headers=None):
    """The PUT the copy filter makes: ``copied`` is the source's verdict
    as copy hands it over in the environ."""
    environ = {'REQUEST_METHOD': 'PUT', 'wsgi.input': body_input,
               'CONTENT_LENGTH': str(body_input.size),
               'swift.source': 'SSC'}
    if copied is not None:
        environ[COPIED_VERDICT_ENV] = copied
    req = Request.blank('/v1/AUTH_test/cont/dst', environ=environ,
                        headers=headers or {})
    return req.get_response(filt)


CLEAN_SOURCE = {'x-object-sysmeta-av-verdict': 'clean',
                'x-object-sysmeta-av-engine': 'ClamAV 1.0.0/1/old',
                'x-object-sysmeta-av-signatures': 'sigs-of-then',
                'x-object-sysmeta-av-scanned-at': '2026-01-02T03:04:05Z'}


def test_a_copy_of_a_clean_object_keeps_its_verdict_without_clamd(
        tmp_path, log, clamd):
    """The bytes were judged when the source was stored: the copy is
    stored with that verdict, even while clamd is unreachable."""
    filt, app = make_filter(clamd, log[0],
                            clamd_socket=str(tmp_path / 'none.sock'))
    resp = copy_put(filt, GeneratedInput(70000), dict(CLEAN_SOURCE))
    assert resp.status_int == 201
    record = app.calls[0]
    assert record['complete']
    assert (record['verdict'], record['engine'], record['scanned_at']) == (
        'clean', 'ClamAV 1.0.0/1/old', '2026-01-02T03:04:05Z')


@pytest.mark.parametrize('copied', [
    None,
    {'x-object-sysmeta-av-verdict': 'unscanned; oversize'},
    {'x-object-sysmeta-av-verdict': 'infected'},
], ids=['no-verdict', 'unscanned', 'infected'])
def test_a_copy_without_a_clean_source_verdict_is_scanned(
        clamd, log, copied):
    filt, app = make_filter(clamd, log[0])
    resp = copy_put(filt, GeneratedInput(70000, eicar_at=100), copied)
    assert resp.status_int == 403
    assert not any(call['complete'] for call in app.calls)


def test_a_verdict_in_the_headers_is_not_taken_for_a_copied_one(clamd, log):
    """Only the copy filter's environ key counts; sysmeta headers on the
    PUT (whoever put them there) are dropped and the body scanned."""
    filt, app = make_filter(clamd, log[0])
    headers = dict((name.title(), value)
                   for name, value in CLEAN_SOURCE.items())
    resp = copy_put(filt, GeneratedInput(70000, eicar_at=100),
                    headers=headers)
    assert resp.status_int == 403


def test_stale_policy_scans_a_copy_judged_with_older_signatures(clamd, log):
    filt, app = make_filter(clamd, log[0], scan_on_read='stale')
    resp = copy_put(filt, GeneratedInput(70000, eicar_at=100),
                    dict(CLEAN_SOURCE))
    assert resp.status_int == 403
    current = filt.current_signatures()
    fresh = dict(CLEAN_SOURCE, **{'x-object-sysmeta-av-signatures': current})
    resp = copy_put(filt, GeneratedInput(70000), fresh)
    assert resp.status_int == 201
    assert app.calls[-1]['engine'] == 'ClamAV 1.0.0/1/old'
