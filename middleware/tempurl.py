"""tempurl: Swift's temporary URLs -- time-limited, signed object access.

Why: an account owner can hand out a URL that lets anyone GET (or PUT,
...) one object, or every object under a prefix, until a given time,
without sharing a token.  The URL carries ``temp_url_sig`` (an HMAC of
method, expiry and path under one of the account's or container's
``Temp-URL-Key`` metadata values) and ``temp_url_expires``.

Request handling, as Swift 2.38:

* Neither ``temp_url_sig`` nor ``temp_url_expires`` in the query: not a
  temporary URL, the request goes on to normal auth untouched.
* Otherwise the signature must be valid, else ``401`` with body
  ``401 Unauthorized: Temp URL invalid`` (no body for HEAD): unknown or
  disallowed digest, expired or unparsable expiry (unix time or
  ``YYYY-MM-DDThh:mm:ssZ``), a method not in ``methods``, a path that is
  not an object of a ``v1`` account, an ``temp_url_ip_range`` the client
  is outside of, no keys, or no key whose HMAC matches.
* Signatures: hex (sha1/sha256/sha512 by length) or ``<alg>:<base64>``
  (standard or url-safe, padding optional).  The signed text is
  ``[ip=<range>\\n]<METHOD>\\n<expires>\\n<path>``, where path is
  ``/v1/<a>/<c>/<o>`` or, with ``temp_url_prefix``,
  ``prefix:/v1/<a>/<c>/<prefix>``.  A HEAD may use a HEAD, GET, POST or
  PUT signature.
* Account keys sign anything in the account; container keys only objects
  in that container.  A valid request is authorised by a callback
  enforcing that scope (``swift.authorize``), ``swift.authorize_override``
  is set so the auth filter leaves it alone, ``REMOTE_USER`` is
  ``.wsgi.tempurl``, and any ``X-Auth-Token`` / ``X-Storage-Token`` /
  ``X-Service-Token`` the client sent is dropped: it neither reaches the
  proxy nor the access log line.
* PUT/POST/DELETE may not carry ``X-Object-Manifest``,
  ``X-Symlink-Target`` or ``X-Copy-From`` (400): a temporary URL must not
  become a pointer to data it does not grant.  The query string is
  reduced to the temp-URL parameters, so e.g. ``multipart-manifest=put``
  is ignored.
* ``incoming_remove_headers`` / ``incoming_allow_headers`` are removed
  from / kept in the request, ``outgoing_remove_headers`` /
  ``outgoing_allow_headers`` in the response (a trailing ``*`` matches a
  prefix; allow wins).
* Successful GET/HEAD answers get ``Content-Disposition`` (``inline`` with
  ``inline``; ``attachment; filename=...`` with ``filename``; else the
  object's own, else ``attachment`` with the object's name) and
  ``Expires`` (the URL's expiry).

Keys are read from the proxy's cached account/container info (see
``middleware.signed_urls``).

Config (defaults shown)::

    [filter:tempurl]
    use = egg:objproxy#tempurl
    methods = GET HEAD PUT POST DELETE
    incoming_remove_headers = x-timestamp x-open-expired
    incoming_allow_headers =
    outgoing_remove_headers = x-object-meta-*
    outgoing_allow_headers = x-object-meta-public-*
    # allowed_digests = sha1 sha256 sha512   (sha1: deprecated, warned)
"""
import calendar
import ipaddress
import os
import re
import time
from urllib.parse import parse_qs, quote, urlencode


from middleware import signed_urls
from middleware.tempauth import challenge
from objproxy.common.config import check_options
from objproxy.common.exceptions import ConfigError
from objproxy.common.logs import get_logger
from objproxy.common.paths import PathError, split_path, wsgi_to_str
from objproxy.common.registry import register_info
from objproxy.common.response import Response, http_date, is_success

SECTION = 'filter:tempurl'
OPTIONS = ('methods', 'incoming_remove_headers', 'incoming_allow_headers',
           'outgoing_remove_headers', 'outgoing_allow_headers',
           'allowed_digests')
