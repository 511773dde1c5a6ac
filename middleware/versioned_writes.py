"""versioned_writes: Swift's legacy object versioning (and the entry point
of the newer style).

Why: clients of Swift 2.x turn versioning on for a container with
``X-Versions-Location: <archive container>`` (stack mode) or
``X-History-Location: <archive container>`` (history mode), and expect
overwritten and deleted objects to be kept in that archive container:

* an object PUT (a COPY or ``X-Copy-From`` arrives here as a PUT, the copy
  filter on our left turns it into one) first copies the current object,
  if any, to ``<archive>/<len><name>/<timestamp>``, where ``<len>`` is the
  3-hex-digit length of the object name in UTF-8 bytes and ``<timestamp>``
  the archived object's own ``X-Timestamp`` (Swift's internal form, not
  inverted);
* a DELETE in stack mode puts the newest archived version back in place
  and removes it from the archive (an object with no archived version is
  simply deleted);
* a DELETE in history mode archives the current object, writes a
  zero-byte delete marker (content type
  ``application/x-deleted;swift_versions_deleted=1``) to the archive, then
  deletes the object.

The location is container sysmeta (``X-Container-Sysmeta-Versions-Location``
and ``-Versions-Mode``), shown to clients as ``X-Versions-Location`` or
``X-History-Location``.  Setting one mode removes the other; sending both
with values is 400; ``X-Remove-Versions-Location`` /
``X-Remove-History-Location`` (or an empty value) turn versioning off.

Authorisation is Swift's: the client must be allowed to write the
*versioned* container (its write ACL); the archive's GET/PUT/DELETE
subrequests are then made pre-authorised, so a user with write access to
the container versions into an archive container they cannot read.  The
subrequests go to the rest of the pipeline on our right (the proxy sees
raw SLO/DLO manifests and symlinks, so those are archived as themselves,
not as their content) and carry every header of the source object except
its timestamp, including the virus-scan verdict sysmeta
(``X-Object-Sysmeta-Av-*``): the clamav filter is on our left, so these
copies are not rescanned and keep the verdict of the content they copy.
Bodies stream from the GET into the PUT chunk by chunk.

Options, with Swift's names and defaults::

    [filter:versioned_writes]
    use = egg:objproxy#versioned_writes
    # Swift's legacy X-Versions-Location / X-History-Location.  Unset:
    # location headers on containers are ignored (as a Swift container
    # server without allow_versions); false: setting one is 412.
    allow_versioned_writes = false
    # Also wrap the app in the newer-style object_versioning middleware.
    allow_object_versioning = false

``GET /info`` shows ``versioned_writes: {allowed_flags: [...]}`` when
``allow_versioned_writes`` is true and ``object_versioning: {}`` when
``allow_object_versioning`` is true.
"""
import calendar
import json
import time
from urllib.parse import quote, unquote

from webob import Request

from objproxy.common import constraints
from objproxy.common.config import check_options, config_true_value, get_bool
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, str_to_wsgi, \
    wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.timestamp import Timestamp
from objproxy.proxy.info import get_container_info
from objproxy.common.response import (
    error_response, is_client_error, plain_error)
from middleware.large_objects import call_app, make_subrequest_env

SECTION = 'filter:versioned_writes'
KNOWN_OPTIONS = ('allow_versioned_writes', 'allow_object_versioning')
SOURCE = 'VW'

DELETE_MARKER_CONTENT_TYPE = 'application/x-deleted;swift_versions_deleted=1'
CLIENT_VERSIONS_LOC = 'x-versions-location'
CLIENT_HISTORY_LOC = 'x-history-location'
REMOVE_HEADERS = ('x-remove-versions-location', 'x-remove-history-location')
SYSMETA_VERSIONS_LOC = 'x-container-sysmeta-versions-location'
SYSMETA_VERSIONS_MODE = 'x-container-sysmeta-versions-mode'
HTTP_DATE = '%a, %d %b %Y %H:%M:%S GMT'
LISTING_LIMIT = 64 * 1024 * 1024
# Headers of a GET answer that describe that answer, not the object: they
# are not sent along when the object is written elsewhere.
NOT_COPIED = ('x-timestamp', 'content-length', 'date', 'last-modified',
              'x-trans-id', 'x-openstack-request-id', 'accept-ranges',
              'connection', 'transfer-encoding', 'content-range',
              'x-put-timestamp')


