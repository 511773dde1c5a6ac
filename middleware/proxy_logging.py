"""proxy_logging: one access-log line (and StatsD metrics) per request.

The pipeline holds this filter twice, as Swift's does::

    catch_errors gatekeeper healthcheck proxy_logging ratelimit tempauth
        clamav proxy_logging proxy_server

The left copy sees every client request, marks its environ with
``swift.proxy_access_log_made`` and logs it; the right copy sees the same
(marked) environ and stays quiet, but it also sees the subrequests that
ratelimit/tempauth/clamav build with fresh environs (their ``swift.source``
names who made them) and logs those.  So each request - client or
internal - is logged exactly once.

Bytes are counted while they stream: ``wsgi.input`` and the response
iterator are wrapped, nothing is buffered.  The line is written when the
response iterator is exhausted or closed; a response closed before its end
(client went away) is logged with status 499, an exception with 500.

Fields, in Swift's order (``log_msg_template`` may reorder or drop them)::

    client_ip remote_addr end_time.datetime method path protocol
    status_int referer user_agent auth_token bytes_recvd bytes_sent
    client_etag transaction_id headers request_time source log_info
    start_time end_time policy_index

also available: account container object ttfb pid wire_status_int, and
``.datetime .iso8601 .asctime .s .ms .us`` on start_time / end_time.
Auth tokens never appear whole: at most ``reveal_sensitive_prefix``
characters (and never more than half of the token) followed by ``...``.

Config (defaults shown)::

    [filter:proxy_logging]
    use = egg:objproxy#proxy_logging
    # access_log_name = proxy-server
    # access_log_facility = LOG_LOCAL0
    # access_log_level = INFO
    # access_log_address = /dev/log
    # access_log_file =            (else log_file, else stdout/syslog)
    # access_log_to_stdout = false
    # access_log_headers = false
    # access_log_headers_only =    (comma list; implies access_log_headers)
    # reveal_sensitive_prefix = 16
    # log_msg_template = {client_ip} {remote_addr} ... (Swift's default)
    # access_log_statsd_host =     (else log_statsd_host; empty: no metrics)
    # access_log_statsd_port = 8125
    # access_log_statsd_metric_prefix =
    # access_log_statsd_default_sample_rate = 1.0
    # access_log_statsd_sample_rate_factor = 1.0
    # access_log_statsd_valid_http_methods = GET,HEAD,POST,PUT,DELETE,COPY,OPTIONS
"""
import os
import time
from urllib.parse import quote

from objproxy.common.config import (
    check_options, get_bool, get_float, get_int, get_list)
from objproxy.common.exceptions import ConfigError
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.statsd import StatsdClient

SECTION = 'filter:proxy_logging'
DEFAULT_TEMPLATE = (
    '{client_ip} {remote_addr} {end_time.datetime} {method} {path} '
    '{protocol} {status_int} {referer} {user_agent} {auth_token} '
    '{bytes_recvd} {bytes_sent} {client_etag} {transaction_id} {headers} '
    '{request_time} {source} {log_info} {start_time} {end_time} '
    '{policy_index}')
SENSITIVE_PARAMS = ('temp_url_sig',)
SENSITIVE_HEADERS = ('x-auth-token', 'x-storage-token', 'x-service-token',
                     'x-auth-key', 'x-storage-pass', 'authorization')
QUOTE_SAFE = '/:'
ACCESS_LOG_KEYS = ('name', 'facility', 'level', 'address', 'file',
                   'to_stdout', 'format')
STATSD_KEYS = ('host', 'port', 'metric_prefix', 'default_sample_rate',
               'sample_rate_factor', 'valid_http_methods')
DEFAULT_METHODS = 'GET,HEAD,POST,PUT,DELETE,COPY,OPTIONS'


def _q(value):
    """One log field: '-' when empty, else URL-quoted (no spaces)."""
    if value is None or value == '':
        return '-'
    return quote(str(value), QUOTE_SAFE)


