"""Streaming ``multipart/form-data`` reader for the formpost filter.

Why our own: a form may carry gigabytes of file data, and each file must
flow into an object PUT as it arrives.  This reader keeps at most a read
size plus one boundary in memory, hands out one part at a time as a
file-like object (``read(size)`` / ``readline()``), and never reads past
the part the caller is on.

Framing follows Swift's formpost: optional blank lines, then
``--<boundary>`` as the first line (no preamble), parts separated by
``\\r\\n--<boundary>\\r\\n`` and closed by ``\\r\\n--<boundary>--``.  An
input that ends inside a part is an error (a truncated file is never
taken for a whole one).
"""
import re

#: Bytes asked of the input per read.
READ_CHUNK_SIZE = 65536
#: Longest header line, and most header bytes, one part may have.
MAX_HEADER_LINE = 8192
MAX_HEADER_BYTES = 65536
_PARAM_RE = re.compile(
    r'\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*(?:;|$)')


class MimeInvalid(ValueError):
    """The body does not start with the boundary the request announced."""


class FormTruncated(ValueError):
    """The input ended before the closing boundary."""


def parse_header_params(value):
    """``'form-data; name="a"; filename="b.txt"'`` -> ``('form-data',
    {'name': 'a', 'filename': 'b.txt'})``; parameter names lower-cased."""
    value = value or ''
    head, _sep, rest = value.partition(';')
    params = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if match is None or match.end() == pos:
            break
        name, raw = match.group(1).lower(), match.group(2)
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r'\\(.)', r'\1', raw[1:-1])
        params.setdefault(name, raw)
        pos = match.end()
    return head.strip().lower(), params


class MultipartReader(object):
    """Iterate the parts of a multipart body read from ``source``."""

    def __init__(self, source, boundary, chunk_size=READ_CHUNK_SIZE):
        if isinstance(boundary, str):
            boundary = boundary.encode('latin-1')
        self.source = source
        self.opening = b'--' + boundary
        self.delimiter = b'\r\n--' + boundary
        self.chunk_size = chunk_size
        self.buf = b''
        self.eof = False
        self.finished = False

    # -- buffer ----------------------------------------------------------
    def fill(self, size):
        """Read until ``size`` bytes are buffered or the input ends."""
        while not self.eof and len(self.buf) < size:
            data = self.source.read(max(self.chunk_size,
                                        size - len(self.buf)))
            if not data:
                self.eof = True
            else:
                self.buf += data

    def take(self, count):
        data, self.buf = self.buf[:count], self.buf[count:]
        return data

    # -- parts -----------------------------------------------------------
    def start(self):
        """Consume the opening boundary line; MimeInvalid if it is not."""
        limit = len(self.opening) + 2
        while True:
            self.fill(limit)
            newline = self.buf.find(b'\n', 0, limit)
            line = self.take(newline + 1 if newline >= 0 else limit)
            if line != b'\r\n':
                break
        if line.strip() != self.opening:
            raise MimeInvalid('invalid starting boundary')

    def parts(self):
        """Yield each part (a Part); a part left unread is skipped."""
        self.start()
        while not self.finished:
            part = Part(self)
            yield part
            part.drain()
            if self.eof and not self.buf and not self.finished:
                raise FormTruncated('form ended before its last boundary')

    def after_delimiter(self):
        """Just past a delimiter: the closing ``--`` or the CRLF after it."""
        self.fill(2)
        if self.buf.startswith(b'--'):
            self.finished = True
            self.buf = b''
        else:
            self.take(2)


class Part(object):
    """One part: read its headers with ``headers()``, then its body."""

    def __init__(self, reader):
        self.reader = reader
        self.done = False

    def read(self, size=-1):
        if self.done:
            return b''
        reader = self.reader
        if size is None or size < 0:
            size = reader.chunk_size
        size = max(size, 1)
        reader.fill(size + len(reader.delimiter) + 2)
        found = reader.buf.find(reader.delimiter)
        if found != -1 and found <= size:
            data = reader.take(found)
            reader.take(len(reader.delimiter))
            self.done = True
            reader.after_delimiter()
            return data
        if found == -1 and reader.eof:
            reader.buf = b''
            self.done = True
            raise FormTruncated('form ended inside a part')
        return reader.take(size)

    def readline(self, limit=MAX_HEADER_LINE):
        """A line (with its newline) of at most ``limit`` bytes."""
        reader = self.reader
        if self.done:
            return b''
        reader.fill(limit + len(reader.delimiter) + 2)
        newline = reader.buf.find(b'\n', 0, limit)
        found = reader.buf.find(reader.delimiter, 0, limit + 1)
        if newline >= 0 and (found < 0 or newline < found):
            return reader.take(newline + 1)
        return self.read(limit)

    def headers(self):
        """The part's headers as a dict with lower-case names."""
        found = {}
        total = 0
        name = None
        while True:
            line = self.readline()
            total += len(line)
            if total > MAX_HEADER_BYTES:
                raise ValueError('part headers too long')
            if line in (b'\r\n', b'\n', b''):
                return found
            try:
                text = line.decode('utf-8')
            except UnicodeDecodeError:
                text = line.decode('latin-1')
            text = text.rstrip('\r\n')
            if text[:1] in (' ', '\t') and name is not None:
                found[name] += ' ' + text.strip()
                continue
            key, sep, value = text.partition(':')
            if not sep:
                continue
            name = key.strip().lower()
            found[name] = value.strip()

    def drain(self):
        while self.read(self.reader.chunk_size):
            pass
