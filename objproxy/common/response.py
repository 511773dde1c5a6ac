"""The one way every objproxy server and filter answers a request.

Status lines (with Swift's extra reason phrases), the status-class tests
(``is_success`` and friends), a minimal ``Response`` and the error pages
live here, so the proxy, its filters and the storage nodes all say the
same thing the same way.

Why not webob's Response: the proxy mostly relays a storage node's
status, headers and streamed body, and the object server sits on the hot
path; a tiny class that holds exactly those and hands them to
``start_response`` is cheaper and more predictable (no header
re-computation, no buffering of ``app_iter``).  Requests are still
parsed with webob.
"""
import http
import time

TEXT_PLAIN = 'text/plain; charset=UTF-8'
JSON = 'application/json'

# Swift's phrases where Python's differ (or differ in newer Pythons)
EXTRA_REASONS = {
    413: 'Request Entity Too Large',
    416: 'Requested Range Not Satisfiable',
    500: 'Internal Error',
    422: 'Unprocessable Entity',
    497: 'Blacklisted',
    498: 'Rate Limited',
    499: 'Client Disconnect',
    507: 'Insufficient Storage',
}

ERROR_EXPLANATIONS = {
    400: 'Bad Request',
    401: 'This server could not verify that you are authorized to access '
         'the document you requested.',
    403: 'Access was denied to this resource.',
    404: 'The resource could not be found.',
    405: 'The method is not allowed for this resource.',
    408: 'The server has waited too long for the request to be sent by '
         'the client.',
    409: 'There was a conflict when trying to complete your request.',
    411: 'Length Required',
    412: 'A precondition for this request was not met.',
    413: 'The body of your request was too large for this server.',
    416: 'The Range requested is not available.',
    422: 'Unable to process the contained instructions',
    499: 'The client disconnected during request.',
    500: 'The server has either erred or is incapable of performing the '
         'requested operation.',
    503: 'The server is currently unavailable. Please try again at a '
         'later time.',
    507: 'Insufficient Storage',
}


def is_informational(status):
    return 100 <= status < 200


def is_success(status):
    return 200 <= status < 300


def is_redirection(status):
    return 300 <= status < 400


def is_client_error(status):
    return 400 <= status < 500


def is_server_error(status):
    return 500 <= status < 600


# every phrase looked up once: status lines are built on hot paths
PHRASES = dict((s.value, s.phrase) for s in http.HTTPStatus)
PHRASES.update(EXTRA_REASONS)


def reason(status):
    """The reason phrase Swift sends with ``status``."""
    return PHRASES.get(status, 'Unknown')


STATUS_LINES = dict((code, '%d %s' % (code, phrase))
                    for code, phrase in PHRASES.items())


def status_code(line):
    """The number of a WSGI status line: ``'204 No Content'`` -> 204."""
    return int(line.split(' ', 1)[0])


def status_line(status):
    line = STATUS_LINES.get(status)
    if line is None:
        line = '%d %s' % (status, reason(status))
    return line


class Response(object):
    """Status, header list and body (bytes or an iterable of bytes)."""

    def __init__(self, status=200, headers=None, body=None, app_iter=None,
                 content_type=None):
        self.status = int(status)
        if isinstance(headers, dict):
            headers = list(headers.items())
        self.headers = list(headers or [])
        self.app_iter = app_iter
        if body is not None:
            if isinstance(body, str):
                body = body.encode('utf-8')
            self.app_iter = [body] if body else []
            typed = bool(content_type and body)
            if self.headers:
                drop = ('content-length', 'content-type') if typed else \
                    ('content-length',)
                self.headers = [(k, v) for k, v in self.headers
                                if k.lower() not in drop]
            self.headers.append(('Content-Length', str(len(body))))
            if typed:
                self.headers.append(('Content-Type', content_type))
        elif app_iter is None:
            self.app_iter = []
            if self.get_header('content-length') is None:
                self.set_header('Content-Length', '0')

    @property
    def status_int(self):
        """The status, under the name Swift's ``swift.authorize`` callers
        read it by (a denial is handed from filter to filter)."""
        return self.status

    def get_header(self, name, default=None):
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def set_header(self, name, value):
        self.del_header(name)
        self.headers.append((name, str(value)))

    def del_header(self, name):
        lname = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lname]

    @property
    def body(self):
        """The whole body (only for small, fully built responses)."""
        data = b''.join(self.app_iter)
        self.app_iter = [data]
        return data

    def __call__(self, env, start_response):
        if self.status == 204 and self.get_header('content-length') is None:
            self.headers.append(('Content-Length', '0'))   # as Swift
        start_response(status_line(self.status), self.headers)
        if env.get('REQUEST_METHOD') == 'HEAD':
            close = getattr(self.app_iter, 'close', None)
            if close:
                close()
            return []
        return self.app_iter


def error_response(status, message=None, headers=None):
    """An error page like Swift's: a short HTML body naming the problem."""
    title = reason(status)
    explanation = message or ERROR_EXPLANATIONS.get(status, title)
    body = '<html><h1>%s</h1><p>%s</p></html>' % (title, explanation)
    if status in (204, 304):
        body = ''
    resp = Response(status, headers=headers, body=body,
                    content_type='text/html; charset=UTF-8')
    return resp


def plain_error(status, message, headers=None):
    """A plain-text answer whose body is just the message: Swift's
    400/412-style errors, and short answers such as healthcheck's OK."""
    return Response(status, headers=headers, body=message,
                    content_type=TEXT_PLAIN)


def http_date(ts=None):
    return time.strftime('%a, %d %b %Y %H:%M:%S GMT',
                         time.gmtime(ts if ts is not None else time.time()))
