"""The upload body as the clamav filter hands it to the proxy.

Why its own module: this is the one piece that decides when bytes may
reach the storage nodes.  It tees the client's body to clamd and always
holds back the end of it until clamd's verdict is in, so an infected
upload is never complete on any node; the filter (``middleware.clamav``)
only chooses what to do with the answer.
"""
import collections

from objproxy.common.clamd import ClamdError
from objproxy.common.response import status_line


class ScanningInput(object):
    """A ``wsgi.input`` that tees the body to clamd and withholds its end.

    At every moment at least one byte read from the client (normally a
    whole read-ahead chunk) is held back until the real input is exhausted
    and clamd has answered OK; only then is the remainder released.  A
    FOUND or failed scan raises InputRejected from ``read()``/``readline()``
    (and again on any later call).  Memory is O(chunk).

    The held-back bytes are kept as the client's pieces, not one growing
    string: a read of a whole piece hands that piece on without copying it
    (a joined buffer copied every byte about four times, which made the
    scanned PUT CPU-bound in the proxy).
    """

    def __init__(self, source, stream, content_length, max_scan_size,
                 chunk_size, on_reject):
        self._source = source
        self._stream = stream
        self._remaining = content_length
        self._max_scan_size = max_scan_size
        self._chunk_size = chunk_size
        self._on_reject = on_reject
        self._pieces = collections.deque()
        self._buffered = 0
        self._eof = False
        self._released = False
        self._rejection = None
        self._closed = False
        self.bytes_received = 0
        self.verdict = None

    # -- the file-like interface the proxy uses ---------------------------

    def read(self, size=-1):
        self._check()
        if size is None or size < 0:
            while not self._eof:
                self._pull(self._chunk_size)
            return self._take(self._buffered)
        if size == 0:
            return b''
        while not self._eof and self._buffered <= size:
            self._pull(max(size, self._chunk_size))
        return self._take(min(size, self._buffered))

    def readline(self, size=-1):
        self._check()
        while True:
            buf = self._joined()
            limit = len(buf) if size is None or size < 0 else \
                min(size, len(buf))
            newline = buf.find(b'\n', 0, limit)
            if newline >= 0:
                end = newline + 1
            elif size is not None and 0 <= size <= len(buf):
                end = size
            elif self._released:
                end = limit
            else:
                end = None
            if end is not None and (end < len(buf) or self._released):
                return self._take(end)
            self._pull(self._chunk_size)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self):
        """Drop the clamd session if it is still open (idempotent)."""
        self._closed = True
        if self._stream is not None:
            self._stream.close()

    @property
    def rejection(self):
        """The InputRejected raised to the reader, if any."""
        return self._rejection

    @property
    def complete(self):
        """True once the whole body was scanned clean and released."""
        return self._released

    # -- internals ----------------------------------------------------------

    def _check(self):
        if self._rejection is not None:
            raise self._rejection
        if self._closed:
            self._reject(status_line(503), 'error',
                         'read after the scan session was closed')

    def _take(self, size):
        """The first ``size`` buffered bytes (a whole piece as it is)."""
        pieces = self._pieces
        if not size:
            return b''
        self._buffered -= size
        if len(pieces[0]) == size:
            return pieces.popleft()
        out = []
        while size:
            piece = pieces.popleft()
            if len(piece) > size:
                pieces.appendleft(piece[size:])
                piece = piece[:size]
            out.append(piece)
            size -= len(piece)
        return b''.join(out)

    def _joined(self):
        """All buffered bytes as one piece (for line-oriented readers)."""
        pieces = self._pieces
        if len(pieces) > 1:
            joined = b''.join(pieces)
            pieces.clear()
            pieces.append(joined)
        return pieces[0] if pieces else b''

    def _pull(self, size):
        """Read one piece from the client and forward it to clamd."""
        if self._remaining is not None:
            want = min(size, self._remaining)
            data = self._source.read(want) if want > 0 else b''
        else:
            data = self._source.read(size)
        if not data:
            self._finish()
            return
        self.bytes_received += len(data)
        if self._remaining is not None:
            self._remaining -= len(data)
        if self.bytes_received > self._max_scan_size:
            self._stream.close()
            self._reject(status_line(413), 'oversize',
                         'body exceeds max_scan_size (%d bytes)'
                         % self._max_scan_size)
        try:
            self._stream.write(data)
        except ClamdError as err:
            self._reject(status_line(503), 'error', str(err))
        self._pieces.append(data)
        self._buffered += len(data)
        if self._remaining == 0:
            self._finish()

    def _finish(self):
        """End of the client's body: get clamd's verdict."""
        self._eof = True
        try:
            self.verdict = self._stream.finish()
        except ClamdError as err:
            self._reject(status_line(503), 'error', str(err))
        if self.verdict.status == 'FOUND':
            self._reject(status_line(403), 'infected',
                         self.verdict.signature)
        self._released = True

    def _reject(self, status, kind, detail):
        self._pieces.clear()
        self._buffered = 0
        self._rejection = self._on_reject(status, kind, detail,
                                          self.bytes_received)
        raise self._rejection
