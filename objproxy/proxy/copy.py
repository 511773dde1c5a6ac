"""Server-side copy: ``PUT`` with ``X-Copy-From`` and ``COPY`` with
``Destination``.

The source is read through the normal (resumable) GET path and streamed
straight into a normal PUT, so a copy costs O(chunk) memory.  Metadata
follows Swift: the source's user metadata, content type, encoding,
disposition and ``X-Delete-At`` carry over, the copy request's own headers
override them, and ``X-Fresh-Metadata: true`` drops the source's user
metadata.
"""
from urllib.parse import unquote

from objproxy.common.paths import PathError, validate_name, wsgi_to_str

COPIED_FROM_SOURCE = ('content-type', 'content-encoding',
                      'content-disposition', 'x-delete-at',
                      'x-object-manifest', 'x-static-large-object')
USER_META = 'x-object-meta-'
SYSMETA = ('x-object-sysmeta-', 'x-object-transient-sysmeta-')


class CopyError(ValueError):
    """A malformed copy source or destination; status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_container_object(value, header):
    """``/c/o`` or ``c/o`` (URL-quoted) -> (container, object)."""
    if value is None:
        raise CopyError(412, '%s header is required' % header)
    try:
        text = unquote(value, errors='strict')
    except UnicodeDecodeError:
        raise CopyError(412, 'Invalid UTF8 or contains NULL')
    text = text.lstrip('/')
    if '/' not in text:
        raise CopyError(412, '%s header must be of the form '
                        '<container name>/<object name>' % header)
    container, obj = text.split('/', 1)
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


def parse_location(headers, header, account_header, default_account):
    """(account, container, object) named by ``header`` (``c/o``) and, when
    present, ``account_header``; ``headers`` is any mapping with ``get``."""
    container, obj = parse_container_object(headers.get(header), header)
    account = default_account
    if headers.get(account_header) is not None:
        account = parse_account(headers[account_header], account_header)
    return account, container, obj


def parse_client_location(headers, header, account_header,
                          default_account):
    """``parse_location`` for headers as a client sent them: WSGI hands
    over raw UTF-8 as Latin-1 code points, so names are decoded first."""
    text = {}
    for key in (header, account_header):
        value = headers.get(key)
        if value is not None:
            try:
                text[key] = wsgi_to_str(value)
            except PathError:
                raise CopyError(412, 'Invalid UTF8 or contains NULL')
    return parse_location(text, header, account_header, default_account)


def copy_metadata(source_headers, request_headers):
    """Headers for the destination PUT.

    ``source_headers`` are the source GET's (lower-case keys);
    ``request_headers`` the client's copy request (any case).
    """
    fresh = str(request_headers.get('X-Fresh-Metadata', '')).lower() in (
        'true', '1', 'yes', 'on', 't', 'y')
    dest = {}
    for key, value in source_headers.items():
        lkey = key.lower()
        if lkey.startswith(USER_META):
            if not fresh:
                dest[lkey] = value
        elif lkey.startswith(SYSMETA) or lkey in COPIED_FROM_SOURCE:
            dest[lkey] = value
    for key, value in request_headers.items():
        lkey = key.lower()
        if lkey.startswith(USER_META) or lkey in COPIED_FROM_SOURCE or \
                lkey.startswith('x-object-transient-sysmeta-'):
            dest[lkey] = value
        elif lkey.startswith('x-remove-object-meta-'):
            dest.pop(USER_META + lkey[len('x-remove-object-meta-'):], None)
    # empty values mean "remove", as on POST
    return dict((k, v) for k, v in dest.items()
                if v != '' or not k.startswith(USER_META))


class BodyReader(object):
    """File-like ``read(n)`` over a response's chunk iterator."""

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
                continue
        if size < 0:
            data, self._buf = self._buf, b''
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def close(self):
        close = getattr(self._app_iter, 'close', None)
        if close:
            close()
