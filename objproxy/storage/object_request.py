"""Reading object-server requests: paths, headers, metadata, timestamps.

Why it is its own module: every handler starts by turning raw WSGI
environ values into checked Python values, and every bad value must
become a clear 4xx (``HTTPError``) rather than a 500; keeping those
checks together keeps the handlers about what they do with the object.
"""
import time

from objproxy.common.config import config_true_value
from objproxy.common.constraints import (
    LIMITS, check_metadata, name_too_long)
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.timestamp import Timestamp
from objproxy.storage.devices import (
    InvalidPath, check_partition, validate_device)
from objproxy.storage.object_updates import parse_update_targets
from objproxy.storage.suffix_hashes import _is_suffix

# Stored with the object besides user/system metadata (Swift's list).
ALLOWED_HEADERS = ('content-disposition', 'content-encoding', 'x-delete-at',
                   'x-object-manifest', 'x-static-large-object',
                   'cache-control', 'content-language', 'expires',
                   'x-robots-tag')
META_PREFIXES = ('x-object-meta-', 'x-object-sysmeta-',
                 'x-object-transient-sysmeta-')
POST_PREFIXES = ('x-object-meta-', 'x-object-transient-sysmeta-')


class HTTPError(Exception):
    """A response (status, plain-text body, extra headers) to send instead
    of whatever the handler was doing; the server's dispatcher sends it."""

    def __init__(self, status, body='', headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []


def header_title(env_key):
    """HTTP_X_OBJECT_META_FOO_BAR -> X-Object-Meta-Foo-Bar."""
    return '-'.join(p.capitalize() for p in env_key[5:].split('_'))


def request_metadata(env, prefixes, allowed):
    meta = {}
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        name = header_title(key)
        lname = name.lower()
        if lname.startswith(prefixes) or lname in allowed:
            meta[name] = value
    if 'CONTENT_TYPE' in env and 'content-type' in allowed:
        meta['Content-Type'] = env['CONTENT_TYPE']
    return meta


def is_replication(env):
    return config_true_value(env.get('HTTP_X_BACKEND_REPLICATION'))


def require_timestamp(env):
    value = env.get('HTTP_X_TIMESTAMP')
    if value is None:
        raise HTTPError(400, 'Missing X-Timestamp header')
    try:
        return Timestamp(value.strip())
    except (ValueError, TypeError, OverflowError):
        raise HTTPError(400, 'Invalid X-Timestamp header %r' % value)


def check_delete_at(env, replication):
    value = env.get('HTTP_X_DELETE_AT')
    if value is None:
        return
    try:
        when = int(value)
    except ValueError:
        raise HTTPError(400, 'Non-integer X-Delete-At')
    if not replication and when < time.time():
        raise HTTPError(400, 'X-Delete-At in past')


def _device_and_partition(part, device, devices, mount_check):
    try:
        partition = check_partition(part)
        device_path = validate_device(devices, device, mount_check)
    except InvalidPath as err:
        raise HTTPError(400, str(err))
    return device_path, partition


def object_path(env, devices, mount_check):
    """(device_path, partition, account, container, obj) or 4xx/507."""
    try:
        path = wsgi_to_str(env.get('PATH_INFO', ''))
        # only the proxy talks to nodes: reserved names are allowed
        device, part, account, container, obj = split_path(
            path, 5, 5, True, allow_reserved=True)
    except PathError as err:
        raise HTTPError(400, str(err))
    device_path, partition = _device_and_partition(part, device, devices,
                                                   mount_check)
    too_long = (name_too_long('Object', obj) or
                name_too_long('Container', container) or
                name_too_long('Account', account))
    if too_long:
        raise HTTPError(400, too_long)
    return device_path, partition, account, container, obj


def replicate_path(env, devices, mount_check):
    """(device_path, partition, suffixes to recalculate) or 4xx/507."""
    try:
        path = wsgi_to_str(env.get('PATH_INFO', ''))
        device, part, suffixes = split_path(path, 2, 3)
    except PathError as err:
        raise HTTPError(400, str(err))
    device_path, partition = _device_and_partition(part, device, devices,
                                                   mount_check)
    recalculate = suffixes.split('-') if suffixes else []
    for suffix in recalculate:
        if not _is_suffix(suffix):
            raise HTTPError(400, 'Invalid suffix %r' % suffix)
    return device_path, partition, recalculate


def content_length(env):
    """A PUT's declared body size: an int, or None when chunked."""
    chunked = 'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower()
    clen = env.get('CONTENT_LENGTH')
    if clen not in (None, '') and not chunked:
        try:
            length = int(clen)
            if length < 0:
                raise ValueError
        except ValueError:
            raise HTTPError(400, 'Invalid Content-Length')
    elif chunked:
        length = None
    else:
        raise HTTPError(411, 'Missing Content-Length')
    if length is not None and length > LIMITS['max_file_size']:
        raise HTTPError(413, 'Your request is too large.')
    return length


def check_user_metadata(env):
    """400 unless the X-Object-Meta-* headers are within Swift's limits."""
    headers_view = dict((header_title(k), v) for k, v in env.items()
                        if k.startswith('HTTP_X_OBJECT_META_'))
    error = check_metadata(headers_view, 'object')
    if error:
        raise HTTPError(400, error)


def update_targets(env):
    """(container update targets, container partition) or 400."""
    try:
        return parse_update_targets(env)
    except ValueError as err:
        raise HTTPError(400, str(err))


STORED_OVERRIDE = 'x-object-sysmeta-container-update-override-'
REQUEST_OVERRIDE = 'HTTP_X_BACKEND_CONTAINER_UPDATE_OVERRIDE_'


def update_overrides(env, update, stored=None):
    """Apply container-update overrides to a container update.

    ``X-Object-Sysmeta-Container-Update-Override-*`` is stored with the
    object (a filter such as slo sets it so listings show the SLO's ETag);
    ``X-Backend-Container-Update-Override-*`` is for this request only and
    wins over it, as in Swift.  The stored ones come from the request's
    own headers (a PUT, which stores them), or from ``stored``, the
    object's metadata (a POST, which cannot change them).
    """
    if stored is None:
        prefix = 'HTTP_' + STORED_OVERRIDE.upper().replace('-', '_')
        for key, value in env.items():
            if key.startswith(prefix):
                update['X-' + header_title('HTTP_' + key[len(prefix):])] = \
                    value
    else:
        for key, value in stored.items():
            if key.lower().startswith(STORED_OVERRIDE):
                update['X-' + '-'.join(
                    p.capitalize()
                    for p in key[len(STORED_OVERRIDE):].split('-'))] = value
    for key, value in env.items():
        if key.startswith(REQUEST_OVERRIDE):
            name = header_title('HTTP_' + key[len(REQUEST_OVERRIDE):])
            update['X-' + name] = value


def post_content_type(env):
    """The content type a POST sets, or None when it leaves it alone.

    A ``swift_bytes`` parameter is not the client's to set (it is the
    size an SLO manifest's listing row shows, kept from the data file).
    eventlet's server fills in ``text/plain`` when a request has no
    Content-Type; the raw headers it keeps tell that apart from one sent.
    """
    value = env.get('CONTENT_TYPE')
    if value is None:
        return None
    raw = env.get('headers_raw')
    if raw is not None and not any(
            k.lower() == 'content-type' for k, _ in raw):
        return None
    params = [p.strip() for p in value.split(';')]
    kept = [params[0]] + [
        p for p in params[1:]
        if p and p.partition('=')[0].strip().lower() != 'swift_bytes']
    ctype = ';'.join(kept)
    if not ctype.strip():
        return None
    return ctype
