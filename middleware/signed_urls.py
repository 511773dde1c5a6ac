"""Signatures and keys shared by the tempurl and formpost filters.

Why one module: both filters accept the same signature forms (hex, or
``<alg>:<base64>``), the same digests (``allowed_digests``) and the same
keys (``Temp-URL-Key`` / ``-Key-2`` metadata of the account and of the
container), and must agree on them exactly as Swift does.

Keys come from the proxy's account/container info
(``objproxy.proxy.info``), which is cached per request, per process and in
memcached, so checking a signature costs no extra backend request once the
info is warm.
"""
import base64
import binascii
import hmac
import string

from objproxy.common.exceptions import ConfigError
from objproxy.proxy.info import get_account_info, get_container_info

#: Swift's default ``allowed_digests``, and the ones it deprecates.
DEFAULT_ALLOWED_DIGESTS = ('sha1', 'sha256', 'sha512')
DEPRECATED_DIGESTS = frozenset(('sha1',))
SUPPORTED_DIGESTS = frozenset(DEFAULT_ALLOWED_DIGESTS)
#: A hex signature names its digest by its length.
HEX_LENGTHS = {40: 'sha1', 64: 'sha256', 128: 'sha512'}
B64_CHARS = frozenset(string.ascii_letters + string.digits + '+/')

ACCOUNT_SCOPE = 'account'
CONTAINER_SCOPE = 'container'
KEY_META_NAMES = ('temp-url-key', 'temp-url-key-2')


def allowed_digests(conf, section, logger=None):
    """``(allowed, deprecated)`` sorted lists from ``allowed_digests``.

    An empty/absent option means Swift's default list; a name Swift does
    not support is a config error (Swift only warns and drops it).  A
    deprecated digest (sha1) is allowed, with a warning, as in Swift.
    """
    names = [name.lower() for name in
             str(conf.get('allowed_digests') or '').split()]
    unsupported = sorted(set(names) - SUPPORTED_DIGESTS)
    if unsupported:
        raise ConfigError('[%s] allowed_digests: unsupported digest%s %s '
                          '(supported: %s)' % (
                              section, 's' if len(unsupported) > 1 else '',
                              ', '.join(unsupported),
                              ', '.join(sorted(SUPPORTED_DIGESTS))))
    allowed = set(names) or set(DEFAULT_ALLOWED_DIGESTS)
    deprecated = allowed & DEPRECATED_DIGESTS
    if deprecated and logger is not None:
        if names:
            logger.warning('The following digest algorithms are configured '
                           'but deprecated: %s. Support will be removed in '
                           'a future release.', ', '.join(sorted(deprecated)))
        else:
            logger.warning('The following digest algorithms are allowed by '
                           'default but deprecated: %s. Support will be '
                           'disabled by default in a future release, and '
                           'later removed entirely.',
                           ', '.join(sorted(deprecated)))
    return sorted(allowed), sorted(deprecated)


def _b64_to_hex(text):
    """Standard or url-safe base64 (padding optional) -> hex, strictly."""
    if ('-' in text or '_' in text) and not ('+' in text or '/' in text):
        text = text.replace('-', '+').replace('_', '/')
    body = text.strip('=')
    if not body or any(char not in B64_CHARS for char in body):
        raise ValueError('bad base64 signature')
    try:
        raw = base64.b64decode(text + '==')
    except (binascii.Error, ValueError):
        raise ValueError('bad base64 signature')
    return binascii.hexlify(raw).decode('ascii')


def parse_signature(value):
    """``(digest name, hex digest)`` from a client's signature.

    ``<hex>`` (the digest follows from its length) or ``<alg>:<base64>``;
    ValueError for anything else.
    """
    if ':' in value:
        algorithm, encoded = value.split(':', 1)
        return algorithm, _b64_to_hex(encoded)
    try:
        binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise ValueError('bad hex signature')
    algorithm = HEX_LENGTHS.get(len(value))
    if algorithm is None:
        raise ValueError('bad signature length')
    return algorithm, value


def sign(key, message, algorithm):
    """Hex HMAC of ``message`` (str or bytes) with ``key``."""
    if isinstance(key, str):
        key = key.encode('utf-8')
    if isinstance(message, str):
        message = message.encode('utf-8')
    return hmac.new(key, message, algorithm).hexdigest()


def tempurl_message(method, expires, path, ip_range=None):
    """What a temporary URL signs (Swift's layout: the IP range first, so
    a newline in a path cannot forge one)."""
    lines = [method, str(expires), path]
    if ip_range:
        lines.insert(0, 'ip=%s' % ip_range)
    return '\n'.join(lines)


def same_digest(expected_hex, given_hex):
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(expected_hex.encode('ascii', 'replace'),
                               given_hex.encode('ascii', 'replace'))


def key_bytes(value):
    """A key's bytes as the client set them (UTF-8).

    The proxy's info holds header values as they came off the wire
    (latin-1 code points, WSGI style); real text is accepted too.
    """
    if isinstance(value, bytes):
        return value
    try:
        raw = value.encode('latin-1')
        raw.decode('utf-8')
        return raw
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value.encode('utf-8')


def keys_from_meta(meta):
    """The Temp-URL keys (bytes) in an info dict's ``meta``."""
    return [key_bytes(value) for name, value in (meta or {}).items()
            if name.lower() in KEY_META_NAMES and value]


def scoped_keys(env, app, account, container):
    """``[(key, scope)]``: the account's keys, then the container's.

    Read through the proxy's cached account/container info, never with a
    request of our own.  An account or container that does not exist has
    no keys; a failure to read the info is not hidden.
    """
    found = [(key, ACCOUNT_SCOPE) for key in keys_from_meta(
        (get_account_info(env, app, account) or {}).get('meta'))]
    if container:
        found.extend((key, CONTAINER_SCOPE) for key in keys_from_meta(
            (get_container_info(env, app, account, container)
             or {}).get('meta')))
    return found