class LogTime(object):
    """A timestamp that formats as seconds and offers Swift's variants."""

    def __init__(self, when):
        self.when = when

    def __str__(self):
        return '%.9f' % self.when

    def __format__(self, spec):
        return format(str(self), spec)

    @property
    def datetime(self):
        return time.strftime('%d/%b/%Y/%H/%M/%S', time.gmtime(self.when))

    @property
    def iso8601(self):
        return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(self.when))

    @property
    def asctime(self):
        return time.asctime(time.gmtime(self.when))

    @property
    def s(self):
        return '%d' % self.when

    @property
    def ms(self):
        return '%03d' % (self.when * 1000 % 1000)

    @property
    def us(self):
        return '%06d' % (self.when * 1000000 % 1000000)


class CountingInput(object):
    """Wraps ``wsgi.input`` and counts the bytes the app actually reads."""

    def __init__(self, wsgi_input):
        self.wsgi_input = wsgi_input
        self.bytes_read = 0

    def read(self, *args):
        data = self.wsgi_input.read(*args)
        self.bytes_read += len(data)
        return data

    def readline(self, *args):
        data = self.wsgi_input.readline(*args)
        self.bytes_read += len(data)
        return data

    def readlines(self, *args):
        lines = self.wsgi_input.readlines(*args)
        self.bytes_read += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        return iter(self.readline, b'')

    def __getattr__(self, name):
        return getattr(self.wsgi_input, name)


class LoggedBody(object):
    """Wraps the response iterator: counts bytes, logs once at the end."""

    def __init__(self, middleware, env, iterable, response, start_time):
        self.middleware = middleware
        self.env = env
        self.iterable = iterable
        self.response = response       # dict filled by start_response
        self.start_time = start_time
        self.bytes_sent = 0
        self.first_byte_time = None
        self.finished = False
        self.failed = False
        self.logged = False
        self._iter = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._iter is None:
            self._iter = iter(self.iterable)
        try:
            chunk = next(self._iter)
        except StopIteration:
            self.finished = True
            self._log()
            raise
        except Exception:
            self.failed = True
            self._log()
            raise
        if self.first_byte_time is None:
            self.first_byte_time = time.time()
        self.bytes_sent += len(chunk)
        return chunk

    def close(self):
        try:
            close = getattr(self.iterable, 'close', None)
            if close is not None:
                close()
        finally:
            self._log()

    def _log(self):
        if self.logged:
            return
        self.logged = True
        if self.failed:
            status = 500
        elif not self.finished:
            status = 499            # closed early: the client went away
        else:
            status = self.response.get('status_int', 500)
        self.middleware.log_request(
            self.env, status, self.response.get('status_int', 0),
            self.bytes_sent, self.start_time, time.time(),
            self.first_byte_time, self.response.get('headers', []))


