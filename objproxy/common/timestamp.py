"""Swift-compatible timestamps: the newest timestamp always wins.

The normal form is ``%016.05f`` (seconds since the epoch with 5 decimals),
which sorts lexically in time order, so file names order by age.  An optional
offset (``_<16 hex digits>``) lets two events share a time but still order.
"""
import time

PRECISION = 0.00001


class Timestamp(object):
    __slots__ = ('raw', 'offset')

    def __init__(self, value, offset=0):
        if isinstance(value, Timestamp):
            self.raw = value.raw
            self.offset = value.offset if not offset else offset
            return
        if isinstance(value, bytes):
            value = value.decode('ascii')
        if isinstance(value, str):
            if '_' in value:
                value, off = value.split('_', 1)
                offset = int(off, 16)
            value = float(value)
        value = float(value)
        if value != value or value < 0 or value >= 10 ** 10:
            raise ValueError('timestamp out of range: %r' % value)
        if offset < 0:
            raise ValueError('negative timestamp offset')
        self.raw = int(round(value / PRECISION))
        self.offset = offset

    @classmethod
    def now(cls):
        return cls(time.time())

    @property
    def timestamp(self):
        return self.raw * PRECISION

    @property
    def normal(self):
        return '%016.05f' % self.timestamp

    @property
    def internal(self):
        if self.offset:
            return '%s_%016x' % (self.normal, self.offset)
        return self.normal

    @property
    def http_date(self):
        """Whole-second HTTP date (RFC 7231), rounded up like Swift."""
        secs = self.raw // 100000 + (1 if self.raw % 100000 else 0)
        return time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(secs))

    def _key(self):
        return (self.raw, self.offset)

    def __eq__(self, other):
        if other is None:
            return False
        if not isinstance(other, Timestamp):
            other = Timestamp(other)
        return self._key() == other._key()

    def __ne__(self, other):
        return not self == other

    def __lt__(self, other):
        if not isinstance(other, Timestamp):
            other = Timestamp(other)
        return self._key() < other._key()

    def __le__(self, other):
        return self == other or self < other

    def __gt__(self, other):
        return not self <= other

    def __ge__(self, other):
        return not self < other

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self.internal

    def __repr__(self):
        return 'Timestamp(%r)' % self.internal

    def __float__(self):
        return self.timestamp


def parse_timestamp_header(value):
    """Timestamp from a request header, or ValueError with a clear message."""
    if value is None:
        raise ValueError('missing X-Timestamp')
    try:
        return Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError('invalid X-Timestamp %r' % value)
