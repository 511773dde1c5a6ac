"""Extract archive: the ``?extract-archive`` half of the bulk filter.

The request body is read as a tar stream (``tarfile`` mode ``r|*``:
plain, gzip, bzip2 or xz, recognised from the data) and never buffered:
each regular file becomes an object ``PUT`` subrequest whose body is read
straight out of the archive as the proxy -- and the virus scanner to our
right -- consume it, so memory stays at a chunk per upload whatever the
archive's size.  A member the scanner refuses (infected: ``403
Forbidden``) or anything else refuses is listed in ``Errors`` with its
name and status and not stored; the rest carry on, up to
``max_failed_extractions`` failures.

Where members land: the request's path (account, container or
pseudo-directory) plus the member's name; with an account path the first
name component is the container, and files at the top level are skipped.
Containers are created as needed (``HEAD`` then ``PUT``, as the client)
up to ``max_containers_per_extraction``.  Each object gets the request's
``X-Object-Meta-*``, ``X-Delete-At``/``-After`` and, from pax headers,
``user.mime_type`` as Content-Type and ``user.meta.*`` as metadata.

An archive that cannot be read (bad header, truncated, bad compression)
ends the operation with ``400 Invalid Tar File: <reason>`` (Swift's),
whatever was stored before stays.
"""
import tarfile
import zlib
from urllib.parse import quote

from middleware.bulk_answers import BulkError, Heartbeat, body_reader, \
    result_body, status_text
from middleware.large_objects import call_app, make_subrequest_env
from objproxy.common.constraints import LIMITS
from objproxy.common.paths import PathError, split_path
from objproxy.common.response import is_server_error

#: Read failures of an archive (bz2 and xz report theirs as OSError and
#: LZMAError, a subclass of Exception; tarfile wraps most in TarError).
ARCHIVE_ERRORS = (tarfile.TarError, zlib.error, EOFError, OSError)
try:
    import lzma
    ARCHIVE_ERRORS += (lzma.LZMAError,)
except ImportError:        # pragma: no cover - Python without lzma
    pass
PAX_PREFIXES = ('SCHILY.xattr.user.', 'LIBARCHIVE.xattr.user.')
COPIED_HEADERS = ('x-delete-at', 'x-delete-after')


class ArchiveError(Exception):
    """The archive could not be read; the reason is shown to the client."""


class ArchiveInput(object):
    """The request body as the file ``tarfile`` reads."""

    def __init__(self, read):
        self.read = read


class MemberInput(object):
    """One member's bytes as a subrequest's ``wsgi.input``.

    A failure reading the archive is remembered (the proxy turns any read
    failure into a client error of its own) so the operation can end with
    Swift's "Invalid Tar File" rather than the proxy's status.
    """

    def __init__(self, member):
        self.member = member
        self.error = None

    def read(self, size=-1):
        try:
            return self.member.read(size)
        except ARCHIVE_ERRORS as err:
            self.error = err
            raise EOFError('archive unreadable: %s' % err)

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 65536)


def pax_header(key):
    """The object header a pax key becomes, or None."""
    for prefix in PAX_PREFIXES:
        if key.startswith(prefix):
            rest = key[len(prefix):]
            if rest == 'mime_type':
                return 'Content-Type'
            if rest.startswith('meta.') and len(rest) > 5:
                return to_wsgi('X-Object-Meta-' + rest[5:])
    return None


def to_wsgi(text):
    return text.encode('utf-8', 'surrogateescape').decode('latin-1')


def valid_utf8(wsgi_text):
    try:
        text = wsgi_text.encode('latin-1').decode('utf-8')
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return '\x00' not in text


def quoted(wsgi_path):
    limit = (LIMITS['max_object_name_length'] +
             LIMITS['max_container_name_length'] + 2)
    return quote(wsgi_path[:limit].encode('latin-1'), safe='/')


def extract_iter(bulk, req, out_format):
    """The extract-archive answer body: heartbeats, then the results."""
    results = {'Response Status': status_text(201), 'Response Body': '',
               'Number Files Created': 0}
    errors = []
    beat = Heartbeat(bulk.yield_frequency, out_format, bulk.clock)
    try:
        if not out_format:
            raise BulkError(406, 'Not Acceptable')
        read = body_reader(req.environ)
        for chunk in Extraction(bulk, req, read, results, errors,
                                beat).run():
            yield chunk
    except BulkError as err:
        results['Response Status'] = status_text(err.status)
        results['Response Body'] = err.body
    except ArchiveError as err:
        results['Response Status'] = status_text(400)
        results['Response Body'] = 'Invalid Tar File: %s' % err
    except Exception:
        bulk.logger.exception('Error in extract archive.')
        results['Response Status'] = status_text(500)
    yield beat.separator + result_body(out_format, results, errors,
                                       'extract')


