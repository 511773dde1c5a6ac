"""object_versioning: object requests in a versioned container.

Why a module of its own: this is where versions are made.  A PUT while
versioning is enabled writes the client's bytes (already being scanned
by clamav on our left, its verdict sysmeta in the request headers) to
``\\x00<obj>\\x00<inverted ts>`` in the hidden container, then makes the
object's name a static symlink to it; an object written before
versioning was enabled is first copied aside (its headers, verdict
sysmeta included, travel with it).  A DELETE writes a delete marker
version and removes the symlink.  ``?version-id=`` reaches one version
(GET, HEAD, DELETE; PUT makes it the current one again).
"""
import mimetypes
from urllib.parse import quote, unquote, urlsplit

from middleware.object_versioning_internal import (
    CountingReader, IterReader, VersioningError, call, check, drain,
    make_env)
from middleware.symlink import client_sent_content_type
from middleware.object_versioning_names import (
    DELETE_MARKER_CONTENT_TYPE, NULL_VERSION, SYMLINK_ALLOW_RESERVED,
    SYMLINK_TARGET, SYMLINK_TARGET_ACCOUNT, SYMLINK_TARGET_BYTES_SYSMETA,
    SYMLINK_TARGET_ETAG_SYSMETA, SYMLOOP_EXTEND, SYSMETA_VERSIONS_SYMLINK,
    parse_version_id, split_version, version_object)
from objproxy.common.config import config_true_value
from objproxy.common.paths import PathError, split_path
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.info import get_container_info
from objproxy.common.response import is_success

NO_VERSIONS_CONTAINER = (b'The versions container does not exist. You may '
                         b'want to re-enable object versioning.')
# never copied from a stored object's answer to the PUT that copies it
NOT_COPIED = ('x-timestamp', 'last-modified', 'date', 'accept-ranges',
              'x-trans-id', 'x-openstack-request-id', 'content-range',
              'transfer-encoding', 'connection', 'content-location',
              'x-object-version-id')
# a version symlink is zero bytes and points at exactly one version
NOT_FOR_SYMLINK = ('etag', 'x-if-delete-at', SYMLINK_TARGET_ACCOUNT.lower(),
                   'x-object-manifest', 'x-static-large-object',
                   'x-object-sysmeta-slo-etag', 'x-object-sysmeta-slo-size',
                   'transfer-encoding', 'content-length', 'x-copy-from',
                   'x-copy-from-account', 'if-none-match')


def is_delete_marker(content_type):
    return (content_type or '').replace(' ', '') == \
        DELETE_MARKER_CONTENT_TYPE


def _is_expiry(name):
    return name.lower() in ('x-delete-at', 'x-delete-after')


