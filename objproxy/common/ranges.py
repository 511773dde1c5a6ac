"""HTTP ranges and conditional requests, as Swift answers them.

Kept apart from the object server because the proxy answers the same
headers (e.g. for large-object manifests) and must agree byte for byte:

* ``Range: bytes=...`` with one or more ranges.  A syntactically invalid
  header is ignored (full 200), as RFC 7233 allows and Swift does; a valid
  one with no satisfiable range is a 416; one satisfiable range is a 206
  with ``Content-Range``; several are a 206 ``multipart/byteranges``.
* ``If-Match`` / ``If-None-Match`` (ETag lists, ``*``, weak tags never
  match If-Match) and ``If-(Un)Modified-Since`` with RFC 7232's
  precedence: If-Match beats If-Unmodified-Since, If-None-Match beats
  If-Modified-Since.
"""
import email.utils
import os

MAX_RANGES = 50


def parse_range(header, length):
    """Byte ranges [(start, stop_exclusive)] for an object of ``length``.

    None: ignore the header (missing or malformed) and send everything;
    []: nothing satisfiable (416).
    """
    if not header:
        return None
    header = header.strip()
    units, sep, spec = header.partition('=')
    if not sep or units.strip().lower() != 'bytes':
        return None
    specs = [s.strip() for s in spec.split(',')]
    if not specs or any(not s for s in specs) or len(specs) > MAX_RANGES:
        return None
    parsed = []
    for item in specs:
        first, dash, last = item.partition('-')
        first, last = first.strip(), last.strip()
        if not dash or (first and not first.isdigit()) or \
                (last and not last.isdigit()) or (not first and not last):
            return None
        if first and last and int(last) < int(first):
            return None
        parsed.append((int(first) if first else None,
                       int(last) if last else None))
    ranges = []
    for first, last in parsed:
        if first is None:
            # suffix range: the last N bytes
            if last == 0:
                continue
            start = max(0, length - last)
            stop = length
        else:
            if first >= length:
                continue
            start = first
            stop = length if last is None else min(last + 1, length)
        if stop > start:
            ranges.append((start, stop))
    return ranges


def content_range(start, stop, length):
    return 'bytes %d-%d/%d' % (start, stop - 1, length)


def new_boundary():
    return os.urandom(16).hex()


def multipart_parts(ranges, length, content_type, boundary):
    """(part_header_bytes, start, stop) per range, plus the closing bytes,
    and the total body size, so a caller can set Content-Length."""
    parts = []
    total = 0
    for start, stop in ranges:
        head = ('--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n' % (
            boundary, content_type,
            content_range(start, stop, length))).encode('latin-1')
        parts.append((head, start, stop))
        total += len(head) + (stop - start) + 2   # + CRLF after the data
    closing = ('--%s--' % boundary).encode('latin-1')
    total += len(closing)
    return parts, closing, total


# ------------------------------------------------------------ conditions
def parse_etag_list(header):
    """List of ETags (quotes removed; '*' kept; weak tags marked W/)."""
    tags = []
    for item in header.split(','):
        item = item.strip()
        if not item:
            continue
        weak = item.startswith('W/')
        if weak:
            item = item[2:]
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        tags.append(('W/' if weak else '') + item)
    return tags


def parse_http_date(value):
    """Seconds since the epoch, or None if the date is not parseable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def evaluate_conditions(env, etag, last_modified, method):
    """Status (304 or 412) the conditional headers demand, else None.

    ``last_modified`` is whole seconds (as Last-Modified shows it); ``etag``
    the bare hex ETag, or None when the object does not exist.
    """
    if_match = env.get('HTTP_IF_MATCH')
    if if_match is not None:
        tags = parse_etag_list(if_match)
        if etag is None:
            return 412
        if '*' not in tags and etag not in tags:
            return 412
    if etag is not None:       # Swift checks it even beside If-Match
        ius = parse_http_date(env.get('HTTP_IF_UNMODIFIED_SINCE'))
        if ius is not None and last_modified > ius:
            return 412
    if_none_match = env.get('HTTP_IF_NONE_MATCH')
    if if_none_match is not None:
        if etag is None:
            return None
        tags = [t[2:] if t.startswith('W/') else t
                for t in parse_etag_list(if_none_match)]
        if '*' in tags or etag in tags:
            return 304 if method in ('GET', 'HEAD') else 412
    elif etag is not None and method in ('GET', 'HEAD'):
        ims = parse_http_date(env.get('HTTP_IF_MODIFIED_SINCE'))
        if ims is not None and last_modified <= ims:
            return 304
    return None