DEFAULTS = {
    'methods': 'GET HEAD PUT POST DELETE',
    'incoming_remove_headers': 'x-timestamp x-open-expired',
    'incoming_allow_headers': '',
    'outgoing_remove_headers': 'x-object-meta-*',
    'outgoing_allow_headers': 'x-object-meta-public-*',
}
#: Headers that would let a write tempurl point at other data.
DISALLOWED_INCOMING = ('x-object-manifest', 'x-symlink-target',
                       'x-copy-from')
TOKEN_ENV_KEYS = ('HTTP_X_AUTH_TOKEN', 'HTTP_X_STORAGE_TOKEN',
                  'HTTP_X_SERVICE_TOKEN')
ISO8601 = '%Y-%m-%dT%H:%M:%SZ'
INVALID_BODY = b'401 Unauthorized: Temp URL invalid\n'
#: Methods whose signatures also open a HEAD.
HEAD_SIGNERS = ('HEAD', 'GET', 'POST', 'PUT')
METHOD_RE = re.compile(r'^[A-Z]+$')


def header_to_env_key(name):
    key = name.strip().upper().replace('-', '_')
    if key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
        return key
    return 'HTTP_' + key


class HeaderRules(object):
    """Remove/allow lists with Swift's globbing: ``name`` or ``prefix*``;
    a name matching an allow rule is never removed."""

    def __init__(self, remove, allow, normalise):
        def split(names):
            exact, prefixes = set(), []
            for name in names:
                name = normalise(name)
                if name.endswith('*'):
                    prefixes.append(name[:-1])
                else:
                    exact.add(name)
            return exact, tuple(prefixes)
        self.remove, self.remove_prefixes = split(remove)
        self.allow, self.allow_prefixes = split(allow)

    def drops(self, name):
        if name in self.allow or name.startswith(self.allow_prefixes):
            return False
        return name in self.remove or (bool(self.remove_prefixes) and
                                       name.startswith(self.remove_prefixes))


def parse_expires(value, now=None):
    """Expiry as a unix time; 0 when unparsable or past (Swift's rule)."""
    if value is None:
        return None
    try:
        expires = int(value)
    except ValueError:
        try:
            expires = calendar.timegm(time.strptime(value, ISO8601))
        except ValueError:
            expires = 0
    if expires < (time.time() if now is None else now):
        return 0
    return expires


def disposition(kind, filename):
    """``Content-Disposition`` as Swift builds it (RFC 6266 + 5987)."""
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (
        kind, quote(filename, safe=' /'), quote(filename))


def scope_check(account, container=None):
    """``swift.authorize`` for a valid tempurl: the signing key's scope."""
    def authorize(req):
        try:
            _ver, acc, con, _rest = split_path(req.path_info, 2, 4, True)
            acc = wsgi_to_str(acc)
            con = wsgi_to_str(con) if con is not None else None
        except (PathError, ValueError):
            acc = con = None
        if acc == account and (container is None or con == container):
            return None
        return Response(401, body=b'Unauthorized',
                        content_type='text/plain; charset=UTF-8',
                        headers={'Www-Authenticate': challenge(req.environ)})
    return authorize


class _Captured(object):
    """start_response that holds status and headers until we rewrite them."""

    def __init__(self):
        self.status = None
        self.headers = None
        self.exc_info = None

    def __call__(self, status, headers, exc_info=None):
        self.status, self.headers, self.exc_info = status, list(headers), \
            exc_info

    def call(self, app, env):
        body = app(env, self)
        if self.status is None:
            # an app that starts its response lazily: pull the first chunk
            iterator = iter(body)
            try:
                first = [next(iterator)]
            except StopIteration:
                first = []
            close = getattr(body, 'close', None)
            body = _Chain(first, iterator, close)
        return body


class _Chain(object):
    def __init__(self, first, rest, close):
        self._first, self._rest, self._close = first, rest, close

    def __iter__(self):
        for chunk in self._first:
            yield chunk
        for chunk in self._rest:
            yield chunk

    def close(self):
        if self._close:
            self._close()


