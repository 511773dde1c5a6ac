"""symlink: objects that point at other objects (Swift's symlink filter).

Why: clients (and object versioning) want one name to serve another
object's content without copying it -- e.g. a stable name for the latest
build, or a name in one container for an object stored in another.

The API, as Swift 2.38:

* ``PUT`` with ``X-Symlink-Target: <container>/<object>`` (and optionally
  ``X-Symlink-Target-Account``) and an empty body writes a link: the
  headers become object sysmeta (``X-Object-Sysmeta-Symlink-Target``,
  ``-Target-Account``), the content type defaults to
  ``application/symlink``.  A body is 400, a malformed target 412, a link
  to itself 400.  The target need not exist.
* ``X-Symlink-Target-Etag`` makes a *static* link: the target is read
  (HEAD, as the client) at PUT and must exist (409) and have that ETag
  (409); its ETag and size (``X-Object-Sysmeta-Symlink-Target-Etag``,
  ``-Bytes``) are recorded and checked again on every read.
* ``GET``/``HEAD`` follow links (``middleware.symlink_follow``), each hop
  authorized as the client, up to ``symloop_max`` links (409 beyond);
  ``Content-Location`` names the object served.  ``?symlink=get`` reads
  the link itself, its sysmeta shown as ``X-Symlink-Target*``.
* ``POST`` updates the link's own metadata and answers 307 with
  ``Location`` of the target; ``X-Symlink-Target`` on a POST is 400.
* ``DELETE``, ``OPTIONS`` and plain ``PUT`` treat the link as an object;
  ``COPY`` is the copy filter's GET of the source, so it copies the
  target, or the link itself with ``?symlink=get``.
* Container listings: the link's row carries the target in its ETag's
  parameters (``X-Object-Sysmeta-Container-Update-Override-Etag:
  <etag>; symlink_target=...``); JSON listings are rewritten to show
  ``symlink_path`` (and ``symlink_etag``/``symlink_bytes`` for static
  links) with the plain ETag in ``hash``.

Middleware contract (Swift's): a subrequest that sets
``swift.symlink_override`` in its environ with ``X-Symlink-Target-Etag``
and ``X-Symlink-Target-Bytes`` gets a static link without the target
check; its link may carry ``X-Object-Sysmeta-Allow-Reserved-Names`` and
``X-Object-Sysmeta-Symloop-Extend`` (see ``symlink_follow``).

Config (Swift's option)::

    [filter:symlink]
    use = egg:objproxy#symlink
    # Links followed in a row before a GET/HEAD answers 409 (a value
    # below 1 means the default, as Swift).
    symloop_max = 2
"""
import json
from urllib.parse import parse_qs

from objproxy.common.config import ConfigError, check_options
from objproxy.common.paths import (
    PathError, reserved_names_allowed, split_path)
from objproxy.common.registry import register_info
from objproxy.common.response import error_response
from middleware.large_objects import (
    LISTING_BODY_LIMIT, ClosingIter, call_app, make_subrequest_env, pass_on, respond)
from middleware.symlink_follow import (
    MD5_OF_EMPTY_STRING, SYSMETA_ACCOUNT,
    SYSMETA_BYTES, SYSMETA_ETAG, SYSMETA_TARGET, LinkConflict, LinkWalker,
    TooManyLinks, ignore_range_on_links, pre_authorize, wsgi_quote,
    wsgi_unquote)
from middleware.symlink_listing import rewrite_listing

SECTION = 'filter:symlink'
DEFAULT_SYMLOOP_MAX = 2
TARGET_ENV = 'HTTP_X_SYMLINK_TARGET'
ACCOUNT_ENV = 'HTTP_X_SYMLINK_TARGET_ACCOUNT'
ETAG_ENV = 'HTTP_X_SYMLINK_TARGET_ETAG'
BYTES_ENV = 'HTTP_X_SYMLINK_TARGET_BYTES'
OVERRIDE_ETAG_ENV = 'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG'
OVERRIDE_ETAG = 'x-object-sysmeta-container-update-override-etag'
# sysmeta shown to a ?symlink=get reader under the client's names
SYSMETA_TO_CLIENT = (
    (SYSMETA_TARGET, 'X-Symlink-Target'),
    (SYSMETA_ACCOUNT, 'X-Symlink-Target-Account'),
    (SYSMETA_ETAG, 'X-Symlink-Target-Etag'),
    (SYSMETA_BYTES, 'X-Symlink-Target-Bytes'),
)
TARGET_FORM = ('X-Symlink-Target header must be of the form '
               '<container name>/<object name>')
