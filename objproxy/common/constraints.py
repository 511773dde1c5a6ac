"""Swift's API limits (names, metadata, sizes), overridable per cluster.

Defaults are Swift's; ``[objproxy-constraints]`` in objproxy.conf may
override them, exactly like ``[swift-constraints]`` in swift.conf.
"""
import http.client
import os

from objproxy.common.config import read_conf_file
from objproxy.common.exceptions import ConfigError

DEFAULTS = {
    'max_file_size': 5 * 1024 ** 3 + 2,
    'max_meta_name_length': 128,
    'max_meta_value_length': 256,
    'max_meta_count': 90,
    'max_meta_overall_size': 4096,
    'max_header_size': 8192,
    'max_object_name_length': 1024,
    'container_listing_limit': 10000,
    'account_listing_limit': 10000,
    'max_account_name_length': 256,
    'max_container_name_length': 256,
    'extra_header_count': 0,
}

LIMITS = dict(DEFAULTS)
# Swift lets 90 user headers through plus its own fixed overhead.
MAX_HEADER_COUNT = 256


def raise_header_limit():
    """Let 90 metadata headers plus the usual ones through.

    The stdlib's header parser (eventlet's server and http.client both use
    it) stops at 100 lines, which would turn a maximum-metadata request
    into 431 on the node or a parse error in the proxy.
    """
    if http.client._MAXHEADERS < MAX_HEADER_COUNT:
        http.client._MAXHEADERS = MAX_HEADER_COUNT


def load_constraints(objproxy_dir=None, conf_path=None):
    if conf_path is None:
        objproxy_dir = objproxy_dir or os.environ.get('OBJPROXY_DIR',
                                                      '/etc/objproxy')
        conf_path = os.path.join(objproxy_dir, 'objproxy.conf')
    if not os.path.exists(conf_path):
        return LIMITS
    parser = read_conf_file(conf_path)
    if not parser.has_section('objproxy-constraints'):
        return LIMITS
    for key, value in parser.items('objproxy-constraints'):
        if key not in DEFAULTS:
            raise ConfigError('[objproxy-constraints] unknown option %s'
                              % key)
        try:
            LIMITS[key] = int(value)
        except ValueError:
            raise ConfigError('[objproxy-constraints] %s must be a whole '
                              'number, not %r' % (key, value))
    return LIMITS


_NAME_LIMITS = dict((kind, 'max_%s_name_length' % kind.lower())
                    for kind in ('Account', 'Container', 'Object'))


def name_too_long(kind, name):
    """The 400 message for an Account/Container/Object name over its
    limit, else None.  The one name-length check: the proxy and the
    storage servers give the same answer."""
    limit = LIMITS[_NAME_LIMITS[kind]]
    size = len(name.encode('utf-8'))
    if size > limit:
        return '%s name length of %d longer than %d' % (kind, size, limit)
    return None


def check_metadata(headers, target_type):
    """Return an error message if user metadata breaks Swift's limits."""
    prefix = 'x-%s-meta-' % target_type
    count = 0
    size = 0
    for key, value in headers.items():
        lkey = key.lower()
        if not lkey.startswith(prefix):
            continue
        name = lkey[len(prefix):]
        if not name:
            return 'Metadata name cannot be empty'
        if isinstance(value, str):
            bvalue = value.encode('latin-1', 'replace')
        else:
            bvalue = value
        count += 1
        size += len(name) + len(bvalue)
        if len(name) > LIMITS['max_meta_name_length']:
            return 'Metadata name too long: %s%s' % (prefix, name)
        if len(bvalue) > LIMITS['max_meta_value_length']:
            return 'Metadata value longer than %d: %s%s' % (
                LIMITS['max_meta_value_length'], prefix, name)
        if count > LIMITS['max_meta_count']:
            return 'Too many metadata items; max %d' % LIMITS['max_meta_count']
        if size > LIMITS['max_meta_overall_size']:
            return 'Total metadata too large; max %d' % (
                LIMITS['max_meta_overall_size'])
    return None
