"""SLO manifests as data: what a client uploads and what is stored.

Why a module of its own: the manifest format is shared by the upload
(``slo_put``), the reads and copies (``slo``) and is pure data handling --
JSON in, validated segment dicts out -- with no WSGI in it.

A manifest segment is either object-backed (``{"path", "etag",
"size_bytes", "range"}``, only ``path`` required) or inline data
(``{"data": "<base64>"}``, nothing else allowed), which lets a client put
small headers or trailers around its object segments without uploading
them as objects.  Stored manifests keep inline segments as they were
sent (base64, padding normalised) and describe object segments with what
the segment HEAD returned: ``name``, ``bytes``, ``hash``,
``content_type``, ``last_modified``, optional ``range`` (``first-last``)
and ``sub_slo``.
"""
import base64
import binascii
import datetime
import hashlib
import json
import socket

from objproxy.common import ranges
from middleware.large_objects import is_slo, strip_swift_bytes, \
    unquote_etag

SLO_ETAG = 'x-object-sysmeta-slo-etag'
SLO_SIZE = 'x-object-sysmeta-slo-size'
# the container row's ETag carries the SLO ETag as a parameter, so that
# listings can show both (see slo.split_listing_etags)
UPDATE_OVERRIDE_ETAG = 'X-Object-Sysmeta-Container-Update-Override-Etag'
OBJECT_KEYS = ('path', 'etag', 'size_bytes', 'range')
READ_CHUNK = 65536
# an upper bound to check a range's syntax before the segment's size is
# known
_HUGE = 2 ** 63
FORMATS = ('text/plain', 'application/json', 'application/xml', 'text/xml')


