"""formpost: Swift's HTML form uploads straight into a container.

Why: a web page can let browsers upload files into a container without
handing them a token -- the page's owner signs the form's limits with a
``Temp-URL-Key`` (the same keys and signature forms as tempurl).

A ``POST`` with ``Content-Type: multipart/form-data; boundary=...`` to
``/v1/<account>/<container>[/<prefix>]`` is a form.  Fields, in the order
they come: ``redirect``, ``max_file_size``, ``max_file_count``,
``expires`` (unix time), ``signature`` (hex HMAC, or ``<alg>:<base64>``,
of ``<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n<expires>``),
optionally ``x_delete_at`` / ``x_delete_after``, ``content-type`` and
``content-encoding``.  Every file part becomes an object PUT to
``<path>/<filename>`` (the path is a prefix when it names more than a
container), checked against the fields seen before it.

Each file streams: the multipart reader (``middleware.formpost_multipart``)
hands the PUT subrequest a file-like view of the part, capped at
``max_file_size``, and the subrequest goes down the rest of the pipeline
-- so the clamav filter scans each file as it flows, and an infected or
oversized file is aborted before any storage node commits it.

Answers, as Swift: without ``redirect``, the status of the last PUT and a
``text/plain`` body (``201 Created``, or ``400 Bad Request\\r\\nFormPost:
Max File Count Exceeded`` ...); with ``redirect``, ``303 See Other`` to
``<redirect>?status=<code>&message=<text>``.  Bad signature / expired
form: ``401`` ``FormPost: Invalid Signature`` / ``FormPost: Form
Expired``; bad numbers or a bad boundary: ``400 FormPost: ...``; a file
over ``max_file_size``: ``400 FormPost: max_file_size exceeded``.  Unlike
Swift, when a file's PUT fails (e.g. 403 from the virus scanner), the
message names the file: ``<filename>: <the PUT's answer>``.  Files before
a failed one stay stored.

Config (defaults shown)::

    [filter:formpost]
    use = egg:objproxy#formpost
    # allowed_digests = sha1 sha256 sha512   (sha1: deprecated, warned)
"""
import time
from urllib.parse import quote

from middleware import signed_urls
from middleware.formpost_multipart import (
    FormTruncated, MimeInvalid, MultipartReader, parse_header_params)
from objproxy.common.config import check_options
from objproxy.common.exceptions import InputRejected
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, str_to_wsgi, wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.response import (
    Response, is_success, status_code, status_line)

SECTION = 'filter:formpost'
#: Longest kept value of a non-file field; the rest is read and dropped.
MAX_VALUE_LENGTH = 4096
#: Most bytes of a failed PUT's answer quoted back to the client.
MAX_SUB_BODY = 4096
API_VERSIONS = ('v1', 'v1.0')
#: Environ keys a file's PUT takes from the form's request.
INHERITED_ENV = (
    'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'HTTP_HOST',
    'HTTP_USER_AGENT', 'HTTP_REFERER', 'HTTP_ORIGIN', 'REMOTE_ADDR',
    'HTTP_X_TRANS_ID_EXTRA', 'swift.trans_id', 'swift.cache',
    'swift.infocache', 'wsgi.version', 'wsgi.url_scheme', 'wsgi.errors',
    'wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once',
)


class FormInvalid(Exception):
    """400: the form's fields are malformed."""


class FormUnauthorized(Exception):
    """401: bad signature or expired form."""


class FileTooLarge(Exception):
    """400: a file exceeded max_file_size."""


class CappedPart(object):
    """A file part as a PUT body: stops the upload past ``max_file_size``
    or when the form is cut short, by raising InputRejected (the proxy
    then drops the upload uncommitted)."""

    def __init__(self, part, max_file_size):
        self.part = part
        self.max_file_size = max_file_size
        self.received = 0
        self.too_large = False
        self.truncated = False

    def read(self, size=-1):
        try:
            data = self.part.read(size)
        except FormTruncated:
            self.truncated = True
            raise InputRejected(status_line(400),
                                b'FormPost: form ended inside a file')
        self.received += len(data)
        if self.received > self.max_file_size:
            self.too_large = True
            raise InputRejected(status_line(400),
                                b'FormPost: max_file_size exceeded')
        return data

    def readline(self, size=-1):
        return self.read(size)


def _respond(start_response, status, body, content_type='text/plain',
             headers=()):
    """A whole answer; ``status`` is a status line, as the PUTs give."""
    out = list(headers) + [('Content-Type', content_type)]
    return Response(status_code(status), headers=out, body=body)(
        {}, start_response)


def _int_field(attributes, name, error):
    try:
        return int(attributes.get(name) or 0)
    except ValueError:
        raise FormInvalid(error)


