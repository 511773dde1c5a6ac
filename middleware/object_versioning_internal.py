"""object_versioning: the subrequests it sends down the pipeline.

Why a module of its own: every write and read of versioning state is a
subrequest built from the client's environ (same token, transaction id
and caches, ``swift.source`` ``OV``) and sent to the filters on our right
(symlink, then the proxy).  Reads and writes the client did not ask for
(copying the current object aside, delete markers, the hidden container)
are pre-authorised -- the client's own request was authorised for the
object -- and those naming the hidden container carry
``X-Backend-Allow-Reserved-Names``.  Bodies stream: a copy's PUT reads
the GET's body chunk by chunk.
"""
from urllib.parse import urlencode, quote as _quote

from webob import Request

from middleware.large_objects import SUBREQUEST_ENV_KEYS
from middleware.object_versioning_names import ALLOW_RESERVED
from objproxy.common.paths import str_to_wsgi
from objproxy.common.response import Response, is_client_error, is_success

SOURCE = 'OV'


class VersioningError(Exception):
    """Stop handling the request and answer the client with this."""

    def __init__(self, status, body=b'', headers=None,
                 content_type='text/plain; charset=UTF-8'):
        super().__init__(status)
        if isinstance(body, str):
            body = body.encode('utf-8')
        self.response = Response(status, body=body,
                                 headers=[('Content-Type', content_type)])
        for key, value in (headers or {}).items():
            self.response.set_header(key, value)


def make_env(env, method, path, query=None, headers=None, body=None,
             preauth=False, reserved=False):
    """A subrequest environ; ``path`` is real text (``/v1/a/c/o``)."""
    new = dict((key, env[key]) for key in SUBREQUEST_ENV_KEYS if key in env)
    new.update({
        'REQUEST_METHOD': method, 'SCRIPT_NAME': '',
        'PATH_INFO': str_to_wsgi(path),
        'QUERY_STRING': urlencode(query or {}, quote_via=_quote),
        'swift.source': SOURCE,
    })
    if preauth:
        new['swift.authorize'] = lambda req: None
        new['swift.authorize_override'] = True
    req = Request(new)
    for key, value in (headers or {}).items():
        if value is not None:
            req.headers[key] = value
    if reserved:
        req.headers[ALLOW_RESERVED] = 'true'
    if body is None:
        req.body = b''
    else:
        req.environ['wsgi.input'] = body
        # a chunked body (no Content-Length) is still a body to read
        req.environ['webob.is_body_readable'] = True
    return req


def call(app, req):
    """The app's Response (body not yet read: stream or ``drain`` it)."""
    return req.get_response(app)


def drain(resp):
    """Read and close a body we do not need (small: errors, empty)."""
    try:
        for _chunk in resp.app_iter:
            pass
    finally:
        close = getattr(resp.app_iter, 'close', None)
        if close is not None:
            close()


def check(resp, not_found_status=412):
    """Raise the client's answer for a failed versioning subrequest: a
    client error passes through (a 404 becomes ``not_found_status``), a
    server error is a 503 (the data could not be versioned)."""
    if is_success(resp.status_int):
        return
    body = resp.body
    if resp.status_int == 404:
        raise VersioningError(not_found_status)
    if is_client_error(resp.status_int):
        raise VersioningError(resp.status_int, body,
                              content_type=resp.content_type or
                              'text/plain; charset=UTF-8')
    raise VersioningError(503)


class IterReader(object):
    """A file-like ``read(size)`` over a response body iterator, so a
    version copy streams the source's chunks into the PUT."""

    def __init__(self, app_iter):
        self._iter = iter(app_iter)
        self._app_iter = app_iter
        self._buf = b''

    def read(self, size=-1):
        while size < 0 or len(self._buf) < size:
            try:
                chunk = next(self._iter)
            except StopIteration:
                break
            self._buf += chunk
        if size < 0:
            out, self._buf = self._buf, b''
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def close(self):
        close = getattr(self._app_iter, 'close', None)
        if close is not None:
            close()


class CountingReader(object):
    """Counts the bytes of the client's body as the PUT reads them (a
    chunked upload has no Content-Length to tell its size)."""

    def __init__(self, wsgi_input):
        self.wsgi_input = wsgi_input
        self.bytes_read = 0

    def read(self, *args):
        chunk = self.wsgi_input.read(*args)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, *args):
        line = self.wsgi_input.readline(*args)
        self.bytes_read += len(line)
        return line
