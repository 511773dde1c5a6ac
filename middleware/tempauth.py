"""tempauth: users from the config file, tokens, and Swift's authorisation.

Why: it gives a cluster working authentication with no external service,
and it is the policy point the proxy asks (``env['swift.authorize']``)
before touching any account, container or object.

Authentication: ``GET /auth/v1.0`` (also ``/auth/v1.0/``, ``/v1.0`` and
``/auth/v1/<account>/auth``) with ``X-Auth-User: account:user`` and
``X-Auth-Key`` (or ``X-Storage-User`` / ``X-Storage-Pass``) returns
``X-Auth-Token``, ``X-Storage-Token``, ``X-Storage-Url`` and
``X-Auth-Token-Expires``.  Tokens (``<reseller_prefix>tk<32 hex>``) live in
memcached when ``memcache_servers`` is set (or another filter put a client
in ``env['swift.cache']``), so every proxy accepts them; otherwise they live
in this process.  A user's unexpired token is handed out again unless the
client sends ``X-Auth-New-Token: true``.

Authorisation (``authorize(req)``, called by the proxy with ``req.acl`` set
to the container's read or write ACL) returns None to allow, or a 401
(no valid token) / 403 (authenticated but not allowed) response:

* ``.reseller_admin`` may do anything on any account of ours except
  accounts whose name starts with a dot;
* the account owner (``.admin``, which puts ``<prefix><account>`` in the
  user's groups) may do anything in it except PUT/DELETE the account
  itself, subject to ``<PREFIX>_require_group`` (service tokens);
* everyone else only through container ACLs (``account:user``, a whole
  ``account``, ``.r:<referrer>``, ``.rlistings``; an entry must equal one
  of the user's groups, so wildcards such as ``*:*`` grant nothing) or
  the account ACL ``X-Account-Access-Control`` (JSON with ``admin``,
  ``read-write``, ``read-only``), which the proxy stores as
  ``X-Account-Sysmeta-Core-Access-Control``.

Config (defaults shown)::

    [filter:tempauth]
    use = egg:objproxy#tempauth
    reseller_prefix = AUTH
    auth_prefix = /auth/
    token_life = 86400
    # max_token_life = <token_life>
    allow_overrides = true
    storage_url_scheme = default
    # <PREFIX>_require_group =
    # memcache_servers =          (also from [DEFAULT])
    # user_<account>_<user> = <key> [group] [group] [...] [storage_url]
    # user64_<b64 account>_<b64 user> = ...  (names with _ or special chars)
"""
import base64
import hmac
import json
import os
import time
from urllib.parse import quote

from webob import Request

from middleware.tempauth_tokens import (
    LOCAL_TOKEN_LIMIT, LocalTokenStore, TokenStore)
from objproxy.common.acl import (
    ACCOUNT_ACL_KEYS, REFERRER_PREFIXES, acl_grants, clean_acl, parse_acl,
    parse_account_acl, referrer_allowed)
from objproxy.common.config import (
    check_options, config_true_value, get_bool, get_choice, get_int,
    get_list)
from objproxy.common.exceptions import ConfigError
from objproxy.common.logs import get_logger
from objproxy.common.memcached import client_from_conf
from objproxy.common.paths import PathError, split_path
from objproxy.common.registry import register_info
from objproxy.common.response import Response
from objproxy.proxy.info import get_account_info

# Names this filter has always offered; the ACL and token helpers now live
# in objproxy.common.acl and middleware.tempauth_tokens.
__all__ = ['TempAuth', 'filter_factory', 'clean_acl', 'parse_acl',
           'referrer_allowed', 'parse_account_acl', 'LocalTokenStore',
           'SECTION', 'ACCOUNT_ACL_HEADER',
           'ACCOUNT_ACL_KEYS', 'REFERRER_PREFIXES', 'LOCAL_TOKEN_LIMIT']

