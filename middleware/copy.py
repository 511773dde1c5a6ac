"""copy: server-side copy as a filter (Swift's ``copy`` middleware).

Why a filter: a copy is a GET of the source and a PUT of the destination.
Made here, both go down the rest of the pipeline as ordinary requests of
the client, so everything right of this filter applies to them unchanged:
slo/dlo join a large object's segments (a copy of a manifest is a plain
object holding its content), symlink follows links, versioning sees a PUT,
clamav sees (and may rescan) the PUT body, and the proxy authorises the
source read with the source container's read ACL and the write with the
destination's write ACL.  The proxy app itself knows nothing of copies
(it answers ``COPY`` with 405, as Swift's proxy does without this filter).

Requests handled (object paths only):

* ``PUT`` with ``X-Copy-From: <container>/<object>`` (URL-quoted, optional
  ``X-Copy-From-Account``) and an empty body (else 400);
* ``COPY`` with ``Destination: <container>/<object>`` (optional
  ``Destination-Account``), rewritten into the PUT above;
* ``OPTIONS``: ``COPY`` is added to ``Allow``.

The source GET carries the client's query string and headers, so
``Range`` and conditional headers apply to the source (a ``206`` copy gets
its own ETag) and ``?multipart-manifest=get`` copies a manifest itself (an
SLO's manifest is uploaded again with ``multipart-manifest=put``, a DLO's
``X-Object-Manifest`` is kept).  The destination gets the source's content
type (unless the request names one), its metadata and other headers with
the request's headers taking precedence; ``X-Fresh-Metadata: true`` keeps
only the source's system metadata.  System metadata (such as clamav's
verdict, ``X-Object-Sysmeta-Av-*``) is carried whenever the source had it;
whoever stands right of this filter decides what to keep.  When the PUT's
body is the source's whole stored content (a ``200``, not a DLO's joined
segments, not a manifest), the source's verdict also goes into the
environ (``COPIED_VERDICT_ENV``, which no client can set), so clamav can
keep it instead of scanning the same bytes again.  The body is streamed
from the source response into the PUT: O(chunk) memory.

A successful copy answers with ``X-Copied-From``, ``X-Copied-From-Account``
and ``X-Copied-From-Last-Modified``.  No options::

    [filter:copy]
    use = egg:objproxy#copy
"""
import io
from urllib.parse import parse_qsl, quote, unquote, urlencode

from objproxy.common import constraints
from objproxy.common.config import check_options, config_true_value
from objproxy.common.logs import get_logger
from objproxy.common.paths import (
    PathError, split_path, str_to_wsgi, validate_name, wsgi_to_str)
from objproxy.common.response import (
    error_response, is_success, plain_error, status_code)
from middleware.clamav_verdict import (
    SYSMETA_PREFIX as VERDICT_SYSMETA_PREFIX)

SECTION = 'filter:copy'
SOURCE = 'SSC'   # swift.source of the subrequests, as Swift names it
USER_META = 'x-object-meta-'
SYSMETA = 'x-object-sysmeta-'
# Source response headers never passed to the destination: the writer
# sets these itself (or they describe the response, not the object).
NOT_COPIED = frozenset((
    'x-static-large-object', 'x-object-manifest', 'etag', 'content-type',
    'content-length', 'transfer-encoding', 'connection', 'content-range',
    'accept-ranges', 'date', 'last-modified', 'x-timestamp',
    'x-put-timestamp', 'x-trans-id', 'x-openstack-request-id',
    'x-manifest-etag', 'x-parts-count', 'x-copied-from',
    'x-copied-from-account', 'x-copied-from-last-modified'))
NOT_COPIED_PREFIXES = ('x-backend-', 'x-object-sysmeta-slo-')
UPDATE_OVERRIDE = 'x-object-sysmeta-container-update-override-'
# The source's verdict headers, when the PUT carries its exact bytes.
COPIED_VERDICT_ENV = 'objproxy.copy.source_verdict'
# Environ keys that belong to the client's request, not a subrequest.
REQUEST_ONLY_ENV = ('swift.proxy_access_log_made', 'HTTP_X_COPY_FROM',
                    'HTTP_X_COPY_FROM_ACCOUNT', 'HTTP_DESTINATION',
                    'HTTP_DESTINATION_ACCOUNT', 'HTTP_TRANSFER_ENCODING',
                    'CONTENT_LENGTH', 'CONTENT_TYPE',
                    # what the client sent, not what a subrequest sends
                    'headers_raw')


