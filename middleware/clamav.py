"""Virus-scan object uploads with clamd while they stream to storage.

Why a streaming design: an object store cannot afford to buffer a 5 GiB
upload in memory (or write it to a scratch disk) just to scan it, nor to
read it twice.  So every object PUT body is copied, chunk by chunk, to a
clamd INSTREAM session while the proxy streams the same chunks to the
storage nodes.  clamd only gives its verdict after the end of the stream,
so this filter withholds the final chunk from the proxy until clamd has
answered: an infected body therefore never reaches its end on any storage
node and nothing is committed.

Contract with the proxy (keep it): ``env['wsgi.input']`` is replaced by a
ScanningInput whose ``read(size)``/``readline()`` forward bytes to clamd and
always keep a read-ahead chunk back.  The last bytes are returned only once
the real input hit EOF *and* clamd said ``OK``.  Otherwise ``read()`` raises
``objproxy.common.exceptions.InputRejected``; the proxy aborts its backend
connections without finishing the body and re-raises it; this filter
catches it around the app call and answers the client with its status and
body.  If the app returns without reading the whole body (an early error
response) the clamd stream is simply closed.

Configuration::

    [filter:clamav]
    use = egg:objproxy#clamav
    # Where clamd listens: a unix socket, or TCP host + port.  Without
    # either, LocalSocket (or TCPSocket/TCPAddr) is read from clamd_conf.
    clamd_socket = /run/objproxy/clamd.sock
    # clamd_host = 127.0.0.1
    # clamd_port = 3310
    # Optional: clamd's own config.  When given, a max_scan_size larger
    # than its StreamMaxLength, MaxFileSize or MaxScanSize is refused at
    # start (clamd would reject the stream, or worse say OK unscanned).
    # clamd_conf = /etc/clamav/clamd.conf
    # Seconds for connecting to clamd and for each write to it.
    timeout = 10
    # Seconds for clamd's verdict once the whole body was sent (sending
    # the end-of-stream marker included).  A hung clamd then gives 503
    # "scan could not be completed" after this long.  timeout +
    # scan_timeout must stay below client_timeout (60 by default, on the
    # proxy and the storage nodes): past it the proxy gives up on the
    # withheld last chunk and answers 408, blaming the client, and the
    # nodes drop the upload.  A client_timeout set in [DEFAULT] is checked
    # at start (config error when too small); otherwise a warning is
    # logged against the default of 60.
    scan_timeout = 20
    # Largest body scanned (bytes, or 25M / 1G).  Keep <= StreamMaxLength.
    max_scan_size = 512M
    # Bodies over max_scan_size: refuse (413) or allow (store unscanned).
    oversize = refuse
    # clamd unreachable/erroring: refuse (503) or allow (store unscanned).
    on_error = refuse
    # Simultaneous scans per proxy worker; more wait in a queue ...
    max_concurrent_scans = 32
    # ... for at most this many seconds, then 503.
    scan_queue_timeout = 10
    # Bytes pulled from the client per read when the proxy asks for less.
    chunk_size = 65536
    # Seconds between VERSION refreshes (the label follows DB updates).
    # The refresh runs in the background; only the very first upload of
    # a worker waits for VERSION (at most timeout seconds).
    version_refresh = 300
    # The health probe that /healthcheck uses (see the healthcheck filter's
    # check_clamd): seconds to wait for clamd's PONG ...
    ping_timeout = 2
    # ... and seconds one PING result is reused, so load balancers can
    # poll /healthcheck often without a clamd connection per poll.
    ping_cache = 1
    # GETs scan objects whose verdict is: missing (never scanned or
    # stored unscanned), stale (also: scanned with older signatures than
    # clamd's now), always, or never.  DLOs are scanned on every read
    # unless never.  See docs/scanning.md for the choice of default.
    scan_on_read = missing
    # Objects whose verdict is "infected" get 403 on GET.
    deny_infected_reads = true
    # StatsD (Swift's names; metrics are <prefix>.clamav.<name>):
    # log_statsd_host =
    # log_statsd_port = 8125
    # log_statsd_metric_prefix =

Design, verdict keys, scan on read, large objects and metrics:
docs/scanning.md.

The verdict is object system metadata, set on the PUT and stored with the
object: ``X-Object-Sysmeta-Av-Verdict`` (``clean``, ``infected``,
``unscanned; oversize``, ``unscanned; clamd-unavailable``), ``-Engine``
(clamd's VERSION), ``-Signatures`` (the signature fingerprint, see
objproxy.common.clamd.signature_fingerprint), ``-Scanned-At`` and, for
infected objects, ``-Found``.  Reads show them as ``X-Object-Av-*``.
Metadata travels to the nodes before the body, so the verdict is chosen
before the body starts; an object labelled clean can only be committed
after clamd's OK because the last chunk is withheld until then.  Once a
scan has started any failure rejects the upload (503, or 413 for a chunked
body growing past max_scan_size) whatever on_error/oversize say: storing
it would publish a false "scanned" label.

What is scanned: object PUTs (``/v1/<account>/<container>/<object>``),
including the PUT subrequests of bulk, formpost and copy (all left of this
filter) -- except that a copy of a clean object's whole stored content
keeps the source's verdict, which the copy filter hands over in the
environ (never from headers); SLO manifest PUTs (their joined segments,
middleware.clamav_slo); GETs per ``scan_on_read`` (middleware.clamav_read).

Health: ``ClamavFilter.health_check()`` PINGs clamd
(middleware.clamav_health) and returns None or a reason such as ``clamd
unreachable``.  The healthcheck filter asks it and answers
``/healthcheck`` with 503 while clamd is down, so a load balancer takes a
proxy whose scanner is down out of rotation.

Infected uploads get ``403 Forbidden`` with a plain-text body naming the
signature, and a log line with transaction id, account, container, object
and signature.  Each upload uses its own clamd connection; at most
``max_concurrent_scans`` run at once per worker (eventlet semaphore).
"""
import sys
import time
from urllib.parse import parse_qs

