"""Responses of the object server: status lines, errors, headers, bodies.

Why it is its own module: everything the object server sends back (the
raw-WSGI status line and header tuples, the 304/412 answers to
conditional requests, and the iterators that stream and verify object
bodies) is independent of how a request is parsed or dispatched.
"""
import hashlib

from objproxy.common.exceptions import DiskFileError, DiskFileQuarantined
from objproxy.common.response import Response
from objproxy.common.timestamp import Timestamp
from objproxy.storage.object_format import CorruptBlock
from objproxy.storage.object_request import (
    ALLOWED_HEADERS, META_PREFIXES, HTTPError)

def respond(start_response, status, headers=(), body=b''):
    """Start a response with a short plain-text (or empty) body."""
    return Response(status, headers=headers, body=body,
                    content_type='text/plain; charset=UTF-8')(
                        {}, start_response)


def whole_seconds(timestamp):
    """Seconds as Last-Modified shows them (rounded up, exact)."""
    return (Timestamp(timestamp).raw + 99999) // 100000


def backend_timestamp_error(status, timestamp):
    """A bodiless error naming the newest timestamp on disk (Swift's
    404-for-tombstone and 409-for-conflict)."""
    return HTTPError(status, '', [('X-Backend-Timestamp',
                                   timestamp.internal)])


def object_headers(df, metadata):
    """GET/HEAD headers of an opened object (no Content-Length yet)."""
    headers = [
        ('Content-Type', metadata.get('Content-Type',
                                      'application/octet-stream')),
        ('ETag', metadata['ETag']),
        ('Last-Modified', Timestamp(metadata['X-Timestamp']).http_date),
        ('X-Timestamp', Timestamp(metadata['X-Timestamp']).normal),
        ('X-Backend-Timestamp', df.timestamp.internal),
        ('X-Backend-Data-Timestamp', df.data_timestamp.internal),
        ('X-Backend-Durable-Timestamp', df.data_timestamp.internal),
        ('Accept-Ranges', 'bytes'),
    ]
    for key, value in metadata.items():
        lkey = key.lower()
        if lkey.startswith(META_PREFIXES) or lkey in ALLOWED_HEADERS:
            headers.append((key, value))
    return headers


def conditional_response(start_response, status, headers):
    """The 304 or 412 that ``ranges.evaluate_conditions`` asked for."""
    if status == 304:
        keep = [h for h in headers if h[0] != 'Content-Type']
        return Response(304, headers=keep + [('Content-Length', '0')],
                        app_iter=[])({}, start_response)
    return respond(start_response, 412, validator_headers(headers) +
                   sysmeta_headers(headers), 'Precondition Failed')


def sysmeta_headers(headers):
    """Swift's 412 and 416 carry the object's sysmeta, so a filter (a
    symlink, say) can tell what answered."""
    return [h for h in headers if h[0].lower().startswith('x-object-sysmeta-')]


def validator_headers(headers):
    """The headers that identify a version, for bodiless error answers."""
    return [h for h in headers if h[0] in ('ETag', 'Last-Modified',
                                           'X-Timestamp',
                                           'X-Backend-Timestamp')]


class CorruptBodyAbort(Exception):
    """Raised out of a response body to make the server drop the
    connection: the client (the proxy) sees a body shorter than its
    Content-Length and resumes it from another replica."""


class BodyIter(object):
    """Streams byte ranges (optionally as multipart parts) of an open file.

    A version-2 file is read in whole blocks, each checked against its
    CRC32C before any of its bytes are sent; at a bad block the file is
    quarantined and the response aborted (CorruptBodyAbort) with only the
    verified bytes before it sent.  A version-1 file has no block
    checksums: its bytes are sent as read (a whole-body GET of one goes
    through VerifyingBodyIter instead).
    """

    def __init__(self, df, parts, closing, chunk_size, logger=None):
        self.df = df
        self.parts = parts
        self.closing = closing
        self.chunk_size = chunk_size
        self.logger = logger

    def __iter__(self):
        df = self.df
        read = df.read_verified_range if df.block_size else \
            df.read_body_range
        try:
            for head, start, stop in self.parts:
                if head:
                    yield head
                for chunk in read(start, stop, self.chunk_size):
                    yield chunk
                if head:
                    yield b'\r\n'
            if self.closing:
                yield self.closing
        except CorruptBlock as err:
            quarantine_corrupt(df, err, self.logger)
            raise CorruptBodyAbort(str(err))
        finally:
            df.close()

    def close(self):
        self.df.close()


def quarantine_corrupt(df, err, logger):
    """Move a file that failed a check out of the way (and say so)."""
    if logger is not None:
        logger.error('quarantined %s: %s', df.name, err)
    try:
        df.quarantine(str(err))
    except DiskFileQuarantined:
        pass


class VerifyingBodyIter(object):
    """Streams a whole version-1 body, checking its MD5 (only known once
    the last byte has been sent); quarantines a bad file."""

    def __init__(self, df, size, etag, chunk_size, logger):
        self.df = df
        self.size = size
        self.etag = etag
        self.chunk_size = chunk_size
        self.logger = logger

    def __iter__(self):
        md5 = hashlib.md5()
        sent = 0
        try:
            for chunk in self.df.read_body_range(0, self.size,
                                                 self.chunk_size):
                md5.update(chunk)
                sent += len(chunk)
                yield chunk
        except DiskFileError:
            pass
        self.df.close()
        if sent == self.size and md5.hexdigest() == self.etag:
            return
        self.logger.error('quarantined %s: content does not match its '
                          'ETag', self.df.name)
        try:
            self.df.quarantine('ETag mismatch')
        except DiskFileQuarantined:
            pass

    def close(self):
        self.df.close()