SECTION = 'filter:tempauth'
HTML = 'text/html; charset=UTF-8'
ACCOUNT_ACL_HEADER = 'X-Account-Access-Control'


class TempAuth(object):
    """The tempauth filter; see the module docstring."""

    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger(conf, 'proxy-server', log_route='tempauth')
        prefixes = get_list(conf, 'reseller_prefix', ['AUTH'])
        self.reseller_prefixes = []
        for prefix in prefixes:
            prefix = '' if prefix in ("''", '""') else prefix
            if prefix and not prefix.endswith('_'):
                prefix += '_'
            self.reseller_prefixes.append(prefix)
        if not self.reseller_prefixes:
            self.reseller_prefixes = ['']
        self.reseller_prefix = self.reseller_prefixes[0]
        self.require_groups = {}
        for prefix in self.reseller_prefixes:
            key = '%s_require_group' % prefix.rstrip('_') if prefix \
                else "''require_group"
            group = conf.get(key, '').strip()
            if group:
                self.require_groups[prefix] = group
        self.auth_prefix = conf.get('auth_prefix', '/auth/').strip() or \
            '/auth/'
        if not self.auth_prefix.startswith('/'):
            self.auth_prefix = '/' + self.auth_prefix
        if not self.auth_prefix.endswith('/'):
            self.auth_prefix += '/'
        self.token_life = get_int(conf, 'token_life', 86400, SECTION,
                                  minimum=1)
        self.max_token_life = get_int(conf, 'max_token_life',
                                      self.token_life, SECTION, minimum=1)
        self.allow_overrides = get_bool(conf, 'allow_overrides', True,
                                        SECTION)
        self.storage_url_scheme = get_choice(
            conf, 'storage_url_scheme', 'default',
            ('default', 'http', 'https'), SECTION)
        self.users = self._load_users(conf)
        self.memcache = client_from_conf(conf)
        self.local_tokens = LocalTokenStore()
        self.tokens = TokenStore(self.memcache, self.local_tokens,
                                 self.logger)

    # -- configuration ---------------------------------------------------
    def _load_users(self, conf):
        users = {}
        for key, value in conf.items():
            if key.startswith('user64_'):
                try:
                    acct_b64, user_b64 = key[len('user64_'):].split('_', 1)
                    account = _b64decode(acct_b64)
                    username = _b64decode(user_b64)
                except ValueError:
                    raise ConfigError('[%s] %s: account and user must be '
                                      'base64 (no padding)' % (SECTION, key))
            elif key.startswith('user_'):
                try:
                    account, username = key[len('user_'):].split('_', 1)
                except ValueError:
                    raise ConfigError('[%s] %s must be user_<account>_<user>'
                                      % (SECTION, key))
            else:
                continue
            fields = value.split()
            if not fields:
                raise ConfigError('[%s] %s needs a key' % (SECTION, key))
            url = None
            if len(fields) > 1 and '://' in fields[-1]:
                url = fields.pop()
            groups = fields[1:]
            if url is None:
                url = '$HOST/v1/%s%s' % (self.reseller_prefix, account)
            users['%s:%s' % (account, username)] = {
                'key': fields[0], 'groups': groups, 'url': url}
        return users

    # -- WSGI entry ------------------------------------------------------
    def __call__(self, env, start_response):
        if self.allow_overrides and env.get('swift.authorize_override'):
            return self.app(env, start_response)
        path = env.get('PATH_INFO', '')
        if self._is_auth_path(path):
            return self.handle_auth(env, start_response)
        if self.memcache is not None and 'swift.cache' not in env:
            env['swift.cache'] = self.memcache
        token = env.get('HTTP_X_AUTH_TOKEN', env.get('HTTP_X_STORAGE_TOKEN'))
        service_token = env.get('HTTP_X_SERVICE_TOKEN')
        if token and self._is_ours(token):
            groups = self.get_groups(env, token)
            if service_token and self._is_ours(service_token):
                service_groups = self.get_groups(env, service_token)
                if groups and service_groups:
                    groups += ',' + service_groups
            if not groups:
                req = Request(env)
                return self.denied_response(req)(env, start_response)
            env['REMOTE_USER'] = groups
            env['swift.authorize'] = self.authorize
            env['swift.clean_acl'] = clean_acl
            if '.reseller_admin' in groups.split(','):
                env['reseller_request'] = True
        elif self._is_definitive(path):
            # anonymous request (or a token that is not ours) to one of our
            # accounts: only ACLs (e.g. .r:*) can let it in
            env.pop('REMOTE_USER', None)
            env['swift.authorize'] = self.authorize
            env['swift.clean_acl'] = clean_acl
        elif 'swift.authorize' not in env:
            env['swift.authorize'] = self.denied_response
        return self.app(env, start_response)

    def _is_auth_path(self, path):
        return (path.startswith(self.auth_prefix) or
                path == self.auth_prefix.rstrip('/') or
                path in ('/v1.0', '/v1.0/'))

    def _is_ours(self, token):
        return any(token.startswith(p) for p in self.reseller_prefixes
                   if p) or '' in self.reseller_prefixes

    def _account_prefix(self, account):
        """The reseller prefix owning ``account``, or None."""
        if account is None:
            return None
        for prefix in self.reseller_prefixes:
            if prefix and account.startswith(prefix):
                return prefix
        if '' in self.reseller_prefixes:
            return ''
        return None

    def _is_definitive(self, path):
        try:
            version, account, _rest = split_path(path, 1, 3, True)
        except (PathError, ValueError):
            return False
        return bool(account) and self._account_prefix(account) is not None

    # -- tokens ---------------------------------------------------------
    def _token_key(self, token):
        return '%s/token/%s' % (self._account_prefix(token) or
                                self.reseller_prefix, token)

    def get_groups(self, env, token):
        """The comma-separated groups for a valid token, else None."""
        entry = self.tokens.fetch(env, self._token_key(token))
        if not entry:
            return None
        try:
            expires, groups, stored_token = entry
        except (TypeError, ValueError):
            return None
        if expires < time.time() or not hmac.compare_digest(
                str(stored_token).encode(), token.encode('utf-8',
                                                         'surrogateescape')):
            return None
        return groups

    # -- authorisation ---------------------------------------------------
    def denied_response(self, req):
        """403 for an authenticated user, else 401 with a challenge."""
        if req.remote_user:
            return Response(403, body=b'Forbidden',
                            content_type='text/plain')
        return Response(401, body=b'Unauthorized', content_type='text/plain',
                        headers={'Www-Authenticate': challenge(req.environ)})

    def authorize(self, req):
        """None when ``req`` may proceed, else a 401/403 Response."""
        try:
            _version, account, container, obj = split_path(
                req.path_info, 1, 4, True)
        except (PathError, ValueError):
            return Response(404, body=b'Not Found', content_type=HTML)
        prefix = self._account_prefix(account)
        if prefix is None:
            return self.denied_response(req)
        user_groups = [g for g in (req.remote_user or '').split(',') if g]

        if ('.reseller_admin' in user_groups and
                account not in self.reseller_prefixes and
                not account[len(prefix):].startswith('.')):
            req.environ['swift_owner'] = True
            return self._check_account_acl_update(req, container)

        if account in user_groups and (
                req.method not in ('PUT', 'DELETE') or container):
            require_group = self.require_groups.get(prefix)
            if not require_group or require_group in user_groups:
                req.environ['swift_owner'] = True
                return self._check_account_acl_update(req, container)

        if req.method == 'OPTIONS':
            return None          # CORS preflight is answered by the proxy

        referrers, acl_groups = parse_acl(getattr(req, 'acl', None))
        if referrer_allowed(req.referer, referrers):
            if obj or '.rlistings' in acl_groups:
                return None
        if not req.remote_user:
            return self.denied_response(req)
        if acl_grants(acl_groups, user_groups):
            return None

        granted, error = self._authorize_by_account_acl(
            req, account, container, user_groups)
        if granted:
            return error
        return self.denied_response(req)

    def _authorize_by_account_acl(self, req, account, container,
                                  user_groups):
        """``(granted, response)`` from the account ACL (``X-Account-Access-
        Control``); ``response`` is None or a 400 for a bad ACL update."""
        info = get_account_info(req.environ, self.app, account)
        sysmeta = info.get('sysmeta') or {}
        text = sysmeta.get('core-access-control')
        try:
            acls = parse_account_acl(text)
        except ValueError:
            self.logger.error('tempauth: invalid account ACL on %s; '
                              'ignoring it', account)
            return False, None
        if not acls:
            return False, None

        def member(key):
            return acl_grants(acls.get(key, ()), user_groups)

        if member('admin'):
            req.environ['swift_owner'] = True
            return True, self._check_account_acl_update(req, container)
        if member('read-write') and (container or
                                     req.method in ('GET', 'HEAD')):
            return True, None
        if member('read-only') and req.method in ('GET', 'HEAD'):
            return True, None
        return False, None

    def _check_account_acl_update(self, req, container):
        """Refuse a malformed ``X-Account-Access-Control`` on account
        PUT/POST; the proxy stores a valid one as sysmeta."""
        if container or req.method not in ('PUT', 'POST'):
            return None
        text = req.headers.get(ACCOUNT_ACL_HEADER)
        if text is None:
            return None
        try:
            parse_account_acl(text)
        except ValueError as err:
            body = 'X-Account-Access-Control invalid: %s\n\nInput: %s\n' % (
                err, text)
            return Response(400, body=body.encode(
                'utf-8'), content_type='text/plain')
        return None

    # -- the auth endpoint -----------------------------------------------
    def handle_auth(self, env, start_response):
        req = Request(env)
        if req.method not in ('GET', 'HEAD'):
            resp = Response(405, body=b'Method Not Allowed',
                            headers={'Allow': 'GET, HEAD'}, content_type=HTML)
            return resp(env, start_response)
        try:
            resp = self.handle_get_token(req)
        except (PathError, ValueError, UnicodeError):
            resp = Response(400, body=b'Bad Request', content_type=HTML)
        return resp(env, start_response)

    def handle_get_token(self, req):
        path = req.path_info
        if path.startswith(self.auth_prefix):
            path = '/' + path[len(self.auth_prefix):]
        elif path == self.auth_prefix.rstrip('/'):
            path = '/'
        segs = [s for s in path.split('/') if s]
        headers = req.headers
        if len(segs) == 3 and segs[0] == 'v1' and segs[2] == 'auth':
            account = segs[1]
            user = headers.get('X-Storage-User') or headers.get(
                'X-Auth-User')
            if not user:
                return self._unauthorized(req)
            if ':' in user:
                claimed, user = user.split(':', 1)
                if claimed != account:
                    return self._unauthorized(req)
            key = headers.get('X-Storage-Pass') or headers.get('X-Auth-Key')
        elif len(segs) == 1 and segs[0] in ('v1.0', 'auth'):
            login = headers.get('X-Auth-User') or headers.get(
                'X-Storage-User')
            if not login or ':' not in login:
                return self._unauthorized(req)
            account, user = login.split(':', 1)
            key = headers.get('X-Auth-Key') or headers.get('X-Storage-Pass')
        else:
            return Response(400, body=b'Bad Request', content_type=HTML)
        if not key:
            return self._unauthorized(req)
        account_user = '%s:%s' % (account, user)
        entry = self.users.get(account_user)
        if entry is None or not hmac.compare_digest(
                entry['key'].encode('utf-8'),
                key.encode('utf-8', 'surrogateescape')):
            self.logger.info('tempauth: bad credentials for %s',
                             account_user)
            return self._unauthorized(req)
        return self._issue_token(req, account, account_user, entry)

    def _unauthorized(self, req):
        return Response(401, body=b'Unauthorized',
                        content_type='text/plain',
                        headers={'Www-Authenticate': challenge(req.environ)})

    def _issue_token(self, req, account, account_user, entry):
        url = entry['url']
        if url.startswith('$HOST'):
            host_url = req.host_url          # default ports dropped
            if self.storage_url_scheme != 'default':
                host_url = '%s://%s' % (self.storage_url_scheme,
                                        host_url.split('://', 1)[1])
            url = host_url + url[len('$HOST'):]
        account_id = url.rstrip('/').split('/')[-1]
        groups = [account, account_user] + list(entry['groups'])
        if '.admin' in groups:
            # ownership is expressed by the account names themselves
            groups.remove('.admin')
            for prefix in self.reseller_prefixes:
                groups.append(prefix + account)
            if account_id not in groups:
                groups.append(account_id)
        groups = ','.join(groups)

        life = self.token_life
        asked = req.headers.get('X-Auth-Token-Lifetime')
        if asked:
            try:
                life = max(1, min(int(asked), self.max_token_life))
            except ValueError:
                return Response(400,
                                body=b'X-Auth-Token-Lifetime must be a '
                                b'whole number of seconds', content_type=HTML)

        user_key = '%s/user/%s' % (self.reseller_prefix, account_user)
        token = None
        expires = 0
        if not config_true_value(req.headers.get('X-Auth-New-Token', '')):
            token = self.tokens.fetch(req.environ, user_key)
            if token:
                stored = self.tokens.fetch(req.environ, self._token_key(token))
                if (stored and stored[0] > time.time() and
                        stored[1] == groups):
                    expires = stored[0]
                else:
                    token = None
        if not token:
            token = '%stk%s' % (self.reseller_prefix, os.urandom(16).hex())
            expires = time.time() + life
            self.tokens.store(req.environ, self._token_key(token),
                        [expires, groups, token], life)
            self.tokens.store(req.environ, user_key, token, life)
        body = json.dumps({'storage': {'default': 'local', 'local': url}})
        resp = Response(200, body=body.encode(),
                        content_type='application/json')
        resp.set_header('X-Auth-Token', token)
        resp.set_header('X-Storage-Token', token)
        resp.set_header('X-Storage-Url', url)
        resp.set_header('X-Auth-Token-Expires', str(
            max(0, int(expires - time.time()))))
        return resp