import eventlet
from eventlet.semaphore import Semaphore

from objproxy.common.clamd import (
    ClamdAddress, ClamdError, parse_size, read_clamd_conf,
    signature_fingerprint)
from objproxy.common.config import (
    check_options, get_bool, get_choice, get_float, get_int)
from objproxy.common import offload
from objproxy.common.exceptions import ConfigError, InputRejected
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.registry import cap_info, register_info
from middleware import clamav_answers as answers
from middleware import clamav_verdict as av
from middleware.clamav_answers import _respond, expose_verdict
from middleware.clamav_health import ClamdHealth
from middleware.clamav_input import ScanningInput
from middleware.clamav_read import ReadScanner
from middleware.clamav_slo import ManifestScanner
from middleware.copy import COPIED_VERDICT_ENV

SECTION = 'filter:clamav'
# Only this filter sets the verdict sysmeta (middleware.clamav_verdict).
VERDICT_ENV_PREFIX = av.ENV_PREFIX
VERDICT_PUBLIC_PREFIX = av.PUBLIC_PREFIX
VERDICT_CLEAN = 'clean'
LABEL_OVERSIZE = 'unscanned; oversize'
LABEL_UNAVAILABLE = 'unscanned; clamd-unavailable'
KNOWN_OPTIONS = (
    'clamd_socket', 'clamd_host', 'clamd_port', 'clamd_conf', 'timeout',
    'scan_timeout', 'max_scan_size', 'oversize', 'on_error',
    'max_concurrent_scans', 'scan_queue_timeout', 'chunk_size',
    'version_refresh', 'ping_timeout', 'ping_cache', 'scan_on_read',
    'deny_infected_reads', 'log_statsd_host', 'log_statsd_port',
    'log_statsd_metric_prefix', 'log_statsd_default_sample_rate',
    'log_statsd_sample_rate_factor',
)
SCAN_ON_READ = ('missing', 'stale', 'never', 'always')
DEFAULT_MAX_SCAN_SIZE = 512 * 1024 * 1024
#: Default verdict wait: with the default timeout (10) it stays well below
#: the proxy's and storage nodes' default client_timeout (60).
DEFAULT_SCAN_TIMEOUT = 20.0
DEFAULT_CLIENT_TIMEOUT = 60.0
TOO_LARGE = (b'Request Entity Too Large: the body is larger than the '
             b'virus-scan limit of %d bytes; upload it in segments (for '
             b'example swift upload --segment-size)\n')