class Extraction(object):
    """Walks the archive and uploads its files; fills results/errors."""

    def __init__(self, bulk, req, read, results, errors, beat):
        self.bulk = bulk
        self.env = req.environ
        self.req = req
        self.read = read
        self.results = results
        self.errors = errors
        self.beat = beat
        self.containers_seen = set()
        self.containers_created = 0
        self.failure_status = 400

    def run(self):
        try:
            version, account, base = split_path(self.env['PATH_INFO'], 2, 3,
                                                 True)
        except (PathError, ValueError):
            raise BulkError(404, 'Not Found')
        self.prefix = '/%s/%s/' % (version, account)
        base = (base or '').rstrip('/')
        try:
            archive = tarfile.open(mode='r|*',
                                   fileobj=ArchiveInput(self.read))
            while True:
                due = self.beat.due()
                if due is not None:
                    yield due
                member = archive.next()
                if member is None or len(self.errors) >= \
                        self.bulk.max_failed_extractions:
                    break
                if member.isfile():
                    self.upload(archive, member, base)
        except ARCHIVE_ERRORS as err:
            raise ArchiveError(err)
        if self.errors:
            self.results['Response Status'] = status_text(
                self.failure_status)
        elif not self.results['Number Files Created']:
            self.results['Response Status'] = status_text(400)
            self.results['Response Body'] = 'Invalid Tar File: No Valid Files'

    def upload(self, archive, member, base):
        obj_path = to_wsgi(member.name)
        if obj_path.startswith('./'):
            obj_path = obj_path[2:]
        obj_path = obj_path.lstrip('/')
        if base:
            obj_path = base + '/' + obj_path
        if '/' not in obj_path:
            return                          # top-level file: no container
        container = obj_path.split('/', 1)[0]
        if not valid_utf8(self.prefix + obj_path):
            self.errors.append([quoted(obj_path), status_text(412)])
            return
        if member.size > LIMITS['max_file_size']:
            self.errors.append([quoted(obj_path), status_text(413)])
            return
        container_failure = None
        if container not in self.containers_seen:
            container_failure = self.ensure_container(container)

        source = MemberInput(archive.extractfile(member))
        env = make_subrequest_env(
            self.env, 'PUT', self.prefix + obj_path,
            headers=self.object_headers(member), source='EA',
            body=source, content_length=member.size)
        env['HTTP_USER_AGENT'] = '%s BulkExpand' % self.env.get(
            'HTTP_USER_AGENT', '')
        resp = call_app(self.bulk.app, env)
        resp.drain()
        if source.error is not None:
            raise ArchiveError(source.error)
        self.containers_seen.add(container)
        if resp.ok:
            self.results['Number Files Created'] += 1
            return
        if container_failure:
            self.errors.append(container_failure)
        if resp.status_int == 401:
            self.errors.append([quoted(obj_path), status_text(401)])
            raise BulkError(401, 'Unauthorized')
        if is_server_error(resp.status_int):
            self.failure_status = 502
        self.errors.append([quoted(obj_path), resp.status])

    def object_headers(self, member):
        headers = {}
        for key, value in self.req.headers.items():
            lkey = key.lower()
            if lkey in COPIED_HEADERS or lkey.startswith('x-object-meta-'):
                headers[key] = value
        for key, value in (member.pax_headers or {}).items():
            name = pax_header(key)
            if name:
                headers[name] = to_wsgi(value)
        return headers

    def ensure_container(self, container):
        """Create ``container`` if missing; None, or the failure to report
        should the upload into it fail too (ACLs may still let it in)."""
        path = self.prefix + container
        resp = self.container_call('HEAD', path)
        if resp.ok:
            return None
        if resp.status_int == 404:
            resp = self.container_call('PUT', path)
            if resp.ok:
                self.containers_created += 1
                if self.containers_created > \
                        self.bulk.max_containers_per_extraction:
                    raise BulkError(400, 'More than %d containers to create '
                                    'from tar.'
                                    % self.bulk.max_containers_per_extraction)
                return None
        if resp.status_int == 401:
            raise BulkError(401, 'Unauthorized')
        return [quoted(path), resp.status]

    def container_call(self, method, path):
        env = make_subrequest_env(self.env, method, path, source='EA')
        resp = call_app(self.bulk.app, env)
        resp.drain()
        return resp
