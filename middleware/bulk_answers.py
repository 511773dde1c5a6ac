"""What bulk deletes and extractions share: reading the request body,
the errors that end an operation, the heartbeat that keeps the
connection alive and the final report in the negotiated format.

Its own module so that ``bulk`` (the filter) and its two workers
(``bulk_delete``, ``bulk_extract``) import it without importing each
other.
"""
import json
from xml.sax.saxutils import escape

from objproxy.common.response import status_line

#: ``Response Status`` lines of the report: the common status lines.
status_text = status_line


class BulkError(Exception):
    """Ends a bulk operation; its status and body become the answer's
    ``Response Status`` and ``Response Body``."""

    def __init__(self, status, body=''):
        super().__init__(body or status_line(status))
        self.status = status
        self.body = body


class LimitedInput(object):
    """The request body as a file: at most Content-Length bytes, or up to
    the end of a chunked body (the server de-chunks it)."""

    def __init__(self, env):
        self.stream = env['wsgi.input']
        length = env.get('CONTENT_LENGTH')
        self.remaining = int(length) if length not in (None, '') else None

    def read(self, size=-1):
        if self.remaining is not None:
            if self.remaining <= 0:
                return b''
            if size is None or size < 0 or size > self.remaining:
                size = self.remaining
        data = self.stream.read(size) if size is not None and size >= 0 \
            else self.stream.read()
        if self.remaining is not None:
            self.remaining -= len(data)
        return data


def body_reader(env):
    """``read(size)`` over the request body; BulkError(411) when the
    request has neither a Content-Length nor a chunked body."""
    chunked = 'chunked' in env.get('HTTP_TRANSFER_ENCODING', '').lower()
    length = env.get('CONTENT_LENGTH')
    if length in (None, '') and not chunked:
        raise BulkError(411, 'Length Required')
    try:
        if length not in (None, '') and int(length) < 0:
            raise ValueError(length)
    except ValueError:
        raise BulkError(400, 'Invalid Content-Length')
    return LimitedInput(env).read


def result_body(out_format, results, errors, root_tag):
    """The final body in the negotiated format (Swift's layouts)."""
    if out_format == 'application/json':
        data = dict(results, Errors=errors)
        return json.dumps(data).encode('ascii')
    if out_format and out_format.endswith('/xml'):
        out = ['<%s>\n' % root_tag]
        for key in sorted(results):
            tag = key.replace(' ', '_').lower()
            out.append('<%s>%s</%s>\n' % (tag, escape(str(results[key])), tag))
        out.append('<errors>\n')
        for name, status in errors:
            out.append('<object><name>%s</name><status>%s</status>'
                       '</object>\n' % (escape(name), escape(status)))
        out.append('</errors>\n</%s>\n' % root_tag)
        return ''.join(out).encode('utf-8')
    out = ['%s: %s\n' % (key, results[key]) for key in sorted(results)]
    out.append('Errors:\n')
    out.extend('%s, %s\n' % (name, status) for name, status in errors)
    return ''.join(out).encode('utf-8')


class Heartbeat(object):
    """Whitespace to send while working, at most every ``frequency`` s.

    XML answers start with the XML declaration (so the leading bytes stay
    valid XML); after the first beat the final body is separated from the
    whitespace by a blank line, as Swift does.
    """

    def __init__(self, frequency, out_format, clock):
        self.frequency = frequency
        self.clock = clock
        self.last = clock()
        if out_format and out_format.endswith('/xml'):
            self.next_beat = b'<?xml version="1.0" encoding="UTF-8"?>\n'
        else:
            self.next_beat = b' '
        self.separator = b''

    def due(self):
        """The bytes to send now, or None."""
        now = self.clock()
        if self.last + self.frequency >= now:
            return None
        self.last = now
        beat, self.next_beat, self.separator = \
            self.next_beat, b' ', b'\r\n\r\n'
        return beat