POST_APPLIED = ('The requested POST was applied to a symlink. POST '
                'directly to the target to apply requested metadata.')


def env_key(header):
    return 'HTTP_' + header.upper().replace('-', '_')


def env_for(header):
    return env_key(header) if header.lower() != 'content-type' \
        else 'CONTENT_TYPE'


class Refused(Exception):
    """A request answered here: status, body, extra headers."""

    def __init__(self, status, body, headers=None,
                 content_type='text/plain; charset=UTF-8'):
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.content_type = content_type

    def __call__(self, env, start_response):
        if self.body is None:
            return error_response(self.status, headers=self.headers)(
                env, start_response)
        body = respond(start_response, self.status, self.body,
                       self.headers, self.content_type)
        # a HEAD gets the length of the body it does not get, as Swift
        return [] if env.get('REQUEST_METHOD') == 'HEAD' else body


def client_sent_content_type(env):
    """Whether the request carries a real Content-Type: eventlet fills in
    ``text/plain`` when a client sent none (``headers_raw`` tells), while
    one a filter set (object versioning's link PUT) is real."""
    ctype = env.get('CONTENT_TYPE')
    if not ctype:
        return False
    raw = env.get('headers_raw')
    return raw is None or ctype != 'text/plain' or any(
        k.lower() == 'content-type' for k, _ in raw)


def set_content_type(env, value):
    """Give the request a Content-Type the proxy keeps (it drops one the
    client did not send, judging by ``headers_raw``)."""
    env['CONTENT_TYPE'] = value
    raw = env.get('headers_raw')
    if raw is not None and not any(k.lower() == 'content-type'
                                   for k, _ in raw):
        env['headers_raw'] = tuple(raw) + (('Content-Type', value),)


def validate_link_headers(env, account, container, obj):
    """Check and normalize the X-Symlink-* headers of a link PUT.

    Returns the target's quoted path and the static ETag (None for a
    dynamic link); raises Refused with Swift's status and message."""
    target = env[TARGET_ENV]
    if wsgi_unquote(target).startswith('/'):
        raise Refused(412, TARGET_FORM)
    try:
        tgt_container, tgt_obj = split_path(
            '/' + wsgi_unquote(target), 2, 2, True,
            allow_reserved=reserved_names_allowed(env))
    except PathError:
        raise Refused(412, TARGET_FORM)
    env[TARGET_ENV] = wsgi_quote('%s/%s' % (tgt_container, tgt_obj))
    tgt_account = account
    if ACCOUNT_ENV in env:
        given = wsgi_unquote(env[ACCOUNT_ENV])
        if not given:
            raise Refused(412, 'Account name cannot be empty')
        if '/' in given:
            raise Refused(412, 'Account name cannot contain slashes')
        env[ACCOUNT_ENV] = wsgi_quote(given)
        tgt_account = given
    if (tgt_account, tgt_container, tgt_obj) == (account, container, obj):
        raise Refused(400, 'Symlink cannot target itself')
    etag = env.get(ETAG_ENV)
    if etag is not None:
        etag = etag.strip()
        if len(etag) > 1 and etag.startswith('"') and etag.endswith('"'):
            etag = etag[1:-1]
        if any(c in etag for c in ';"\\'):
            raise Refused(400, 'Bad X-Symlink-Target-Etag format')
    if not etag and not client_sent_content_type(env):
        set_content_type(env, 'application/symlink')
    return '/v1/%s/%s/%s' % (wsgi_quote(tgt_account),
                             wsgi_quote(tgt_container),
                             wsgi_quote(tgt_obj)), etag or None