class CopyError(ValueError):
    """A malformed copy source or destination; status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_container_object(value, header):
    """``/c/o`` or ``c/o`` (URL-quoted text) -> (container, object)."""
    if not value:
        raise CopyError(412, '%s header is required' % header)
    try:
        text = unquote(value, errors='strict')
    except UnicodeDecodeError:
        raise CopyError(412, 'Invalid UTF8 or contains NULL')
    container, _sep, obj = text.lstrip('/').partition('/')
    if not container or not obj:
        raise CopyError(412, '%s header must be of the form '
                        '<container name>/<object name>' % header)
    try:
        validate_name(container)
        validate_name(obj)
    except PathError as err:
        raise CopyError(412, str(err))
    return container, obj


def parse_account(value, header):
    try:
        account = unquote(value.strip(), errors='strict')
    except UnicodeDecodeError:
        raise CopyError(412, 'Invalid UTF8 or contains NULL')
    if not account or '/' in account or '\x00' in account:
        raise CopyError(412, 'Bad %s header' % header)
    return account


def parse_location(env, header, default_account):
    """(account, container, object) named by a client's ``header``
    (``X-Copy-From`` or ``Destination``) and its ``-Account`` companion.
    WSGI hands raw UTF-8 over as Latin-1 code points: decoded first."""
    key = 'HTTP_' + header.upper().replace('-', '_')
    values = []
    for name in (key, key + '_ACCOUNT'):
        value = env.get(name)
        if value is not None:
            try:
                value = wsgi_to_str(value)
            except PathError:
                raise CopyError(412, 'Invalid UTF8 or contains NULL')
        values.append(value)
    container, obj = parse_container_object(values[0], header)
    account = default_account
    if values[1] is not None:
        account = parse_account(values[1], header + '-Account')
    return account, container, obj


def wsgi_path(version, account, container, obj):
    return str_to_wsgi('/%s/%s/%s/%s' % (version, account, container, obj))


class SourceReader(object):
    """``wsgi.input`` for the destination PUT: reads the source response's
    chunks on demand (holds at most one chunk beyond what was asked)."""

    def __init__(self, app_iter):
        self._iter = iter(app_iter)
        self._buf = b''
        self._done = False

    def _fill(self, size):
        parts = [self._buf]
        have = len(self._buf)
        while not self._done and (size < 0 or have < size):
            try:
                chunk = next(self._iter)
            except StopIteration:
                self._done = True
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf = b''.join(parts)

    def read(self, size=-1):
        if size is None:
            size = -1
        self._fill(size)
        if size < 0:
            data, self._buf = self._buf, b''
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def readline(self, size=-1):
        while b'\n' not in self._buf and not self._done:
            self._fill(len(self._buf) + 1)
        end = self._buf.find(b'\n') + 1 or len(self._buf)
        if 0 <= size < end:
            end = size
        data, self._buf = self._buf[:end], self._buf[end:]
        return data


class ClosingIter(object):
    """The PUT's response body; closing it closes the source too."""

    def __init__(self, body, *closers):
        self._body = body
        self._closers = [getattr(body, 'close', None)] + list(closers)

    def __iter__(self):
        return iter(self._body)

    def close(self):
        closers, self._closers = self._closers, []
        for close in closers:
            if close is not None:
                close()


def call(app, env):
    """Call ``app``; (status line, header list, body iterable)."""
    state = {}

    def start_response(status, headers, exc_info=None):
        state['status'] = status
        state['headers'] = list(headers)
        return lambda data: None

    body = app(env, start_response)
    if 'status' not in state:        # a generator that starts late
        iterator = iter(body)
        first = next(iterator, b'')
        rest = body

        def chained():
            yield first
            for chunk in iterator:
                yield chunk
        body = ClosingIter(chained(), getattr(rest, 'close', None))
    return state['status'], state['headers'], body


def close_body(body):
    close = getattr(body, 'close', None)
    if close is not None:
        close()