class TempURL(object):
    """The tempurl filter; see the module docstring."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='tempurl')
        settings = read_settings(conf)
        self.methods = settings['methods']
        self.allowed_digests = settings['allowed_digests']
        self.incoming = HeaderRules(settings['incoming_remove_headers'],
                                    settings['incoming_allow_headers'],
                                    header_to_env_key)
        self.outgoing = HeaderRules(settings['outgoing_remove_headers'],
                                    settings['outgoing_allow_headers'],
                                    lambda name: name.strip().lower())

    def __call__(self, env, start_response):
        method = env.get('REQUEST_METHOD')
        if method == 'OPTIONS':
            return self.app(env, start_response)
        query = parse_qs(env.get('QUERY_STRING', ''), keep_blank_values=True)

        def first(name):
            values = query.get(name)
            return values[0] if values else None
        sig = first('temp_url_sig')
        given_expires = first('temp_url_expires')
        if sig is None and given_expires is None:
            return self.app(env, start_response)
        params = {
            'sig': sig, 'expires_text': given_expires,
            'expires': parse_expires(given_expires),
            'prefix': first('temp_url_prefix'),
            'filename': first('filename'),
            'inline': 'inline' in query,
            'ip_range': first('temp_url_ip_range'),
        }
        grant = self.check(env, params)
        if grant is None:
            return self.invalid(env, start_response)
        return self.serve(env, start_response, params, grant)

    # -- validation ------------------------------------------------------
    def check(self, env, params):
        """``(account, container, object, scope)`` for a valid URL."""
        method = env['REQUEST_METHOD']
        if not params['sig'] or not params['expires']:
            return None
        try:
            algorithm, sig = signed_urls.parse_signature(params['sig'])
        except ValueError:
            return None
        if algorithm not in self.allowed_digests:
            return None
        prefix = params['prefix']
        parts = self.path_parts(env, method in ('GET', 'HEAD') and
                                prefix == '')
        if parts is None:
            return None
        account, container, obj = parts
        if params['ip_range'] and not self.client_in_range(
                env, params['ip_range']):
            return None
        keys = signed_urls.scoped_keys(env, self.app, account, container)
        if not keys:
            return None
        if prefix is None:
            path = '/v1/%s/%s/%s' % (account, container, obj)
        else:
            if not obj.startswith(prefix):
                return None
            path = 'prefix:/v1/%s/%s/%s' % (account, container, prefix)
        methods = HEAD_SIGNERS if method == 'HEAD' else (method,)
        for signed_method in methods:
            message = signed_urls.tempurl_message(
                signed_method, params['expires'], path, params['ip_range'])
            for key, scope in keys:
                if signed_urls.same_digest(
                        signed_urls.sign(key, message, algorithm), sig):
                    return account, container, obj, scope, algorithm
        return None

    def path_parts(self, env, allow_container_root):
        if env['REQUEST_METHOD'] not in self.methods:
            return None
        try:
            version, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 3 if allow_container_root else 4,
                4, True)
            if version != 'v1':
                return None
            if not allow_container_root and not (obj or '').strip('/'):
                return None
            return (wsgi_to_str(account), wsgi_to_str(container),
                    wsgi_to_str(obj) if obj else '')
        except (PathError, ValueError):
            return None

    @staticmethod
    def client_in_range(env, ip_range):
        address = env.get('REMOTE_ADDR')
        if address is None:
            return False
        try:
            return ipaddress.ip_address(str(address)) in \
                ipaddress.ip_network(str(ip_range))
        except ValueError:
            return False

    def invalid(self, env, start_response):
        body = b'' if env.get('REQUEST_METHOD') == 'HEAD' else INVALID_BODY
        return Response(401, body=body, headers=[
            ('Content-Type', 'text/html; charset=UTF-8'),
            ('Www-Authenticate', challenge(env))])(env, start_response)

    # -- serving a valid URL ---------------------------------------------
    def serve(self, env, start_response, params, grant):
        account, container, obj, scope, algorithm = grant
        method = env['REQUEST_METHOD']
        if method not in ('GET', 'HEAD', 'OPTIONS'):
            for name in DISALLOWED_INCOMING:
                if header_to_env_key(name) in env:
                    body = ('The header %r is not allowed in this tempurl'
                            % name.title()).encode('utf-8')
                    return Response(400, body=body, headers=[
                        ('Content-Type', 'text/html; charset=UTF-8')])(
                            env, start_response)
        for key in list(env):
            if key in TOKEN_ENV_KEYS or self.incoming.drops(key):
                del env[key]
        env['swift.authorize'] = scope_check(
            account, None if scope == signed_urls.ACCOUNT_SCOPE
            else container)
        env['swift.authorize_override'] = True
        env['REMOTE_USER'] = '.wsgi.tempurl'
        kept = {'temp_url_sig': params['sig'],
                'temp_url_expires': params['expires_text']}
        if params['prefix'] is not None:
            kept['temp_url_prefix'] = params['prefix']
        if params['filename']:
            kept['filename'] = params['filename']
        if params['inline']:
            kept['inline'] = ''
        env['QUERY_STRING'] = urlencode(kept)
        self.logger.debug('tempurl: %s %s allowed (%s key, %s)', method,
                          env.get('PATH_INFO'), scope, algorithm)

        captured = _Captured()
        body = captured.call(self.app, env)
        headers = [(name, value) for name, value in captured.headers
                   if not self.outgoing.drops(name.lower())]
        status_int = int(captured.status.split(' ', 1)[0])
        if method in ('GET', 'HEAD') and is_success(status_int):
            headers = self.download_headers(env, headers, params, obj)
            if headers is None:
                close = getattr(body, 'close', None)
                if close:
                    close()
                return self.invalid(env, start_response)
        if captured.exc_info is not None:
            start_response(captured.status, headers, captured.exc_info)
        else:
            start_response(captured.status, headers)
        return body

    def download_headers(self, env, headers, params, obj):
        """Content-Disposition and Expires for a GET/HEAD answer; None when
        a container-root URL did not get a staticweb page."""
        existing = None
        generator = None
        out = []
        for name, value in headers:
            lower = name.lower()
            if lower == 'x-backend-content-generator':
                generator = value
            if lower == 'content-disposition':
                existing = value
            else:
                out.append((name, value))
        inline = params['inline']
        filename = params['filename']
        if generator == 'staticweb':
            inline = True
        elif obj == '':
            return None
        if inline:
            value = disposition('inline', filename) if filename else 'inline'
        elif filename:
            value = disposition('attachment', filename)
        elif existing:
            value = existing
        else:
            try:
                path = wsgi_to_str(env.get('PATH_INFO', ''))
            except PathError:
                path = env.get('PATH_INFO', '')
            value = disposition('attachment',
                                os.path.basename(path.rstrip('/')))
        out.append(('Content-Disposition',
                    value.replace('\n', '%0A').replace('\r', '%0D')))
        try:
            out.append(('Expires', http_date(params['expires'])))
        except (OverflowError, ValueError, OSError):
            pass            # an expiry past what a date header can say
        return out


def read_settings(conf):
    """The filter's options, checked; what /info shows."""
    settings = {}
    for name, default in DEFAULTS.items():
        value = conf.get(name)
        settings[name] = str(default if value is None else value).split()
    for method in settings['methods']:
        if not METHOD_RE.match(method):
            raise ConfigError('[%s] methods: %r is not an HTTP method '
                              '(upper-case letters)' % (SECTION, method))
    allowed, deprecated = signed_urls.allowed_digests(conf, SECTION)
    settings['allowed_digests'] = allowed
    if deprecated:
        settings['deprecated_digests'] = deprecated
    return settings


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, OPTIONS)
    logger = get_logger(conf, 'proxy-server', log_route='tempurl')
    settings = read_settings(conf)
    # the deprecation warning, once per process as Swift
    signed_urls.allowed_digests(conf, SECTION, logger)
    register_info('tempurl', **settings)

    def factory(app):
        return TempURL(app, conf, logger)
    return factory