class FormPost(object):
    """The formpost filter; see the module docstring."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='formpost')
        self.allowed_digests = signed_urls.allowed_digests(conf, SECTION)[0]

    def __call__(self, env, start_response):
        if env.get('REQUEST_METHOD') != 'POST':
            return self.app(env, start_response)
        kind, params = parse_header_params(env.get('CONTENT_TYPE') or '')
        if kind != 'multipart/form-data' or not params.get('boundary'):
            return self.app(env, start_response)
        env['HTTP_USER_AGENT'] = ('%s FormPost' % env.get(
            'HTTP_USER_AGENT', '')).strip()
        try:
            status, headers, body = self.translate(env, params['boundary'])
        except MimeInvalid:
            return _respond(start_response, status_line(400),
                            b'FormPost: invalid starting boundary')
        except (FormInvalid, FileTooLarge, FormTruncated) as err:
            return _respond(start_response, status_line(400),
                            ('FormPost: %s' % err).encode('utf-8'))
        except FormUnauthorized as err:
            return _respond(start_response, status_line(401),
                            ('FormPost: %s' % str(err).title()).encode(
                                'utf-8'), 'text/html; charset=UTF-8')
        return _respond(start_response, status, body, headers=headers)

    # -- the form --------------------------------------------------------
    def translate(self, env, boundary):
        """Store the form's files; ``(status, headers, body)``."""
        keys = self.keys(env)
        try:
            boundary = boundary.encode('latin-1')
        except UnicodeEncodeError:
            raise MimeInvalid('boundary')
        reader = MultipartReader(env['wsgi.input'], boundary)
        attributes = {}
        status = message = ''
        quoted = False          # message names a file: no title-casing
        sub_headers = []
        sub_body = b''
        file_count = 0
        for part in reader.parts():
            try:
                headers = part.headers()
            except ValueError as err:
                raise FormInvalid(str(err))
            disposition, attrs = parse_header_params(
                headers.get('content-disposition', ''))
            if disposition == 'form-data' and attrs.get('filename'):
                file_count += 1
                limit = _int_field(attributes, 'max_file_count',
                                   'max_file_count not an integer')
                if file_count > limit:
                    status = status_line(400)
                    message = 'max file count exceeded'
                    break
                file_attributes = dict(attributes)
                file_attributes['filename'] = attrs['filename']
                if 'content-type' not in attributes and \
                        'content-type' in headers:
                    file_attributes['content-type'] = \
                        headers['content-type'] or 'application/octet-stream'
                if 'content-encoding' not in attributes and \
                        'content-encoding' in headers:
                    file_attributes['content-encoding'] = \
                        headers['content-encoding']
                status, sub_headers, sub_body = self.put_file(
                    env, file_attributes, part, keys)
                if not is_success(status_code(status)):
                    detail = sub_body.decode('utf-8', 'replace').strip()
                    message = '%s: %s' % (attrs['filename'],
                                          detail or status)
                    quoted = True
                    break
            else:
                value = self.field_value(part)
                if 'name' in attrs:
                    attributes[attrs['name'].lower()] = value
        if not status:
            status = status_line(400)
            message = 'no files to process'
        return self.answer(attributes, status, message, quoted, sub_headers)

    @staticmethod
    def field_value(part):
        data = b''
        while len(data) < MAX_VALUE_LENGTH:
            chunk = part.read(MAX_VALUE_LENGTH - len(data))
            if not chunk:
                break
            data += chunk
        part.drain()
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError:
            raise FormInvalid('form fields must be UTF-8')
        # Swift's rule: trailing CR, LF and dashes are not part of a value
        return text.rstrip('\r\n-')

    @staticmethod
    def answer(attributes, status, message, quoted, sub_headers):
        code = status_code(status)
        headers = [(name, value) for name, value in sub_headers
                   if name.lower().startswith('access-control')]
        redirect = attributes.get('redirect')
        if not redirect:
            body = status
            if message:
                # Swift title-cases its own messages; a file's name and
                # the PUT's answer are quoted as they are
                shown = message if quoted else message.title()
                body = '%s\r\nFormPost: %s' % (status, shown)
            return status, headers, body.encode('utf-8')
        redirect += '&' if '?' in redirect else '?'
        redirect += 'status=%s&message=%s' % (quote(str(code)),
                                              quote(message))
        body = ('<html><body><p><a href="%s">Click to continue...</a></p>'
                '</body></html>' % redirect).encode('utf-8')
        headers.append(('Location', redirect))
        return status_line(303), headers, body

    # -- one file --------------------------------------------------------
    def check_signature(self, env, attributes, keys):
        if not keys:
            raise FormUnauthorized('invalid signature')
        try:
            if int(attributes.get('expires') or 0) < time.time():
                raise FormUnauthorized('form expired')
        except ValueError:
            raise FormInvalid('expired not an integer')
        try:
            path = wsgi_to_str(env['PATH_INFO'])
        except PathError:
            raise FormUnauthorized('invalid signature')
        message = '%s\n%s\n%s\n%s\n%s' % (
            path, attributes.get('redirect') or '',
            attributes.get('max_file_size') or '0',
            attributes.get('max_file_count') or '0',
            attributes.get('expires') or '0')
        try:
            algorithm, given = signed_urls.parse_signature(
                attributes.get('signature', ''))
        except ValueError:
            raise FormUnauthorized('invalid signature')
        if algorithm not in self.allowed_digests:
            raise FormUnauthorized('invalid signature')
        valid = False
        for key in keys:
            if signed_urls.same_digest(
                    signed_urls.sign(key, message, algorithm), given):
                valid = True
        if not valid:
            raise FormUnauthorized('invalid signature')
        return algorithm

    def put_file(self, env, attributes, part, keys):
        """PUT one file part; ``(status, headers, body)`` of the PUT."""
        if not keys:
            raise FormUnauthorized('invalid signature')
        max_file_size = _int_field(attributes, 'max_file_size',
                                   'max_file_size not an integer')
        sub = dict((key, env[key]) for key in INHERITED_ENV if key in env)
        path = env['PATH_INFO']
        if not path.endswith('/') and path.count('/') < 4:
            path += '/'
        sub.update({
            'REQUEST_METHOD': 'PUT', 'SCRIPT_NAME': '',
            'PATH_INFO': path + str_to_wsgi(attributes['filename']),
            'QUERY_STRING': '', 'HTTP_TRANSFER_ENCODING': 'chunked',
            'swift.source': 'FP', 'swift.authorize': lambda req: None,
            'swift.authorize_override': True,
            'REMOTE_USER': '.wsgi.formpost',
        })
        for field, header, what in (
                ('x_delete_at', 'HTTP_X_DELETE_AT',
                 'x_delete_at not an integer: Unix timestamp required.'),
                ('x_delete_after', 'HTTP_X_DELETE_AFTER',
                 'x_delete_after not an integer: Number of seconds '
                 'required.')):
            if field in attributes:
                try:
                    sub[header] = str(int(attributes[field]))
                except ValueError:
                    raise FormInvalid(what)
        if 'content-type' in attributes:
            sub['CONTENT_TYPE'] = attributes['content-type'] or \
                'application/octet-stream'
        if 'content-encoding' in attributes:
            sub['HTTP_CONTENT_ENCODING'] = attributes['content-encoding']
        algorithm = self.check_signature(env, attributes, keys)
        body = CappedPart(part, max_file_size)
        sub['wsgi.input'] = body
        status, headers, answer = self.call(sub)
        if body.too_large:
            raise FileTooLarge('max_file_size exceeded')
        if body.truncated:
            raise FormTruncated('form ended inside a file')
        self.logger.debug('formpost: %s %s -> %s (%s)', attributes[
            'filename'], sub['PATH_INFO'], status, algorithm)
        return status, headers, answer

    def call(self, sub):
        """Run the PUT down the pipeline; its answer (body capped)."""
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured['status'] = status
            captured['headers'] = list(headers)

        try:
            app_iter = self.app(sub, start_response)
        except InputRejected as rejected:
            # no filter between us and the proxy turned it into an answer
            return (rejected.status, list(rejected.headers.items()),
                    rejected.body[:MAX_SUB_BODY])
        body = b''
        try:
            for chunk in app_iter:
                if len(body) < MAX_SUB_BODY:
                    body += chunk[:MAX_SUB_BODY - len(body)]
        finally:
            close = getattr(app_iter, 'close', None)
            if close:
                close()
        return captured.get('status', status_line(500)), \
            captured.get('headers', []), body

    def keys(self, env):
        """The account's and container's Temp-URL keys, if the path names
        a container (Swift: no keys otherwise, so every file fails)."""
        parts = env.get('PATH_INFO', '').split('/', 4)
        if len(parts) < 4 or parts[0] or parts[1] not in API_VERSIONS or \
                not parts[2] or not parts[3]:
            return []
        try:
            account, container = wsgi_to_str(parts[2]), wsgi_to_str(parts[3])
        except PathError:
            return []
        return [key for key, _scope in
                signed_urls.scoped_keys(env, self.app, account, container)]


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, ('allowed_digests',))
    logger = get_logger(conf, 'proxy-server', log_route='formpost')
    allowed, deprecated = signed_urls.allowed_digests(conf, SECTION, logger)
    info = {'allowed_digests': allowed}
    if deprecated:
        info['deprecated_digests'] = deprecated
    register_info('formpost', **info)

    def factory(app):
        return FormPost(app, conf, logger)
    return factory