def challenge(env):
    """``WWW-Authenticate`` for a 401: the account as the realm, as Swift.

    The realm is percent-encoded from the raw path, so a name with CR/LF,
    quotes or non-Latin-1 text can neither split the header nor make it
    unsendable.
    """
    try:
        _version, realm, _rest = split_path(env.get('PATH_INFO', ''), 2, 3,
                                            True)
    except (PathError, ValueError):
        realm = None
    if not realm or realm in ('v1.0', 'auth'):
        realm = 'unknown'
    try:
        raw = realm.encode('latin-1')         # WSGI text: the wire bytes
    except UnicodeEncodeError:
        raw = realm.encode('utf-8')           # real text from a subrequest
    return 'Swift realm="%s"' % quote(raw, safe='')


def _b64decode(text):
    text = text + '=' * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text.encode('ascii')).decode('utf-8')
    except (ValueError, UnicodeError):
        raise ValueError(text)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, (
        'reseller_prefix', 'auth_prefix', 'token_life', 'max_token_life',
        'allow_overrides', 'storage_url_scheme'),
        patterns=(r'^user_.+_.+$', r'^user64_.+_.+$', r'^.*_require_group$'))
    TempAuth(None, conf)          # refuse a bad config now, not per request
    register_info('tempauth', account_acls=True)

    def factory(app):
        return TempAuth(app, conf)
    return factory