class IterReader(object):
    """``read(n)`` over a GET's body iterator: the archive PUT's input, so
    the copy streams a chunk at a time."""

    def __init__(self, app_iter):
        self._iter = iter(app_iter)
        self._buf = b''

    def read(self, size=-1):
        while size < 0 or len(self._buf) < size:
            chunk = next(self._iter, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            size = len(self._buf)
        data, self._buf = self._buf[:size], self._buf[size:]
        return data


class ErrorResponse(Exception):
    """Ends the request with ``response`` (a WSGI app)."""

    def __init__(self, response):
        super().__init__(getattr(response, 'status', response))
        self.response = response


def env_key(header):
    name = header.upper().replace('-', '_')
    if name in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
        return name
    return 'HTTP_' + name


def pre_authed_env(env, method, path, query_string='', headers=None,
                   body=None, content_length=None):
    """A subrequest made on the client's behalf that the proxy does not
    authorise again (the client's right was checked first, as in Swift).
    ``path`` is real text; it is turned into a WSGI path here."""
    sub = make_subrequest_env(env, method, str_to_wsgi(path),
                              query_string=query_string, headers=headers,
                              source=SOURCE, body=body,
                              content_length=content_length)
    sub['swift.authorize'] = lambda req: None
    sub['swift.authorize_override'] = True
    return sub


def version_prefix(obj):
    """``<3-hex-digit UTF-8 length><name>/``: an object's archive prefix."""
    return '%03x%s/' % (len(obj.encode('utf-8')), obj)


def version_name(obj, timestamp):
    return version_prefix(obj) + Timestamp(timestamp).internal


def location_container(value):
    """The archive container a stored location names: the value is
    URL-quoted by convention, but may be raw UTF-8 (kept as WSGI text)."""
    try:
        value = wsgi_to_str(value)
    except PathError:
        pass
    return unquote(value).split('/')[0]


def check_result(resp):
    """Swift's verdict on a failed archiving step: the client's fault
    (missing archive container, no permission) is 412, anything else 503."""
    if resp.ok:
        return
    resp.drain()
    if is_client_error(resp.status_int):
        raise ErrorResponse(error_response(412))
    raise ErrorResponse(error_response(503))


class ObjectVersioner(object):
    """Archive and restore operations for one object request."""

    def __init__(self, app, env, account, container, obj, versions):
        self.app = app
        self.env = env
        self.account = account        # real text, not WSGI strings
        self.container = container
        self.obj = obj
        self.versions = versions
        self.obj_path = '/v1/%s/%s/%s' % (account, container, obj)

    def _call(self, method, path, **kwargs):
        return call_app(self.app, pre_authed_env(self.env, method, path,
                                                 **kwargs))

    def version_path(self, name):
        return '/v1/%s/%s/%s' % (self.account, self.versions, name)

    def authorize(self):
        """The client's write right on the versioned container; raises the
        auth filter's answer when it is refused."""
        authorize = self.env.get('swift.authorize')
        if not authorize or self.env.get('swift.authorize_override'):
            return
        info = get_container_info(self.env, self.app, self.account,
                                  self.container)
        req = Request(self.env)
        req.acl = info.get('write_acl')
        denied = authorize(req)
        if denied:
            raise ErrorResponse(denied)

    # -- the pieces -------------------------------------------------------

    def get_source(self, path):
        """The object at ``path`` as stored (manifest, symlink), newest
        replica; a SubResponse whose body is not read yet."""
        resp = self._call('GET', path, query_string='symlink=get',
                          headers={'X-Newest': 'True'})
        if resp.status_int == 404 or not resp.ok:
            return resp
        try:
            length = int(resp.headers.get('content-length'))
        except (TypeError, ValueError):
            length = None
        if length is None or length > constraints.LIMITS['max_file_size']:
            resp.close()
            raise ErrorResponse(error_response(413))
        return resp

    def put_copy(self, path, source):
        """Stream ``source`` into a PUT at ``path`` with its headers."""
        headers = {}
        for key, value in source.header_list:
            lkey = key.lower()
            if lkey in NOT_COPIED or lkey.startswith('x-backend-'):
                continue
            headers[key] = value
        slo_size = source.headers.get('x-object-sysmeta-slo-size')
        ctype_key = next((k for k in headers if k.lower() == 'content-type'),
                         None)
        if slo_size and ctype_key:
            # the archived manifest's listing row shows the SLO's size
            headers[ctype_key] += ';swift_bytes=' + slo_size
        try:
            put = self._call('PUT', path, headers=headers,
                             body=IterReader(source.app_iter),
                             content_length=source.headers['content-length'])
        finally:
            source.close()
        check_result(put)
        put.drain()

    def archive_current(self):
        """Copy the current object, if there is one, into the archive."""
        self.authorize()
        source = self.get_source(self.obj_path)
        if source.status_int == 404:
            source.drain()
            return
        check_result(source)
        stamp = source.headers.get('x-timestamp')
        if not stamp:
            stamp = calendar.timegm(time.strptime(
                source.headers['last-modified'], HTTP_DATE))
        self.env['QUERY_STRING'] = ''
        self.put_copy(self.version_path(version_name(self.obj, stamp)),
                      source)

    def write_delete_marker(self):
        path = self.version_path(version_name(self.obj, time.time()))
        resp = self._call('PUT', path, content_length=0, headers={
            'Content-Type': DELETE_MARKER_CONTENT_TYPE})
        check_result(resp)
        resp.drain()

    def restore(self, name):
        """Copy archived version ``name`` over the object; its archive path,
        or None when it has gone in the meantime."""
        path = self.version_path(name)
        source = self.get_source(path)
        if source.status_int == 404:
            source.drain()
            return None
        check_result(source)
        self.put_copy(self.obj_path, source)
        return path

    def listing(self):
        """The object's archived versions, newest first, a page at a time
        (404: no archive container, no versions)."""
        marker = ''
        prefix = version_prefix(self.obj)
        path = '/v1/%s/%s' % (self.account, self.versions)
        while True:
            query = 'format=json&reverse=on&prefix=%s&marker=%s' % (
                quote(prefix, safe=''), quote(marker, safe=''))
            resp = self._call('GET', path, query_string=query)
            if resp.status_int == 404:
                resp.drain()
                return
            if not resp.ok:
                resp.drain()
                if is_client_error(resp.status_int):
                    raise ErrorResponse(error_response(412))
                raise ErrorResponse(error_response(500))
            if resp.status_int == 204:
                resp.drain()
                return
            try:
                page = json.loads(resp.read(LISTING_LIMIT) or b'[]')
            except ValueError:
                raise ErrorResponse(error_response(500))
            if not page:
                return
            for item in page:
                yield item
            marker = page[-1]['name']

    # -- the modes ------------------------------------------------------

    def history_delete(self):
        self.archive_current()
        self.write_delete_marker()

    def stack_delete(self):
        """Pop the newest archived version over the object.  Returns the
        environ of the DELETE to run instead of the client's, or None to
        run the client's own."""
        items = self.listing()
        authed = False
        for item in items:
            if not authed:
                self.authorize()
                authed = True
            if item.get('content_type') == DELETE_MARKER_CONTENT_TYPE:
                return self._delete_past_marker(items, item)
            self.env['QUERY_STRING'] = ''
            restored = self.restore(item['name'])
            if not restored:
                continue
            return pre_authed_env(self.env, 'DELETE', restored)
        return None

    def _delete_past_marker(self, items, marker):
        """The newest archive entry is a delete marker (the container was
        in history mode): with an object in place, the DELETE just
        removes it; otherwise the version before the marker comes back
        and the marker goes."""
        head = self._call('HEAD', self.obj_path,
                          headers={'X-Newest': 'True'})
        head.drain()
        if head.status_int != 404:
            check_result(head)
            return None
        for item in items:
            if item.get('content_type') == DELETE_MARKER_CONTENT_TYPE:
                break
            self.env['QUERY_STRING'] = ''
            restored = self.restore(item['name'])
            if not restored:
                continue
            gone = self._call('DELETE', restored)
            gone.drain()
            if gone.status_int != 404:
                check_result(gone)
            break
        return pre_authed_env(self.env, 'DELETE',
                              self.version_path(marker['name']))


class VersionedWritesMiddleware(object):
    """The ``versioned_writes`` filter (legacy modes)."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.conf = conf
        self.logger = logger or get_logger(conf, log_route='versioned_writes')
        # unset (None, or empty) differs from false, as in Swift
        self.allow = conf.get('allow_versioned_writes') or None

    def __call__(self, env, start_response):
        try:
            _ver, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 3, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        try:
            if not obj:
                return self.container_request(env, start_response)
            if env.get('REQUEST_METHOD') in ('PUT', 'DELETE'):
                return self.object_request(env, start_response, account,
                                           container, obj)
        except ErrorResponse as err:
            return err.response(env, start_response)
        return self.app(env, start_response)

    # -- containers -----------------------------------------------------

    def container_request(self, env, start_response):
        if self.allow is None:
            # like a Swift container server without allow_versions: the
            # location headers are not stored
            for header in (CLIENT_VERSIONS_LOC, CLIENT_HISTORY_LOC):
                env.pop(env_key(header), None)
            if any(env.get(env_key(h)) for h in REMOVE_HEADERS):
                env[env_key(CLIENT_VERSIONS_LOC)] = ''
            return self.app(env, start_response)
        self.translate_request(env)
        return self.app(env, self.translating_start(start_response))

    def translate_request(self, env):
        """Client location headers to sysmeta; ErrorResponse if invalid."""
        vkey, hkey = env_key(CLIENT_VERSIONS_LOC), env_key(CLIENT_HISTORY_LOC)
        if vkey in env and hkey in env:
            if not env[hkey]:
                del env[hkey]            # an empty history: versions wins
            elif env[vkey]:
                raise ErrorResponse(plain_error(
                    400, 'Only one of %s or %s may be specified' % (
                        CLIENT_VERSIONS_LOC, CLIENT_HISTORY_LOC)))
            else:
                del env[vkey]
        remove = [env_key(h) for h in REMOVE_HEADERS]
        if vkey in env or hkey in env:
            mode = 'stack' if vkey in env else 'history'
            value = env[vkey] if vkey in env else env[hkey]
            if not value:
                env[remove[0]] = 'x'
            elif (not config_true_value(self.allow) and
                  env.get('REQUEST_METHOD') in ('PUT', 'POST')):
                raise ErrorResponse(plain_error(
                    412, 'Versioned Writes is disabled'))
            else:
                if '/' in value:
                    raise ErrorResponse(plain_error(
                        412, 'Container name cannot contain slashes'))
                env[env_key(SYSMETA_VERSIONS_LOC)] = value
                env[env_key(SYSMETA_VERSIONS_MODE)] = mode
                # only the sysmeta says where versions go; the plain
                # headers are cleared so no stale copy is kept
                env[vkey] = ''
                env[hkey] = ''
                for key in remove:
                    env.pop(key, None)
        if any(env.get(key) for key in remove):
            for key in (vkey, hkey, env_key(SYSMETA_VERSIONS_LOC),
                        env_key(SYSMETA_VERSIONS_MODE)):
                env[key] = ''
        for key in remove:
            env.pop(key, None)

    @staticmethod
    def translating_start(start_response):
        """Show the sysmeta location under the client's header name."""
        def start(status, headers, exc_info=None):
            lower = dict((k.lower(), v) for k, v in headers)
            location = lower.get(SYSMETA_VERSIONS_LOC)
            mode = lower.get(SYSMETA_VERSIONS_MODE)
            drop = (CLIENT_HISTORY_LOC, CLIENT_VERSIONS_LOC) if location \
                else (CLIENT_HISTORY_LOC,)
            headers = [(k, v) for k, v in headers if k.lower() not in drop]
            if location:
                name = 'X-History-Location' if mode == 'history' \
                    else 'X-Versions-Location'
                headers.append((name, location))
            return start_response(status, headers, exc_info)
        return start

    # -- objects --------------------------------------------------------

    def object_request(self, env, start_response, account, container, obj):
        try:
            account, container, obj = (wsgi_to_str(account),
                                       wsgi_to_str(container),
                                       wsgi_to_str(obj))
        except PathError:
            return self.app(env, start_response)
        enabled = config_true_value(self.allow)
        info = get_container_info(env, self.app, account, container)
        sysmeta = info.get('sysmeta') or {}
        versions = sysmeta.get('versions-location')
        mode = sysmeta.get('versions-mode') or 'stack'
        if not versions:
            # a location stored the pre-sysmeta way (plain metadata)
            versions = info.get('versions')
            if self.allow is None and versions:
                enabled = True
        if not (enabled and versions):
            return self.app(env, start_response)
        versions = location_container(versions)
        versioner = ObjectVersioner(self.app, env, account, container, obj,
                                    versions)
        if env['REQUEST_METHOD'] == 'PUT':
            versioner.archive_current()
            return self.app(env, start_response)
        if mode == 'history':
            versioner.history_delete()
            return self.app(env, start_response)
        replacement = versioner.stack_delete()
        if replacement is None:
            return self.app(env, start_response)
        return self.app(replacement, start_response)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    allow_vw = get_bool(conf, 'allow_versioned_writes', False, SECTION)
    allow_ov = get_bool(conf, 'allow_object_versioning', False, SECTION)
    if allow_vw:
        register_info('versioned_writes', allowed_flags=[
            CLIENT_VERSIONS_LOC, CLIENT_HISTORY_LOC])
    if allow_ov:
        from middleware import object_versioning
        object_versioning.register_info(conf)

    def factory(app):
        if allow_ov:
            from middleware.object_versioning import \
                ObjectVersioningMiddleware
            app = ObjectVersioningMiddleware(app, conf)
        return VersionedWritesMiddleware(app, conf)
    return factory