def _trans_id(env):
    return (env.get('objproxy.trans_id') or env.get('swift.trans_id') or
            env.get('HTTP_X_TRANS_ID') or '-')


class ClamavFilter(object):
    """Paste filter scanning object PUT bodies; see the module docstring."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, log_route='clamav')
        self.timeout = get_float(conf, 'timeout', 10.0, SECTION, minimum=0.1)
        self.scan_timeout = get_float(conf, 'scan_timeout',
                                      DEFAULT_SCAN_TIMEOUT, SECTION,
                                      minimum=0.1)
        self._check_against_client_timeout(conf)
        self.max_scan_size = parse_size(
            conf.get('max_scan_size', DEFAULT_MAX_SCAN_SIZE),
            '[%s] max_scan_size' % SECTION)
        if self.max_scan_size < 1:
            raise ConfigError('[%s] max_scan_size must be at least 1'
                              % SECTION)
        self.oversize = get_choice(conf, 'oversize', 'refuse',
                                   ('refuse', 'allow'), SECTION)
        self.on_error = get_choice(conf, 'on_error', 'refuse',
                                   ('refuse', 'allow'), SECTION)
        self.max_concurrent_scans = get_int(conf, 'max_concurrent_scans', 32,
                                            SECTION, minimum=1)
        self.scan_queue_timeout = get_float(conf, 'scan_queue_timeout', 10.0,
                                            SECTION, minimum=0)
        self.chunk_size = get_int(conf, 'chunk_size', 65536, SECTION,
                                  minimum=1, maximum=16 * 1024 * 1024)
        self.version_refresh = get_float(conf, 'version_refresh', 300.0,
                                         SECTION, minimum=0)
        self.ping_timeout = get_float(conf, 'ping_timeout', 2.0, SECTION,
                                      minimum=0.01)
        self.ping_cache = get_float(conf, 'ping_cache', 1.0, SECTION,
                                    minimum=0)
        self.scan_on_read = get_choice(conf, 'scan_on_read', 'missing',
                                       SCAN_ON_READ, SECTION)
        self.deny_infected_reads = get_bool(conf, 'deny_infected_reads',
                                            True, SECTION)
        self.metrics = av.Metrics(av.statsd_from_conf(conf))
        self.database_dir = None
        self.address = self._address(conf)
        self.slots = Semaphore(self.max_concurrent_scans)
        self.reads = ReadScanner(self)
        self.manifests = ManifestScanner(self)
        self._pipeline_final_app = None     # set by the pipeline loader
        self._signatures = None
        self._version = None
        self._version_at = 0.0
        self._version_refreshing = False
        self.health = ClamdHealth(self.address, self.ping_timeout,
                                  self.ping_cache, self.logger)

    def _check_against_client_timeout(self, conf):
        """The verdict must come before the proxy's client_timeout."""
        explicit = conf.get('client_timeout') not in (None, '')
        client_timeout = get_float(conf, 'client_timeout',
                                   DEFAULT_CLIENT_TIMEOUT, 'DEFAULT',
                                   minimum=0)
        worst = self.timeout + self.scan_timeout
        if worst < client_timeout:
            return
        message = ('[%s] timeout (%gs) + scan_timeout (%gs) must stay below '
                   'client_timeout (%gs): a clamd that stops answering would '
                   'otherwise get the upload a 408 that blames the client'
                   % (SECTION, self.timeout, self.scan_timeout,
                      client_timeout))
        if explicit:
            raise ConfigError(message)
        self.logger.warning('%s (client_timeout not in [DEFAULT], assumed '
                            '%g)', message, client_timeout)

    def _address(self, conf):
        socket_path = (conf.get('clamd_socket') or '').strip() or None
        host = (conf.get('clamd_host') or '').strip() or None
        port = get_int(conf, 'clamd_port', None, SECTION, minimum=1,
                       maximum=65535)
        clamd_conf = (conf.get('clamd_conf') or '').strip() or None
        if clamd_conf:
            settings = read_clamd_conf(clamd_conf)
            for key in ('StreamMaxLength', 'MaxFileSize', 'MaxScanSize'):
                limit = settings[key]
                if limit and self.max_scan_size > limit:
                    raise ConfigError(
                        '[%s] max_scan_size %d exceeds %s %d in %s; clamd '
                        'would %s' % (
                            SECTION, self.max_scan_size, key, limit,
                            clamd_conf,
                            'refuse the stream' if key == 'StreamMaxLength'
                            else 'answer OK without scanning'))
            if not socket_path and not host:
                socket_path = settings.get('LocalSocket')
                if not socket_path and settings.get('TCPSocket'):
                    host = settings.get('TCPAddr') or '127.0.0.1'
                    port = int(settings['TCPSocket'])
            self.database_dir = settings.get('DatabaseDirectory') or None
        if host and not port:
            port = 3310
        if not socket_path and not host:
            raise ConfigError('[%s] set clamd_socket, or clamd_host and '
                              'clamd_port, or clamd_conf' % SECTION)
        return ClamdAddress(socket_path=socket_path, host=host, port=port,
                            timeout=self.timeout)

    # -- request handling --------------------------------------------------

    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        if method not in ('PUT', 'POST', 'COPY', 'GET', 'HEAD'):
            return self.app(env, start_response)
        target = self._object_path(env)
        if target is None:
            return self.app(env, start_response)
        copied = env.pop(COPIED_VERDICT_ENV, None)
        # Only this filter may set the verdict (see the module docstring).
        for key in [k for k in env if k.startswith(VERDICT_ENV_PREFIX)]:
            del env[key]
        if method in ('GET', 'HEAD'):
            return self.reads(env, start_response, target)
        if method != 'PUT':
            return self.app(env, start_response)
        if copied and self._carries(copied):
            return self._keep_copied_verdict(env, start_response, copied)
        if 'HTTP_X_COPY_FROM' in env:
            # A copy's body is ignored, so it is not scanned; refuse one
            # that has a body anyway, so it can never be stored unscanned.
            if env.get('CONTENT_LENGTH') not in (None, '', '0') or \
                    'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower():
                return _respond(start_response, 400,
                                b'Copy requests require a zero byte body\n')
            return self.app(env, start_response)
        query = parse_qs(env.get('QUERY_STRING', ''))
        if 'put' in query.get('multipart-manifest', ()):
            return self.manifests(env, start_response, target)
        return self._scan_put(env, start_response, target)

    def _carries(self, copied):
        """Whether a copy keeps its source's verdict: a clean one that a
        read of the source would not have to scan again under
        ``scan_on_read`` (so ``stale`` rescans copies of clean objects
        judged with older signatures, and ``always`` every copy)."""
        verdict, signatures = av.stored_verdict(copied)
        if verdict != av.CLEAN:
            return False
        current = (self.current_signatures()
                   if self.scan_on_read == 'stale' else None)
        return not av.needs_scan(verdict, signatures, current,
                                 self.scan_on_read)

    def _keep_copied_verdict(self, env, start_response, copied):
        """A copy of a clean object's whole content keeps the source's
        verdict: those bytes were judged when the source was stored, and
        the rescanner judges both again when signatures change."""
        put_headers(env, copied)
        self.metrics.count('verdicts_carried')
        return self.app(env, start_response)

    def _object_path(self, env):
        try:
            path = wsgi_to_str(env.get('PATH_INFO', ''))
            _version, account, container, obj = split_path(path, 4, 4, True)
        except (PathError, ValueError):
            return None
        return account, container, obj

    def _scan_put(self, env, start_response, target):
        txn = _trans_id(env)
        where = 'txn=%s account=%s container=%s object=%s' % (
            (txn,) + tuple(target))
        length = env.get('CONTENT_LENGTH')
        if length not in (None, ''):
            try:
                length = int(length)
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                return _respond(start_response, 400,
                                b'Invalid Content-Length\n')
        else:
            length = None
        if length is not None and length > self.max_scan_size:
            if self.oversize == 'refuse':
                self.logger.info('clamav: refused oversize upload %s '
                                 'length=%d max_scan_size=%d',
                                 where, length, self.max_scan_size)
                return _respond(
                    start_response, 413,
                    TOO_LARGE % self.max_scan_size)
            self.logger.warning('clamav: storing oversize upload unscanned '
                                '%s length=%d', where, length)
            self.metrics.count('unscanned')
            set_verdict(env, LABEL_OVERSIZE)
            return self.app(env, start_response)

        if not self.slots.acquire(timeout=self.scan_queue_timeout):
            self.logger.error('clamav: no free scan slot within %ss (%d '
                              'scans running) %s', self.scan_queue_timeout,
                              self.max_concurrent_scans, where)
            return _respond(start_response, 503,
                            b'Service Unavailable: the virus scanner is '
                            b'busy, retry later\n')
        try:
            try:
                stream = self.address.instream(scan_timeout=self.scan_timeout)
                try:
                    label = self._label()
                    if length == 0:
                        # The proxy never reads an empty body, so nothing
                        # would wait for the verdict: get it now.
                        verdict = stream.finish()
                except ClamdError:
                    stream.close()
                    raise
            except ClamdError as err:
                if self.on_error == 'allow':
                    self.logger.error('clamav: clamd unavailable, storing '
                                      'unscanned %s: %s', where, err)
                    self.metrics.count('unscanned')
                    set_verdict(env, LABEL_UNAVAILABLE)
                    return self.app(env, start_response)
                self.metrics.count('errors')
                self.logger.error('clamav: clamd unavailable, refusing '
                                  'upload %s: %s', where, err)
                return _respond(start_response, 503,
                                b'Service Unavailable: the virus scanner '
                                b'is unavailable, retry later\n')

            if length == 0:
                self.metrics.scanned('infected' if verdict.status == 'FOUND'
                                     else 'clean', 0, 0.0)
                if verdict.status == 'FOUND':
                    self.logger.warning(
                        'clamav: infected upload rejected %s signature=%s',
                        where, verdict.signature)
                    return _respond(
                        start_response, 403,
                        ('Forbidden: the upload matches the virus '
                         'signature %s\n' % verdict.signature).encode('utf-8'))
                set_verdict(env, VERDICT_CLEAN, label, self._signatures)
                return self.app(env, start_response)

            begun = time.monotonic()

            def on_reject(status, kind, detail, received):
                self.metrics.scanned(
                    'infected' if kind == 'infected' else 'errors',
                    received, time.monotonic() - begun)
                if kind == 'infected':
                    self.logger.warning(
                        'clamav: infected upload rejected %s signature=%s',
                        where, detail)
                    body = ('Forbidden: the upload matches the virus '
                            'signature %s\n' % detail)
                elif kind == 'oversize':
                    self.logger.info(
                        'clamav: refused oversize chunked upload %s after '
                        '%d bytes: %s', where, received, detail)
                    body = (TOO_LARGE % self.max_scan_size).decode()
                else:
                    self.logger.error(
                        'clamav: scan failed, upload refused %s after %d '
                        'bytes: %s', where, received, detail)
                    body = ('Service Unavailable: the virus scan could not '
                            'be completed, retry later\n')
                return InputRejected(status, body.encode('utf-8'),
                                     {'Content-Type':
                                      'text/plain; charset=UTF-8'})

            scan_input = ScanningInput(
                env['wsgi.input'], stream, length, self.max_scan_size,
                self.chunk_size, on_reject)
            env['wsgi.input'] = scan_input
            set_verdict(env, VERDICT_CLEAN, label, self._signatures)
            started = []

            def tracking_start_response(status, headers, exc_info=None):
                started.append(status)
                if exc_info is not None:
                    return start_response(status, headers, exc_info)
                return start_response(status, headers)
            try:
                app_iter = self.app(env, tracking_start_response)
            except InputRejected as rejected:
                # exc_info only if the app already started a response
                # (WSGI: replace it); some servers re-raise otherwise.
                return _respond(start_response, rejected.status,
                                rejected.body, rejected.headers,
                                exc_info=sys.exc_info() if started else None)
            finally:
                scan_input.close()
            rejected = scan_input.rejection
            if rejected is None:
                if scan_input.complete:
                    self.metrics.scanned('clean', scan_input.bytes_received,
                                         time.monotonic() - begun)
                return app_iter
            # The app swallowed the rejection (it must not, but the client
            # still has to hear why): replace its response.
            self.logger.error('clamav: the app did not re-raise the upload '
                              'rejection (%s) %s', rejected.status, where)
            if hasattr(app_iter, 'close'):
                app_iter.close()
            return _respond(start_response, rejected.status, rejected.body,
                            rejected.headers,
                            exc_info=(type(rejected), rejected,
                                      rejected.__traceback__)
                            if started else None)
        finally:
            self.slots.release()

    def _label(self):
        """clamd's VERSION text, cached for version_refresh seconds, with
        the signature fingerprint beside it (``self._signatures``).

        Only the first call waits for clamd; later refreshes run in a
        green thread of their own, so an upload never waits for VERSION
        (a hung clamd would otherwise add ``timeout`` to every upload).
        """
        now = time.monotonic()
        if self._version is None:
            version = self.address.version()
            self._signatures = self._fingerprint(version)
            self._version = version
            self._version_at = now
        elif now - self._version_at >= self.version_refresh and \
                not self._version_refreshing:
            self._version_refreshing = True
            self._version_at = now
            eventlet.spawn_n(self._refresh_version)
        return self._version

    def _fingerprint(self, version):
        try:
            return offload.run_in_thread(signature_fingerprint, version,
                                         self.database_dir)
        except ClamdError as err:
            self.logger.warning('clamav: signature digest failed, using '
                                'VERSION: %s', err)
            return version

    def _refresh_version(self):
        try:
            version = self.address.version()
            self._signatures = self._fingerprint(version)
            self._version = version
            self._version_at = time.monotonic()
        except ClamdError as err:
            self.logger.warning('clamav: VERSION refresh failed, keeping '
                                '%r: %s', self._version, err)
        finally:
            self._version_refreshing = False

    # -- shared with middleware.clamav_read / clamav_slo -------------------

    LABEL_OVERSIZE, LABEL_UNAVAILABLE = LABEL_OVERSIZE, LABEL_UNAVAILABLE

    def label_pair(self):
        """(engine, signature fingerprint) for a verdict given now."""
        try:
            self._label()
        except ClamdError:
            pass
        return self._version, self._signatures

    def current_signatures(self):
        """The fingerprint in use now, or None when clamd never answered."""
        return self.label_pair()[1]

    def open_stream(self):
        return self.address.instream(scan_timeout=self.scan_timeout)

    def proxy_app(self):
        """The proxy server the pipeline ends in (its ring and backend
        pool send verdict updates), as the pipeline loader set it."""
        return self._pipeline_final_app

    trans_id = staticmethod(_trans_id)
    set_verdict = staticmethod(lambda env, *a: set_verdict(env, *a))
    expose = staticmethod(lambda start: expose_verdict(start))
    forbidden = staticmethod(answers.forbidden)
    unavailable = staticmethod(answers.unavailable)

    def too_large(self, start_response):
        return _respond(start_response, 413,
                        TOO_LARGE % self.max_scan_size)


    def health_check(self):
        """None while clamd answers PING, else a short reason (the
        healthcheck filter asks; see middleware.clamav_health)."""
        return self.health.check()


