"""Exceptions shared across the proxy, the storage nodes and the filters."""


class ObjproxyError(Exception):
    """Base class for objproxy's own errors."""


class ConfigError(ObjproxyError):
    """A config file or option is missing or invalid; the message says which."""


class RingError(ObjproxyError):
    """A ring or builder file is corrupt, or a ring operation is impossible."""


class InputRejected(ObjproxyError):
    """Raised from a wrapped ``wsgi.input`` to abort an upload mid-stream.

    A filter (e.g. clamav) wraps the request body; when it decides the body
    must never be stored it raises this from ``read()``.  The proxy then drops
    its backend connections without finishing the body, so no storage node
    commits it, and lets the exception propagate back to the filter, which
    answers the client with ``status`` and ``body``.
    """

    def __init__(self, status, body=b'', headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class ChunkReadTimeout(ObjproxyError):
    """A client or backend did not send the next chunk in time."""


class ConnectionTimeout(ObjproxyError):
    """Connecting to a backend node took longer than conn_timeout."""


class DiskFileError(ObjproxyError):
    """Base class for on-disk object errors."""


class DiskFileNotExist(DiskFileError):
    """No object at that name (or only a tombstone)."""


class DiskFileDeleted(DiskFileNotExist):
    """The newest file for the name is a tombstone; carries its timestamp."""

    def __init__(self, timestamp=None):
        super().__init__(timestamp)
        self.timestamp = timestamp


class DiskFileQuarantined(DiskFileError):
    """The file failed a check and was moved to quarantine."""


class DiskFileNoSpace(DiskFileError):
    """The device has no room left (ENOSPC)."""


class DeviceUnavailable(DiskFileError):
    """The device is not mounted or not present."""