class ProxyLoggingMiddleware(object):
    """See the module docstring."""

    def __init__(self, app, conf):
        self.app = app
        access_conf = {}
        for key in ACCESS_LOG_KEYS:
            value = conf.get('access_log_' + key, conf.get('log_' + key))
            if value is not None:
                access_conf['log_' + key] = value
        access_conf.setdefault('log_name', 'proxy-server')
        self.access_logger = get_logger(access_conf, 'proxy-server',
                                        log_route='proxy-access')
        self.headers_only = [h.lower() for h in get_list(
            conf, 'access_log_headers_only', [])]
        self.log_headers = self.headers_only or get_bool(
            conf, 'access_log_headers',
            get_bool(conf, 'log_headers', False, SECTION), SECTION)
        self.reveal_sensitive_prefix = get_int(
            conf, 'reveal_sensitive_prefix', 16, SECTION, minimum=0)
        self.template = conf.get('log_msg_template', DEFAULT_TEMPLATE)
        try:
            self.template.format(**self._sample_fields())
        except (KeyError, AttributeError, IndexError, ValueError) as err:
            raise ConfigError('[%s] log_msg_template: bad field %s'
                              % (SECTION, err))
        self.statsd = self._statsd_from_conf(conf)
        methods = self._statsd_conf(conf, 'valid_http_methods') or \
            DEFAULT_METHODS
        self.valid_methods = {m.strip().upper() for m in methods.split(',')
                              if m.strip()}
        self.pid = os.getpid()

    # -- configuration ---------------------------------------------------
    @staticmethod
    def _statsd_conf(conf, key):
        value = conf.get('access_log_statsd_' + key)
        if value is None:
            value = conf.get('log_statsd_' + key)
        return value

    def _statsd_from_conf(self, conf):
        host = (self._statsd_conf(conf, 'host') or '').strip()
        if not host:
            return None
        values = {key: self._statsd_conf(conf, key) for key in STATSD_KEYS}
        port = get_int(values, 'port', 8125, SECTION, 1, 65535)
        rate = get_float(values, 'default_sample_rate', 1.0, SECTION, 0, 1)
        factor = get_float(values, 'sample_rate_factor', 1.0, SECTION, 0, 1)
        prefix = values.get('metric_prefix') or ''
        prefix = '.'.join(p for p in (prefix.strip('.'), 'proxy-server') if p)
        return StatsdClient(host, port, prefix, rate, factor)

    @staticmethod
    def _sample_fields():
        now = LogTime(time.time())
        names = ('client_ip remote_addr method path protocol status_int '
                 'referer user_agent auth_token bytes_recvd bytes_sent '
                 'client_etag transaction_id headers request_time source '
                 'log_info policy_index account container object ttfb pid '
                 'wire_status_int').split()
        fields = dict.fromkeys(names, '-')
        fields.update(start_time=now, end_time=now)
        return fields

    # -- WSGI ------------------------------------------------------------
    def __call__(self, env, start_response):
        if env.get('swift.proxy_access_log_made'):
            return self.app(env, start_response)
        env['swift.proxy_access_log_made'] = True
        start_time = time.time()
        if env.get('wsgi.input') is not None:
            env['wsgi.input'] = CountingInput(env['wsgi.input'])
        # what the client asked, before any filter rewrites it
        env['swift.proxy_logging.request'] = (
            env.get('REQUEST_METHOD'), env.get('PATH_INFO', ''),
            env.get('QUERY_STRING', ''))
        response = {}

        def logging_start_response(status, headers, exc_info=None):
            try:
                response['status_int'] = int(status.split(' ', 1)[0])
            except ValueError:
                response['status_int'] = 500
            response['headers'] = headers
            return start_response(status, headers, exc_info)

        try:
            iterable = self.app(env, logging_start_response)
        except Exception:
            self.log_request(env, 500, 0, 0, start_time, time.time(), None,
                             [])
            raise
        return LoggedBody(self, env, iterable, response, start_time)

    # -- the line ----------------------------------------------------------
    def obscure(self, token):
        if not token:
            return None
        reveal = min(self.reveal_sensitive_prefix, len(token) // 2)
        return token[:reveal] + '...'

    def _path(self, env):
        method, path, query = env['swift.proxy_logging.request']
        try:
            path = wsgi_to_str(path)
        except PathError:
            pass
        text = quote(path, '/') if isinstance(path, str) else '-'
        if query:
            text += '?' + quote(self._obscure_query(query), '/=&:;,@+%')
        return method, text

    def _obscure_query(self, query):
        """A TempURL's signature is a credential: logged obscured, as in
        Swift."""
        if 'temp_url_sig=' not in query:
            return query
        pairs = []
        for pair in query.split('&'):
            name, sep, value = pair.partition('=')
            if sep and name in SENSITIVE_PARAMS:
                pair = '%s=%s' % (name, self.obscure(value) or '')
            pairs.append(pair)
        return '&'.join(pairs)

    def _headers_field(self, env):
        if not self.log_headers:
            return None
        lines = []
        for key, value in sorted(env.items()):
            if not key.startswith('HTTP_') or not isinstance(value, str):
                continue
            name = key[5:].replace('_', '-').title()
            lower = name.lower()
            if self.headers_only and lower not in self.headers_only:
                continue
            if lower in SENSITIVE_HEADERS:
                value = self.obscure(value)
            lines.append('%s: %s' % (name, value))
        return '\n'.join(lines) or None

    def log_request(self, env, status, wire_status, bytes_sent, start_time,
                    end_time, first_byte_time, resp_headers):
        method, path = self._path(env)
        forwarded = env.get('HTTP_X_CLUSTER_CLIENT_IP') or (
            env.get('HTTP_X_FORWARDED_FOR', '').split(',')[0].strip())
        remote_addr = env.get('REMOTE_ADDR')
        wsgi_input = env.get('wsgi.input')
        bytes_recvd = getattr(wsgi_input, 'bytes_read', 0)
        policy_index = env.get('swift.backend_storage_policy_index')
        for name, value in resp_headers or ():
            if name.lower() == 'x-backend-storage-policy-index':
                policy_index = value
        try:
            _v, account, container, obj = split_path(
                wsgi_to_str(env['swift.proxy_logging.request'][1]), 1, 4,
                True)
        except (PathError, ValueError):
            account = container = obj = None
        token = env.get('HTTP_X_AUTH_TOKEN') or env.get('HTTP_X_STORAGE_TOKEN')
        request_time = end_time - start_time
        ttfb = (first_byte_time - start_time) if first_byte_time else None
        log_info = env.get('swift.log_info')
        fields = {
            'client_ip': _q(forwarded or remote_addr),
            'remote_addr': _q(remote_addr),
            'method': _q(method),
            'path': path,
            'protocol': _q(env.get('SERVER_PROTOCOL')),
            'status_int': status,
            'wire_status_int': wire_status or '-',
            'referer': _q(env.get('HTTP_REFERER')),
            'user_agent': _q(env.get('HTTP_USER_AGENT')),
            'auth_token': _q(self.obscure(token)),
            'bytes_recvd': bytes_recvd,
            'bytes_sent': bytes_sent,
            'client_etag': _q(env.get('HTTP_ETAG')),
            'transaction_id': _q(env.get('swift.trans_id')),
            'headers': _q(self._headers_field(env)),
            'request_time': '%.4f' % request_time,
            'source': _q(env.get('swift.source')),
            'log_info': _q(','.join(log_info) if log_info else None),
            'start_time': LogTime(start_time),
            'end_time': LogTime(end_time),
            'policy_index': _q(policy_index),
            'account': _q(account),
            'container': _q(container),
            'object': _q(obj),
            'ttfb': '%.4f' % ttfb if ttfb is not None else '-',
            'pid': self.pid,
        }
        self.access_logger.info(self.template.format(**fields))
        if self.statsd is not None:
            self._metrics(method, account, container, obj, status,
                          request_time, ttfb, bytes_recvd + bytes_sent,
                          policy_index)

    def _metrics(self, method, account, container, obj, status,
                 request_time, ttfb, xfer, policy_index):
        if obj:
            kind = 'object'
        elif container:
            kind = 'container'
        elif account:
            kind = 'account'
        else:
            kind = 'UNKNOWN'
        if method not in self.valid_methods:
            method = 'BAD_METHOD'
        base = '%s.%s.%s' % (kind, method, status)
        self.statsd.timing(base + '.timing', request_time * 1000)
        self.statsd.update_stats(base + '.xfer', xfer)
        if ttfb is not None and method == 'GET':
            self.statsd.timing(base + '.first-byte.timing', ttfb * 1000)
        if kind == 'object' and policy_index not in (None, '-'):
            self.statsd.timing('object.policy.%s.%s.%s.timing' % (
                policy_index, method, status), request_time * 1000)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    known = ['access_log_' + k for k in ACCESS_LOG_KEYS] + \
        ['access_log_statsd_' + k for k in STATSD_KEYS] + [
            'access_log_headers', 'access_log_headers_only',
            'reveal_sensitive_prefix', 'log_msg_template',
            'log_statsd_valid_http_methods']
    check_options(SECTION, local_conf, global_conf, known)
    ProxyLoggingMiddleware(None, conf)     # refuse a bad config up front
    register_info('proxy_logging')

    def factory(app):
        return ProxyLoggingMiddleware(app, conf)
    return factory