class SymlinkMiddleware(object):
    def __init__(self, app, symloop_max):
        self.app = app
        self.symloop_max = symloop_max

    def __call__(self, env, start_response):
        try:
            version, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 3, 4, True,
                allow_reserved=True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        try:
            if not obj:
                return self.handle_container(env, start_response)
            return self.handle_object(env, start_response, account,
                                      container, obj)
        except Refused as refused:
            return refused(env, start_response)

    # ------------------------------------------------------------ objects
    def handle_object(self, env, start_response, account, container, obj):
        method = env.get('REQUEST_METHOD')
        if method in ('GET', 'HEAD'):
            query = parse_qs(env.get('QUERY_STRING', ''),
                             keep_blank_values=True)
            if query.get('symlink', [None])[0] == 'get':
                return self.read_link(env, start_response)
            return self.follow(env, start_response)
        if method == 'PUT' and TARGET_ENV in env:
            return self.put_link(env, start_response, account, container,
                                 obj)
        if method == 'POST':
            return self.post(env, start_response)
        return self.app(env, start_response)

    def read_link(self, env, start_response):
        """``?symlink=get``: the link itself, sysmeta under client names."""
        resp = call_app(self.app, env)
        renames = dict(SYSMETA_TO_CLIENT)
        headers = [(renames.get(k.lower(), k), v)
                   for k, v in resp.header_list]
        start_response(resp.status, headers)
        return pass_on_body(resp)

    def follow(self, env, start_response):
        ignore_range_on_links(env)
        walker = LinkWalker(self.app, self.symloop_max)
        try:
            resp = walker.walk(env)
        except TooManyLinks:
            raise Refused(409, 'Too many levels of symbolic links, '
                          'maximum allowed is %d' % self.symloop_max)
        except LinkConflict as err:
            raise Refused(409, err.message, location_header(err.location))
        return pass_on(resp, start_response)

    def put_link(self, env, start_response, account, container, obj):
        if env.get('CONTENT_LENGTH') not in (None, ''):
            try:
                has_body = int(env['CONTENT_LENGTH']) != 0
            except ValueError:
                has_body = True     # the proxy answers 400 for it anyway
        else:
            has_body = env['wsgi.input'].read(1) != b''
        if has_body:
            raise Refused(400, 'Symlink requests require a zero byte body')
        target_path, etag = validate_link_headers(env, account, container,
                                                  obj)
        if etag:
            self.check_static_target(env, target_path, etag)
        env[env_key(SYSMETA_TARGET)] = env.pop(TARGET_ENV)
        if ACCOUNT_ENV in env:
            env[env_key(SYSMETA_ACCOUNT)] = env.pop(ACCOUNT_ENV)
        params = [env.get(OVERRIDE_ETAG_ENV, MD5_OF_EMPTY_STRING),
                  'symlink_target=%s' % env[env_key(SYSMETA_TARGET)]]
        if env_key(SYSMETA_ACCOUNT) in env:
            params.append('symlink_target_account=%s'
                          % env[env_key(SYSMETA_ACCOUNT)])
        if env_key(SYSMETA_ETAG) in env:
            params.append('symlink_target_etag=%s'
                          % env[env_key(SYSMETA_ETAG)])
            params.append('symlink_target_bytes=%s'
                          % env.get(env_key(SYSMETA_BYTES), ''))
        env[OVERRIDE_ETAG_ENV] = '; '.join(params)
        return self.app(env, start_response)

    def check_static_target(self, env, target_path, etag):
        """Record a static link's target ETag and size, checked by a HEAD
        of the target as the client (unless middleware vouches for
        them with ``swift.symlink_override``)."""
        if env.get('swift.symlink_override'):
            env[env_key(SYSMETA_ETAG)] = etag
            env[env_key(SYSMETA_BYTES)] = env.get(BYTES_ENV, '')
            return
        head_env = make_subrequest_env(env, 'HEAD', wsgi_unquote(target_path),
                                       source='SYM')
        if reserved_names_allowed(env):
            head_env['HTTP_X_BACKEND_ALLOW_RESERVED_NAMES'] = 'true'
        walker = LinkWalker(self.app, self.symloop_max)
        walker.last_target = target_path
        try:
            resp = walker.walk(head_env, env, expected_etag=etag,
                               follow_dynamic=False)
        except TooManyLinks:
            raise Refused(409, 'Too many levels of symbolic links, '
                          'maximum allowed is %d' % self.symloop_max)
        except LinkConflict as err:
            raise Refused(409, err.message, location_header(err.location))
        resp.drain()
        if resp.status_int == 404:
            raise Refused(409, 'X-Symlink-Target does not exist',
                          location_header(walker.last_target))
        if not resp.ok:
            raise Refused(resp.status_int, None)
        found = resp.headers
        if OVERRIDE_ETAG in found and OVERRIDE_ETAG_ENV not in env:
            # carry the target's listing parameters (e.g. slo_etag)
            sep, params = found[OVERRIDE_ETAG].partition(';')[1:]
            env[OVERRIDE_ETAG_ENV] = MD5_OF_EMPTY_STRING + sep + params
        slo_etag = found.get('x-object-sysmeta-slo-etag')
        if slo_etag and OVERRIDE_ETAG_ENV not in env:
            env[OVERRIDE_ETAG_ENV] = '%s; slo_etag=%s' % (
                MD5_OF_EMPTY_STRING, slo_etag)
        env[env_key(SYSMETA_BYTES)] = (found.get('x-object-sysmeta-slo-size')
                                       or found.get('content-length', '0'))
        env[env_key(SYSMETA_ETAG)] = etag
        if not client_sent_content_type(env) and found.get('content-type'):
            set_content_type(env, found['content-type'])

    def post(self, env, start_response):
        """The POST lands on the link itself; a link answers 307."""
        if TARGET_ENV in env:
            raise Refused(400, 'A PUT request is required to set a '
                          'symlink target')
        resp = call_app(self.app, env)
        if not resp.ok:
            return pass_on(resp, start_response)
        sysmeta = dict((k, v) for k, v in resp.header_list
                       if k.lower().startswith('x-object-sysmeta-'))
        if not any(k.lower() == SYSMETA_TARGET for k in sysmeta):
            sysmeta = self.stored_sysmeta(env)
        lower = dict((k.lower(), v) for k, v in sysmeta.items())
        target = lower.get(SYSMETA_TARGET)
        if not target:
            return pass_on(resp, start_response)
        resp.drain()
        parts = env['PATH_INFO'].split('/', 3)
        account = lower.get(SYSMETA_ACCOUNT) or wsgi_quote(parts[2])
        headers = [('Location', '/'.join(('', parts[1], account,
                                          target.lstrip('/'))))]
        if lower.get(SYSMETA_ETAG):
            headers.append(('X-Symlink-Target-Etag', lower[SYSMETA_ETAG]))
        headers.extend(sysmeta.items())
        env['swift.leave_relative_location'] = True
        raise Refused(307, POST_APPLIED, headers,
                      content_type='text/html; charset=UTF-8')

    def stored_sysmeta(self, env):
        """The object's sysmeta, for object servers whose POST answer
        does not carry it (Swift's does).  The POST was authorized, so
        this HEAD of the same object is too."""
        head_env = make_subrequest_env(env, 'HEAD', env['PATH_INFO'],
                                       source='SYM')
        pre_authorize(head_env)
        for key in ('HTTP_X_BACKEND_ALLOW_RESERVED_NAMES',):
            if key in env:
                head_env[key] = env[key]
        resp = call_app(self.app, head_env)
        resp.drain()
        if not resp.ok:
            return {}
        return dict((k, v) for k, v in resp.header_list
                    if k.lower().startswith('x-object-sysmeta-'))

    # ---------------------------------------------------------- listings
    def handle_container(self, env, start_response):
        if env.get('REQUEST_METHOD') != 'GET':
            return self.app(env, start_response)
        resp = call_app(self.app, env)
        ctype = resp.headers.get('content-type', '').split(';')[0].strip()
        if not resp.ok or ctype.lower() != 'application/json':
            return pass_on(resp, start_response)
        try:
            body = resp.read(LISTING_BODY_LIMIT)
        except ValueError:
            raise Refused(500, 'Container listing too large to rewrite')
        try:
            rows = json.loads(body)
        except ValueError:
            rows = None
        parts = env['PATH_INFO'].split('/', 3)
        new_body = rewrite_listing(rows, parts[1], wsgi_quote(parts[2]))
        if new_body is None:    # not a listing we understand: as it came
            new_body = body
        headers = [(k, v) for k, v in resp.header_list
                   if k.lower() != 'content-length']
        headers.append(('Content-Length', str(len(new_body))))
        start_response(resp.status, headers)
        return [new_body]


def location_header(location):
    return [('Content-Location', location)] if location else []


def pass_on_body(resp):
    return ClosingIter(resp.app_iter, resp.close)


def parse_symloop_max(conf):
    value = conf.get('symloop_max', DEFAULT_SYMLOOP_MAX)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError('[%s] symloop_max must be a whole number, not %r'
                          % (SECTION, value))
    return number if number >= 1 else DEFAULT_SYMLOOP_MAX


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, ('symloop_max',))
    symloop_max = parse_symloop_max(conf)
    register_info('symlink', symloop_max=symloop_max, static_links=True)

    def factory(app):
        return SymlinkMiddleware(app, symloop_max)
    return factory