class BadManifest(ValueError):
    """The uploaded manifest is malformed; status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def read_client(source, size):
    """One read of the client's body; a broken body is the client's 4xx."""
    try:
        return source.read(size)
    except socket.timeout:
        raise BadManifest(408, 'Timed out reading the manifest')
    except ValueError as err:      # eventlet's ChunkReadError and kin
        raise BadManifest(400, 'Invalid chunked body: %s' % err)
    except (OSError, EOFError):
        raise BadManifest(499, 'Client disconnected')


def read_manifest_body(env, limit):
    """The client's manifest, at most ``limit`` bytes (else 413)."""
    length = env.get('CONTENT_LENGTH')
    if length not in (None, ''):
        try:
            length = int(length)
        except ValueError:
            raise BadManifest(400, 'Invalid Content-Length')
        if length > limit:
            raise BadManifest(413, 'Manifest File > %d bytes' % limit)
    elif 'chunked' not in env.get('HTTP_TRANSFER_ENCODING', '').lower():
        raise BadManifest(411, 'Length Required')
    source = env['wsgi.input']
    parts = []
    size = 0
    while True:
        chunk = read_client(source, min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BadManifest(413, 'Manifest File > %d bytes' % limit)
        parts.append(chunk)
    return b''.join(parts)


def decode_data(value):
    """Strict base64 (whitespace and missing padding tolerated)."""
    if not isinstance(value, str):
        raise ValueError('not a string')
    text = ''.join(value.split())
    text += '=' * (-len(text) % 4)
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise ValueError(str(err))


def _check_object_segment(seg, index, is_last, own_path):
    """The problem with an object-backed segment, or None."""
    path = seg['path']
    if not isinstance(path, str):
        return 'Index %d: "path" must be a string' % index
    if not (seg.get('etag') is None or isinstance(seg['etag'], str)):
        return 'Index %d: "etag" must be a string or null (if provided)' \
            % index
    inner = path.strip('/')
    if '/' not in inner or '\x00' in path:
        return 'Index %d: path does not refer to an object. Path must be ' \
            'of the form /container/object.' % index
    size = seg.get('size_bytes')
    if size is not None:
        if isinstance(size, bool) or isinstance(size, float) or (
                isinstance(size, str) and not size.strip().isdigit()):
            return 'Index %d: invalid size_bytes' % index
        try:
            size = seg['size_bytes'] = int(size)
        except (TypeError, ValueError):
            return 'Index %d: invalid size_bytes' % index
        if size < 0:
            return 'Index %d: invalid size_bytes' % index
        if size < 1 and not is_last:
            return 'Index %d: too small; each segment must be at least ' \
                '1 byte.' % index
    if '/' + path.lstrip('/') == own_path:
        return 'Index %d: manifest must not include itself as a segment' \
            % index
    rng = seg.get('range')
    if rng:
        if not isinstance(rng, str):
            return 'Index %d: invalid range' % index
        wanted = ranges.parse_range('bytes=' + rng, _HUGE)
        if wanted is None:
            return 'Index %d: invalid range' % index
        if len(rng.split(',')) > 1:
            return 'Index %d: multiple ranges (only one allowed)' % index
        if size is not None and \
                len(ranges.parse_range('bytes=' + rng, size) or ()) != 1:
            return 'Index %d: unsatisfiable range' % index
    elif 'range' in seg:
        del seg['range']
    return None


def parse_manifest(data, own_path):
    """Validated segment dicts from an uploaded manifest.

    ``own_path`` is the manifest's ``/container/object`` (text): a manifest
    may not name itself.  Raises BadManifest (400) listing every problem.
    """
    try:
        segments = json.loads(data)
    except (ValueError, RecursionError):   # RecursionError: deep nesting
        raise BadManifest(400, 'Manifest must be valid JSON.\n')
    if not isinstance(segments, list):
        raise BadManifest(400, 'Manifest must be a list.\n')
    if not segments:
        raise BadManifest(400, 'Manifest must have at least one segment.\n')
    problems = []
    last = len(segments) - 1
    for index, seg in enumerate(segments):
        if not isinstance(seg, dict):
            problems.append('Index %d: not a JSON object' % index)
            continue
        if 'data' in seg:
            allowed = ('data',)
        elif 'path' in seg:
            allowed = OBJECT_KEYS
        else:
            problems.append('Index %d: expected keys to include one of '
                            "'data' or 'path'" % index)
            continue
        extra = sorted(k for k in seg if k not in allowed)
        if extra:
            problems.append('Index %d: extraneous keys %s' % (
                index, ', '.join(json.dumps(k) for k in extra)))
            continue
        if 'path' in seg:
            problem = _check_object_segment(seg, index, index == last,
                                            own_path)
            if problem:
                problems.append(problem)
            continue
        try:
            raw = decode_data(seg['data'])
        except ValueError:
            problems.append('Index %d: data must be valid base64' % index)
            continue
        if not raw:
            problems.append('Index %d: too small; each segment must be at '
                            'least 1 byte.' % index)
            continue
        seg['data'] = base64.b64encode(raw).decode('ascii')
    if not problems and all('data' in seg for seg in segments):
        problems.append('Inline data segments require at least one '
                        'object-backed segment.')
    if problems:
        raise BadManifest(400, ''.join(p + '\n' for p in problems))
    return segments


def check_against_head(seg, head, allow_empty):
    """(stored entry, [problems]) for an object segment given its HEAD.

    ``head`` is a SubResponse of a successful HEAD of the segment.
    """
    problems = []
    try:
        size = int(head.headers.get('content-length'))
    except (TypeError, ValueError):
        return None, ['Unknown size']
    etag = unquote_etag(head.headers.get('etag'))
    entry = {'name': '/' + seg['path'].lstrip('/'), 'bytes': size,
             'hash': etag,
             'content_type': strip_swift_bytes(
                 head.headers.get('content-type', '')),
             'last_modified': iso_last_modified(
                 head.headers.get('last-modified'))}
    length = size
    if seg.get('range'):
        wanted = ranges.parse_range('bytes=' + seg['range'], size)
        if not wanted:
            problems.append('Unsatisfiable Range')
        elif wanted[0] != (0, size):
            first, stop = wanted[0]
            entry['range'] = '%d-%d' % (first, stop - 1)
            length = stop - first
    if length < 1 and not allow_empty:
        problems.append('Too small; each segment must be at least 1 byte.')
    if seg.get('size_bytes') is not None and seg['size_bytes'] != size:
        problems.append('Size Mismatch')
    if seg.get('etag') is not None and unquote_etag(seg['etag']) != etag:
        problems.append('Etag Mismatch')
    if is_slo(head.headers):
        entry['sub_slo'] = True
    return entry, problems


# ------------------------------------------------------ stored manifests

def segment_span(entry):
    """(first, stop) of the bytes an object entry contributes."""
    if entry.get('range'):
        first, _, last = entry['range'].partition('-')
        return int(first), int(last) + 1
    return 0, int(entry['bytes'])


def entry_length(entry):
    if 'data' in entry:
        return len(decode_data(entry['data']))
    first, stop = segment_span(entry)
    return stop - first


def slo_etag(entries):
    """The SLO ETag: MD5 over the parts' ETags (ranges and inline data
    folded in as Swift does)."""
    md5 = hashlib.md5()
    for entry in entries:
        if 'data' in entry:
            part = hashlib.md5(decode_data(entry['data'])).hexdigest()
        elif entry.get('range'):
            part = '%s:%s;' % (entry['hash'], entry['range'])
        else:
            part = entry['hash']
        md5.update(part.encode('ascii', 'replace'))
    return md5.hexdigest()


def slo_size(entries):
    return sum(entry_length(entry) for entry in entries)


def load_manifest(data):
    """Stored manifest bytes -> entries; ValueError when corrupt."""
    try:
        entries = json.loads(data)
    except RecursionError:
        raise ValueError('too deeply nested')
    if not isinstance(entries, list):
        raise ValueError('not a list')
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError('entry is not an object')
        try:
            if 'data' in entry:
                decode_data(entry['data'])
            else:
                segment_span(entry)
                str(entry['name']) + str(entry['hash'])
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError('bad entry: %r' % err)
    return entries


def raw_manifest(entries):
    """The stored entries in the upload format (JSON bytes), ready to be
    uploaded again."""
    out = []
    for entry in entries:
        if 'data' in entry:
            out.append({'data': entry['data']})
            continue
        item = {'path': entry['name'], 'etag': entry['hash'],
                'size_bytes': entry['bytes']}
        if entry.get('range'):
            item['range'] = entry['range']
        out.append(item)
    return json.dumps(out, sort_keys=True).encode('utf-8')


# ---------------------------------------------------------------- helpers

def best_format(accept):
    """The bulk-response format an Accept header asks for."""
    best, best_q = 'text/plain', -1.0
    for item in (accept or '').split(','):
        kind, _, params = item.strip().partition(';')
        kind = kind.strip().lower()
        q = 1.0
        for param in params.split(';'):
            key, _, value = param.strip().partition('=')
            if key.strip().lower() == 'q':
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for fmt in FORMATS:
            if q > 0 and q > best_q and kind in (
                    fmt, '*/*', fmt.split('/')[0] + '/*'):
                best, best_q = fmt, q
                break
    return best


def iso_last_modified(http_date):
    seconds = ranges.parse_http_date(http_date)
    if seconds is None:
        seconds = 0
    when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return when.strftime('%Y-%m-%dT%H:%M:%S.%f')