class ServerSideCopy(object):
    """The ``copy`` filter."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='copy')

    def __call__(self, env, start_response):
        try:
            version, account, container, obj = split_path(
                wsgi_to_str(env.get('PATH_INFO', '')), 4, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        method = env.get('REQUEST_METHOD')
        if method == 'PUT' and env.get('HTTP_X_COPY_FROM'):
            return self.handle_put(env, start_response, version, account)
        if method == 'COPY':
            return self.handle_copy(env, start_response, version, account,
                                    container, obj)
        if method == 'OPTIONS':
            return self.app(env, allow_copy(start_response))
        return self.app(env, start_response)

    def handle_copy(self, env, start_response, version, account,
                    container, obj):
        """COPY becomes the PUT with X-Copy-From it stands for."""
        if not env.get('HTTP_DESTINATION'):
            return plain_error(412, 'Destination header required')(
                env, start_response)
        try:
            dest = parse_location(env, 'Destination', account)
        except CopyError as err:
            return plain_error(err.status, err.message)(env, start_response)
        put_env = dict(env)
        for key in ('HTTP_DESTINATION', 'HTTP_DESTINATION_ACCOUNT',
                    'HTTP_X_COPY_FROM_ACCOUNT'):
            put_env.pop(key, None)
        put_env.update({
            'REQUEST_METHOD': 'PUT',
            'PATH_INFO': wsgi_path(version, *dest),
            'CONTENT_LENGTH': '0',
            'HTTP_X_COPY_FROM': quote('/%s/%s' % (container, obj)),
            'swift.orig_req_method': 'COPY',
        })
        put_env.pop('HTTP_TRANSFER_ENCODING', None)
        if 'HTTP_DESTINATION_ACCOUNT' in env:
            put_env['HTTP_X_COPY_FROM_ACCOUNT'] = quote(account)
        return self.handle_put(put_env, start_response, version, dest[0])

    def handle_put(self, env, start_response, version, account):
        if env.get('CONTENT_LENGTH') not in (None, '', '0') or \
                'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower():
            return plain_error(400, 'Copy requests require a zero byte '
                               'body')(env, start_response)
        try:
            src = parse_location(env, 'X-Copy-From', account)
        except CopyError as err:
            return plain_error(err.status, err.message)(env, start_response)
        query = parse_qsl(env.get('QUERY_STRING', ''),
                          keep_blank_values=True)
        manifest_get = ('multipart-manifest', 'get') in query
        status, headers, body = call(self.app, self.source_env(
            env, wsgi_path(version, *src), query, manifest_get))
        if not is_success(status_code(status)):
            start_response(status, headers)
            return body
        src_headers = dict((k.lower(), v) for k, v in headers)
        length = src_headers.get('content-length', '')
        if not length.isdigit() or \
                int(length) > constraints.LIMITS['max_file_size']:
            # no length: a body we cannot stream into a PUT (Swift's 413)
            close_body(body)
            return error_response(413)(env, start_response)
        reader = SourceReader(body)
        put_env = self.sink_env(env, status, src_headers, query,
                                manifest_get, reader, length)
        copied = copied_from_headers(src, src_headers, put_env)
        self.logger.debug('copy %s to %s (txn %s)', '/'.join(src),
                          wsgi_to_str(env['PATH_INFO']),
                          env.get('swift.trans_id', '-'))

        def put_start_response(status, put_headers, exc_info=None):
            if is_success(status_code(status)):
                put_headers = list(put_headers) + copied
            if exc_info is not None:
                return start_response(status, put_headers, exc_info)
            return start_response(status, put_headers)
        try:
            answer = self.app(put_env, put_start_response)
        except BaseException:
            close_body(body)
            raise
        return ClosingIter(answer, lambda: close_body(body))

    @staticmethod
    def source_env(env, path, query, manifest_get):
        """The source GET: the client's request (identity, query, Range and
        conditional headers) aimed at the source."""
        get_env = dict((k, v) for k, v in env.items()
                       if k not in REQUEST_ONLY_ENV)
        if manifest_get and ('format', 'raw') not in query:
            query = [(k, v) for k, v in query if k != 'format'] + [
                ('format', 'raw')]
        get_env.update({
            'REQUEST_METHOD': 'GET',
            'PATH_INFO': path,
            'QUERY_STRING': urlencode(query),
            'CONTENT_LENGTH': '0',
            'HTTP_X_NEWEST': 'true',
            'wsgi.input': io.BytesIO(b''),
            'swift.source': SOURCE,
        })
        return get_env

    @staticmethod
    def sink_env(env, status, src_headers, query, manifest_get, reader,
                 length):
        """The destination PUT: the source's headers, overridden by the
        client's, with the source's body as input."""
        put_env = dict((k, v) for k, v in env.items()
                       if k not in REQUEST_ONLY_ENV)
        # with X-Fresh-Metadata only system metadata survives
        fresh = config_true_value(env.get('HTTP_X_FRESH_METADATA'))
        removed = set('HTTP_X_' + k[len('HTTP_X_REMOVE_'):] for k in env
                      if k.startswith('HTTP_X_REMOVE_OBJECT_META_'))
        for name, value in src_headers.items():
            if name in NOT_COPIED or name.startswith(NOT_COPIED_PREFIXES):
                continue
            if fresh and not name.startswith(SYSMETA):
                continue
            key = 'HTTP_' + name.upper().replace('-', '_')
            if key not in env and key not in removed:
                put_env[key] = value
        for key in [k for k in put_env if k.startswith(
                ('HTTP_X_OBJECT_META_', 'HTTP_X_REMOVE_OBJECT_META_'))]:
            if key.startswith('HTTP_X_REMOVE_') or put_env[key] == '':
                del put_env[key]     # empty means "remove", as on POST
        query = [(k, v) for k, v in query if k != 'version-id']
        if manifest_get:
            if config_true_value(src_headers.get('x-static-large-object')):
                query = [(k, 'put' if k == 'multipart-manifest' else v)
                         for k, v in query]
            elif 'x-object-manifest' in src_headers:
                query = [(k, v) for k, v in query
                         if k != 'multipart-manifest']
                put_env['HTTP_X_OBJECT_MANIFEST'] = \
                    src_headers['x-object-manifest']
        if status_code(status) == 200 and \
                'x-static-large-object' not in src_headers and (
                    'x-object-manifest' not in src_headers or manifest_get):
            # the copy is verified against the source's ETag, unless the
            # body is not the stored one (a range, a large object's
            # content)
            put_env['HTTP_ETAG'] = src_headers.get('etag', '').strip('"')
            if not put_env['HTTP_ETAG']:
                del put_env['HTTP_ETAG']
        else:
            for key in [k for k in put_env if k.startswith('HTTP_') and
                        k[5:].lower().replace('_', '-').startswith(
                            UPDATE_OVERRIDE)]:
                del put_env[key]
        if carries_whole_source(status, src_headers, manifest_get):
            put_env[COPIED_VERDICT_ENV] = dict(
                (name, value) for name, value in src_headers.items()
                if name.startswith(VERDICT_SYSMETA_PREFIX))
        if client_sent_content_type(env):
            put_env['CONTENT_TYPE'] = env['CONTENT_TYPE']
        elif src_headers.get('content-type'):
            put_env['CONTENT_TYPE'] = src_headers['content-type']
        put_env.update({
            'REQUEST_METHOD': 'PUT',
            'QUERY_STRING': urlencode(query),
            'CONTENT_LENGTH': length,
            'wsgi.input': reader,
            'swift.source': SOURCE,
        })
        return put_env


def carries_whole_source(status, src_headers, manifest_get):
    """Whether the PUT's body is the bytes the source's verdict judged:
    not a range, not a DLO's segments joined on the fly (the manifest's
    verdict is about its own empty body), not a manifest (clamav judges
    a manifest PUT by its segments)."""
    if status_code(status) != 200:
        return False
    if manifest_get:
        return False
    return 'x-object-manifest' not in src_headers


def client_sent_content_type(env):
    """Whether the client named a content type (eventlet invents
    ``text/plain`` when it did not; ``headers_raw`` tells the truth)."""
    if not env.get('CONTENT_TYPE'):
        return False
    raw = env.get('headers_raw')
    return raw is None or any(k.lower() == 'content-type' for k, _v in raw)


def copied_from_headers(src, src_headers, put_env):
    """Headers of a successful copy's answer: where it came from, and the
    destination's user metadata and expiry."""
    account, container, obj = src
    out = [('X-Copied-From', quote('%s/%s' % (container, obj))),
           ('X-Copied-From-Account', quote(account))]
    if src_headers.get('last-modified'):
        out.append(('X-Copied-From-Last-Modified',
                    src_headers['last-modified']))
    for key, value in put_env.items():
        name = key[5:].lower().replace('_', '-')
        if key.startswith('HTTP_') and (
                name.startswith(USER_META) or name == 'x-delete-at'):
            out.append((name.title(), value))
    return out


def allow_copy(start_response):
    """OPTIONS of an object: COPY is allowed too (this filter answers it)."""
    def start(status, headers, exc_info=None):
        if is_success(status_code(status)):
            headers = [(k, add_method(v)) if k.lower() in (
                'allow', 'access-control-allow-methods') else (k, v)
                for k, v in headers]
        if exc_info is not None:
            return start_response(status, headers, exc_info)
        return start_response(status, headers)
    return start


def add_method(value):
    methods = [m.strip() for m in value.split(',') if m.strip()]
    if 'COPY' not in methods:
        methods.append('COPY')
    return ', '.join(methods)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, ())

    def factory(app):
        return ServerSideCopy(app, conf)
    return factory