def set_verdict(env, verdict, engine=None, signatures=None):
    """Label the upload (request sysmeta, stored with the object)."""
    put_headers(env, av.verdict_headers(verdict, engine, signatures))


def put_headers(env, headers):
    """Request headers (``name: value``) into the WSGI environ."""
    for name, value in headers.items():
        env['HTTP_' + name.upper().replace('-', '_')] = value


def filter_factory(global_conf, **local_conf):
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    conf = dict(global_conf or {})
    conf.update(local_conf)
    probe = ClamavFilter(None, conf)
    if probe.oversize == 'refuse':      # the one effective size limit
        cap_info('swift', 'max_file_size', probe.max_scan_size)
    register_info('clamav', max_scan_size=probe.max_scan_size,
                  oversize=probe.oversize, on_error=probe.on_error,
                  max_concurrent_scans=probe.max_concurrent_scans,
                  scan_on_read=probe.scan_on_read,
                  deny_infected_reads=probe.deny_infected_reads,
                  verdict_headers=[VERDICT_PUBLIC_PREFIX + name for name in
                                   ('Verdict', 'Engine', 'Signatures',
                                    'Scanned-At', 'Found')])

    def clamav_filter(app):
        return ClamavFilter(app, conf, logger=probe.logger)
    return clamav_filter