class ObjectVersioning(object):
    """One object request in a container with a versions container (or a
    ``?version-id=`` request anywhere)."""

    def __init__(self, app, req, account, container, obj, vcont, enabled):
        self.app = app
        self.req = req
        self.env = req.environ
        self.account = account
        self.container = container
        self.obj = obj
        self.vcont = vcont
        self.enabled = enabled

    # -- paths -------------------------------------------------------------
    @property
    def path(self):
        return '/v1/%s/%s/%s' % (self.account, self.container, self.obj)

    def version_path(self, version_id):
        return '/v1/%s/%s/%s' % (self.account, self.vcont,
                                 version_object(self.obj, version_id))

    def sub(self, method, path, **kwargs):
        return make_env(self.env, method, path, **kwargs)

    # -- without ?version-id ----------------------------------------------
    def handle(self):
        method = self.req.method
        if method == 'PUT':
            return self.put() if self.enabled else None
        if method == 'DELETE':
            return self.delete() if self.enabled else None
        if method == 'POST':
            return self.post()
        return self.get_or_head()

    def _authorize(self, acl):
        authorize = self.env.get('swift.authorize')
        if not authorize or self.env.get('swift.authorize_override'):
            return
        self.req.acl = acl
        denial = authorize(self.req)
        if denial:
            raise VersioningError(denial.status_int, denial.body,
                                  dict(denial.headers))

    def _authorize_write(self):
        """The client may write here: checked before anything is copied."""
        info = get_container_info(self.env, self.app, self.account,
                                  self.container)
        self._authorize(info.get('write_acl'))

    def _authorize_version(self):
        """The client may reach a stored version.  Swift checks it against
        the hidden container, which no client can give ACLs: only the
        owner (or an account ACL) passes, never the client container's
        ACLs.  Checked here, on the client's own path, so the check does
        not depend on every auth filter parsing reserved names; the
        hidden-name subrequests are then pre-authorised."""
        self._authorize(None)

    def copy_current(self):
        """Copy an object written before versioning was enabled into the
        hidden container (as version ``null`` becomes a real one)."""
        self._authorize_write()
        src = call(self.app, self.sub('GET', self.path, preauth=True,
                                      query={'symlink': 'get'},
                                      headers={'X-Newest': 'true'}))
        if src.status_int == 404:
            drain(src)
            return
        check(src)
        if config_true_value(src.headers.get(SYSMETA_VERSIONS_SYMLINK)):
            drain(src)
            return
        stamp = src.headers.get('X-Timestamp')
        try:
            version_id = parse_version_id(stamp).internal
        except (TypeError, ValueError):
            version_id = Timestamp(src.last_modified.timestamp()).internal
        headers = dict((k, v) for k, v in src.headers.items()
                       if k.lower() not in NOT_COPIED and
                       not k.lower().startswith('x-backend-'))
        slo_size = src.headers.get('X-Object-Sysmeta-Slo-Size')
        if slo_size and 'swift_bytes=' not in headers.get('Content-Type',
                                                          ''):
            headers['Content-Type'] = '%s;swift_bytes=%s' % (
                headers.get('Content-Type', ''), slo_size)
        if src.content_length is None:
            headers['Transfer-Encoding'] = 'chunked'
        reader = IterReader(src.app_iter)
        try:
            put = call(self.app, self.sub(
                'PUT', self.version_path(version_id), preauth=True,
                reserved=True, headers=headers, body=reader))
        finally:
            reader.close()
        if put.status_int == 404:
            drain(put)
            raise VersioningError(500, NO_VERSIONS_CONTAINER)
        check(put)
        drain(put)

    def put(self):
        self.copy_current()
        version_id = Timestamp.now().internal
        headers = dict((k, v) for k, v in self.req.headers.items()
                       if not _is_expiry(k))
        if not client_sent_content_type(self.env) or config_true_value(
                self.req.headers.get('X-Detect-Content-Type')):
            # guessed from the client's name, not the hidden one; a link
            # gets its target's (the symlink filter fills it in)
            headers.pop('Content-Type', None)
            headers.pop('X-Detect-Content-Type', None)
            if SYMLINK_TARGET not in headers:
                headers['Content-Type'] = (
                    mimetypes.guess_type(self.obj)[0] or
                    'application/octet-stream')
        counter = CountingReader(self.env['wsgi.input'])
        put_req = self.sub('PUT', self.version_path(version_id),
                           preauth=True, reserved=True, headers=headers,
                           body=counter)
        if 'swift.content_type_overridden' in self.env:
            put_req.environ['swift.content_type_overridden'] = True
        put = call(self.app, put_req)
        if put.status_int == 404:
            drain(put)
            raise VersioningError(500, NO_VERSIONS_CONTAINER)
        check(put)
        drain(put)
        size = self.req.headers.get('X-Object-Sysmeta-Slo-Size') or \
            counter.bytes_read
        # what the version was stored with, as filters on our right left it
        ctype = put_req.environ.get('CONTENT_TYPE') or \
            'application/octet-stream'
        return self.link_to(version_id, put.headers.get('Etag'), size,
                            ctype.split(';')[0].strip())

    def link_to(self, version_id, etag, size, ctype):
        """Make the object's name a static symlink to this version."""
        headers = dict((k, v) for k, v in self.req.headers.items()
                       if k.lower() not in NOT_FOR_SYMLINK)
        target = '%s/%s' % (self.vcont, version_object(self.obj, version_id))
        headers.update({
            SYMLINK_TARGET: quote(target),
            SYMLINK_TARGET_ETAG_SYSMETA: (etag or '').strip('"'),
            SYMLINK_TARGET_BYTES_SYSMETA: str(size),
            SYSMETA_VERSIONS_SYMLINK: 'true',
            SYMLOOP_EXTEND: 'true',
            SYMLINK_ALLOW_RESERVED: 'true',
            'Content-Type': ctype,
        })
        # the client's write was authorised before anything was written;
        # a static link's target check then reads the hidden version
        resp = call(self.app, self.sub('PUT', self.path, headers=headers,
                                       reserved=True, preauth=True))
        drain(resp)
        if is_success(resp.status_int):
            resp.headers['Etag'] = etag
            resp.headers['X-Object-Version-Id'] = version_id
        return resp

    def delete(self):
        self.copy_current()
        marker_id = Timestamp.now().internal
        marker = call(self.app, self.sub(
            'PUT', self.version_path(marker_id), preauth=True,
            reserved=True, headers={
                'Content-Type': DELETE_MARKER_CONTENT_TYPE,
                'Content-Length': '0'}))
        check(marker)
        drain(marker)
        resp = call(self.app, self.sub(
            'DELETE', self.path, headers=dict(self.req.headers)))
        drain(resp)
        if is_success(resp.status_int) or resp.status_int == 404:
            resp.headers['X-Object-Version-Id'] = marker_id
        return resp

    def post(self):
        """A POST to the version symlink (the symlink filter answers 307)
        goes on to the current version, the object's real metadata."""
        # taken before the request goes on: filters may change its headers
        headers = dict((k, v) for k, v in self.req.headers.items()
                       if not _is_expiry(k))
        if not client_sent_content_type(self.env):
            headers.pop('Content-Type', None)   # eventlet's default
        resp = call(self.app, self.req)
        if resp.status_int != 307 or not config_true_value(
                resp.headers.get(SYSMETA_VERSIONS_SYMLINK)):
            return resp
        location = unquote(urlsplit(resp.headers.get('Location', '')).path)
        try:
            _v, account, container, _o = split_path(
                location, 4, 4, True, allow_reserved=True)
        except PathError:
            return resp
        if (account, container) != (self.account, self.vcont):
            return resp
        drain(resp)
        # the client's POST was authorised for the link it names
        return call(self.app, self.sub('POST', location, reserved=True,
                                       preauth=True, headers=headers))

    def get_or_head(self):
        resp = call(self.app, self.req)
        resp.headers['X-Object-Version-Id'] = NULL_VERSION
        location = unquote(resp.headers.get('Content-Location', ''))
        if location:
            try:
                _v, account, container, vobj = split_path(
                    location, 4, 4, True, allow_reserved=True)
            except PathError:
                account = None
            if account == self.account and container == self.vcont:
                _name, version = split_version(vobj)
                if version is not None:
                    resp.headers['X-Object-Version-Id'] = version.internal
                    resp.headers['Content-Location'] = '%s?version-id=%s' % (
                        quote(self.path), version.internal)
        target = unquote(resp.headers.get(SYMLINK_TARGET, ''))
        container, _, vobj = target.partition('/')
        if vobj and container == self.vcont:
            _name, version = split_version(vobj)
            if version is not None:
                resp.headers['X-Object-Version-Id'] = version.internal
                resp.headers[SYMLINK_TARGET] = '%s?version-id=%s' % (
                    quote('%s/%s' % (self.container, self.obj)),
                    version.internal)
        return resp

    # -- ?version-id= -------------------------------------------------------
    def handle_version(self, version):
        """A request for one version; None lets it pass on unchanged."""
        method = self.req.method
        if method == 'POST':
            raise VersioningError(400, 'POST to a specific version is not '
                                  'allowed')
        if not self.vcont and version != NULL_VERSION:
            raise VersioningError(400, 'version-aware operations require '
                                  'that the container is versioned')
        if version != NULL_VERSION or method == 'PUT':
            try:
                version = parse_version_id(version).internal
            except ValueError:
                raise VersioningError(400, 'Invalid version parameter')
        if method == 'DELETE':
            return self.delete_version(version)
        if method == 'PUT':
            return self.restore_version(version)
        if version == NULL_VERSION:
            return self.get_null_version()
        return self.get_version(version)

    def get_null_version(self):
        resp = call(self.app, self.req)
        if is_success(resp.status_int):
            location = unquote(resp.headers.get('Content-Location', ''))
            if '\x00versions\x00' in location:
                # the current object is a real version, not "null"
                drain(resp)
                raise VersioningError(404)
            resp.headers['X-Object-Version-Id'] = NULL_VERSION
        return resp

    def get_version(self, version):
        self._authorize_version()
        req = self.sub(self.req.method, self.version_path(version),
                       headers=dict(self.req.headers), reserved=True,
                       preauth=True)
        # the rest of the client's query still applies (part-number,
        # multipart-manifest, symlink=get ...)
        req.environ['QUERY_STRING'] = '&'.join(
            part for part in self.env.get('QUERY_STRING', '').split('&')
            if part and part.split('=', 1)[0] != 'version-id')
        resp = call(self.app, req)
        if is_success(resp.status_int):
            resp.headers['X-Object-Version-Id'] = version
        if is_delete_marker(resp.headers.get('Content-Type')):
            drain(resp)
            raise VersioningError(404, headers={
                'X-Object-Version-Id': version,
                'Content-Type': DELETE_MARKER_CONTENT_TYPE})
        return resp

    def current_target(self):
        """(no current object, the hidden path its version symlink points
        at or None)."""
        head = call(self.app, self.sub(
            'HEAD', self.path, preauth=True, query={'symlink': 'get'},
            headers={'X-Newest': 'true'}))
        drain(head)
        if head.status_int == 404:
            return True, None
        check(head)
        if not config_true_value(head.headers.get(SYSMETA_VERSIONS_SYMLINK)):
            return False, None
        return False, unquote(head.headers.get(SYMLINK_TARGET, '')) or None

    def delete_version(self, version):
        if version == NULL_VERSION:
            return None        # the object at its own name, as it is
        self._authorize_version()
        gone, target = self.current_target()
        vname = version_object(self.obj, version)
        headers = dict(self.req.headers)
        if target == '%s/%s' % (self.vcont, vname):
            # the current version: its symlink goes first, then the data
            link = call(self.app, self.sub('DELETE', self.path,
                                           headers=headers))
            check(link)
            drain(link)
            current = NULL_VERSION
        elif gone or not target:
            current = NULL_VERSION
        else:
            _name, ts = split_version(target.partition('/')[2])
            current = ts.internal if ts else NULL_VERSION
        resp = call(self.app, self.sub('DELETE', self.version_path(version),
                                       headers=headers, reserved=True,
                                       preauth=True))
        drain(resp)
        resp.headers['X-Object-Version-Id'] = version
        resp.headers['X-Object-Current-Version-Id'] = current
        return resp

    def restore_version(self, version):
        """PUT ?version-id=: make that version the current one again."""
        req = self.req
        if 'chunked' in req.headers.get('Transfer-Encoding', '').lower():
            # the server's own input: webob hands out an empty stream for
            # a chunked body it was not told is readable
            has_body = req.environ['wsgi.input'].read(1) != b''
        elif req.content_length is None:
            raise VersioningError(411)
        else:
            has_body = req.content_length != 0
        if has_body:
            raise VersioningError(400, 'PUT version-id requests require a '
                                  'zero byte body')
        self._authorize_write()
        head = call(self.app, self.sub(
            'HEAD', self.version_path(version), preauth=True,
            reserved=True, query={'symlink': 'get'}))
        drain(head)
        if head.status_int == 404:
            from middleware.object_versioning_containers import \
                versions_stats
            stats = versions_stats(self.app, self.env, self.account,
                                   self.vcont)
            if is_success(stats.status_int):
                raise VersioningError(404, 'The specified version does not '
                                      'exist')
            raise VersioningError(500, NO_VERSIONS_CONTAINER)
        check(head)
        return self.link_to(version, head.headers.get('Etag'),
                            head.content_length or 0,
                            head.headers.get('Content-Type', ''))
