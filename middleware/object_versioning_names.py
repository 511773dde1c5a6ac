"""object_versioning: the names and headers its stored state is made of.

Why a module of its own: the hidden container, the version objects and
the sysmeta that ties them to the client's container are a storage
format (Swift's, byte for byte), shared by the object, container and
account handling; they must agree exactly or versions get lost.

- hidden container: ``\\x00versions\\x00<container>`` (reserved namespace),
  its name stored quoted in the container's sysmeta;
- a version: ``\\x00<object>\\x00<inverted timestamp>`` in it, so the newest
  version of an object sorts first;
- the current object is a static symlink to its newest version, marked
  with ``X-Object-Sysmeta-Versions-Symlink: true``;
- a version id is the version's timestamp (``Timestamp.internal``), and
  ``null`` names an object written while versioning was off.
"""
from urllib.parse import quote, unquote

from objproxy.common.paths import get_reserved_name, split_reserved_name
from objproxy.common.timestamp import Timestamp

DELETE_MARKER_CONTENT_TYPE = 'application/x-deleted;swift_versions_deleted=1'
CLIENT_VERSIONS_ENABLED = 'X-Versions-Enabled'
SYSMETA_VERSIONS_ENABLED = 'X-Container-Sysmeta-Versions-Enabled'
SYSMETA_VERSIONS_CONT = 'X-Container-Sysmeta-Versions-Container'
SYSMETA_VERSIONS_SYMLINK = 'X-Object-Sysmeta-Versions-Symlink'
# legacy versioned_writes' sysmeta: one style of versioning per container
SYSMETA_LEGACY_LOCATION = 'versions-location'
# the symlink filter's headers (Swift's names)
SYMLINK_TARGET = 'X-Symlink-Target'
SYMLINK_TARGET_ACCOUNT = 'X-Symlink-Target-Account'
SYMLINK_TARGET_ETAG_SYSMETA = 'X-Object-Sysmeta-Symlink-Target-Etag'
SYMLINK_TARGET_BYTES_SYSMETA = 'X-Object-Sysmeta-Symlink-Target-Bytes'
SYMLOOP_EXTEND = 'X-Object-Sysmeta-Symloop-Extend'
SYMLINK_ALLOW_RESERVED = 'X-Object-Sysmeta-Allow-Reserved-Names'
ALLOW_RESERVED = 'X-Backend-Allow-Reserved-Names'
NULL_VERSION = 'null'
# 9999999999.99999 in Timestamp's raw units: inverting twice is identity
_INVERT_FROM = 10 ** 15 - 1


def invert(timestamp):
    """The timestamp that sorts in the opposite order (Swift's
    ``~Timestamp``); ValueError for one with an offset or out of range."""
    ts = Timestamp(timestamp)
    if ts.offset:
        raise ValueError('Cannot invert timestamps with offsets')
    whole, frac = divmod(_INVERT_FROM - ts.raw, 100000)
    return Timestamp('%010d.%05d' % (whole, frac))


def versions_container(container):
    return get_reserved_name('versions', container)


def container_of_versions(name):
    """The client container a hidden versions container belongs to, or
    None for any other name."""
    try:
        kind, container = split_reserved_name(name)
    except ValueError:
        return None
    return container if kind == 'versions' else None


def version_object(obj, version_id):
    """The hidden name of ``obj``'s version ``version_id``."""
    return get_reserved_name(obj, invert(version_id).internal)


def version_prefix(obj):
    """What every version of ``obj`` (and nothing else) starts with."""
    return get_reserved_name(obj, '')


def split_version(name):
    """(object name, version Timestamp) of a version object's name, or
    (name, None) when it is not one."""
    try:
        obj, inverted = split_reserved_name(name)
        return obj, invert(inverted)
    except ValueError:
        return name, None


def parse_version_id(value):
    """A client's version id as a Timestamp; ValueError when invalid."""
    ts = Timestamp(value)
    if ts.offset:
        raise ValueError('version ids have no offset')
    return ts


def stored_versions_container(sysmeta):
    """The hidden container named in a container's sysmeta (stored
    quoted, as Swift does), or ''."""
    value = (sysmeta or {}).get('versions-container') or ''
    return unquote(value).split('/')[0] if value else ''


def quoted(name):
    return quote(name, safe='')
