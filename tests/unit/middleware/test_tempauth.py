"""tempauth: tokens, Swift's authorisation rules, shared tokens in memcached."""
import json
import logging
import time

import pytest
from webob import Request, Response

from middleware import tempauth
from objproxy.common.exceptions import ConfigError
from objproxy.common.paths import split_path
from objproxy.common.registry import get_info

USERS = {
    'user_admin_admin': 'adminpw .admin .reseller_admin',
    'user_test_tester': 'testing .admin',
    'user_test_tester3': 'testing3',
    'user_test2_tester2': 'testing2 .admin',
    'user_other_guy': 'guypw',
}


class FakeProxy(object):
    """Does what the proxy does with tempauth: call swift.authorize with
    req.acl set to the container's read or write ACL."""

    def __init__(self):
        self.acls = {}          # (account, container) -> {'read':, 'write':}
        self.account_headers = {}
        self.seen = []

    def __call__(self, env, start_response):
        req = Request(env)
        self.seen.append(req)
        _v, account, container, obj = split_path(req.path_info, 1, 4, True)
        if container:
            acl = self.acls.get((account, container), {})
            req.acl = acl.get('read' if req.method in ('GET', 'HEAD')
                              else 'write')
        authorize = env.get('swift.authorize')
        if authorize:
            denied = authorize(req)
            if denied:
                return denied(env, start_response)
        resp = Response(status=200, body=b'data')
        if not container:
            resp.headers.update(self.account_headers.get(account, {}))
        return resp(env, start_response)


def make(memcache_servers=None, app=None, **extra):
    conf = dict(USERS)
    conf.update(extra)
    if memcache_servers:
        conf['memcache_servers'] = memcache_servers
    app = app or FakeProxy()
    return tempauth.filter_factory({}, **conf)(app), app


def get_token(mw, user='test:tester', key='testing', path='/auth/v1.0',
              **headers):
    headers.setdefault('X-Auth-User', user)
    headers.setdefault('X-Auth-Key', key)
    return Request.blank(path, headers=headers).get_response(mw)


def call(mw, path, token=None, method='GET', **headers):
    if token:
        headers['X-Auth-Token'] = token
    return Request.blank(path, method=method, headers=headers) \
        .get_response(mw)


# -- getting tokens ----------------------------------------------------------
def test_get_token():
    mw, _ = make()
    resp = get_token(mw)
    assert resp.status_int == 200
    token = resp.headers['X-Auth-Token']
    assert token.startswith('AUTH_tk') and len(token) == len('AUTH_tk') + 32
    assert resp.headers['X-Storage-Token'] == token
    assert resp.headers['X-Storage-Url'] == 'http://localhost/v1/AUTH_test'
    assert 86390 <= int(resp.headers['X-Auth-Token-Expires']) <= 86400
    assert json.loads(resp.body)['storage']['local'] == \
        'http://localhost/v1/AUTH_test'


@pytest.mark.parametrize('path', ['/auth/v1.0', '/auth/v1.0/', '/v1.0',
                                  '/auth/auth'])
def test_auth_path_variants(path):
    mw, _ = make()
    assert get_token(mw, path=path).status_int == 200


def test_v1_account_auth_form_with_storage_headers():
    mw, _ = make()
    req = Request.blank('/auth/v1/test/auth', headers={
        'X-Storage-User': 'tester', 'X-Storage-Pass': 'testing'})
    assert req.get_response(mw).status_int == 200
    req = Request.blank('/auth/v1/test/auth', headers={
        'X-Storage-User': 'test2:tester', 'X-Storage-Pass': 'testing'})
    assert req.get_response(mw).status_int == 401


def test_storage_spelling_on_v1_0():
    mw, _ = make()
    req = Request.blank('/auth/v1.0', headers={
        'X-Storage-User': 'test:tester', 'X-Storage-Pass': 'testing'})
    assert req.get_response(mw).status_int == 200


def test_bad_credentials_401_and_key_never_shown(caplog):
    mw, _ = make()
    logger = logging.getLogger('objproxy.tempauth')
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        for user, key in [('test:tester', 'wrong-secret-xyz'),
                          ('test:nobody', 'testing'), ('nocolon', 'x'),
                          ('test:tester', '')]:
            resp = get_token(mw, user=user, key=key)
            assert resp.status_int == 401
            assert b'wrong-secret' not in resp.body
            assert b'testing' not in resp.body
    finally:
        logger.removeHandler(caplog.handler)
    assert 'wrong-secret-xyz' not in caplog.text
    assert 'testing' not in caplog.text.replace('test:tester', '')


def test_bad_auth_path_and_method():
    mw, _ = make()
    assert get_token(mw, path='/auth/v2/other').status_int == 400
    resp = Request.blank('/auth/v1.0', method='POST').get_response(mw)
    assert resp.status_int == 405


def test_token_reused_until_new_token_asked():
    mw, _ = make()
    first = get_token(mw).headers['X-Auth-Token']
    assert get_token(mw).headers['X-Auth-Token'] == first
    fresh = get_token(mw, **{'X-Auth-New-Token': 'true'})
    assert fresh.headers['X-Auth-Token'] != first
    assert call(mw, '/v1/AUTH_test', first).status_int == 200


def test_token_lifetime_header_capped():
    mw, _ = make(token_life='100')
    resp = get_token(mw, **{'X-Auth-Token-Lifetime': '10',
                            'X-Auth-New-Token': 'yes'})
    assert int(resp.headers['X-Auth-Token-Expires']) <= 10
    resp = get_token(mw, **{'X-Auth-Token-Lifetime': '100000',
                            'X-Auth-New-Token': 'yes'})
    assert 90 <= int(resp.headers['X-Auth-Token-Expires']) <= 100
    resp = get_token(mw, **{'X-Auth-Token-Lifetime': 'soon'})
    assert resp.status_int == 400


def test_token_expires(monkeypatch):
    mw, _ = make(token_life='1')
    token = get_token(mw).headers['X-Auth-Token']
    assert call(mw, '/v1/AUTH_test', token).status_int == 200
    later = time.time() + 1.1
    monkeypatch.setattr(time, 'time', lambda: later)
    assert call(mw, '/v1/AUTH_test', token).status_int == 401


def test_storage_url_scheme_and_explicit_url():
    mw, _ = make(storage_url_scheme='https',
                 user_acme_bob='bobpw http://cdn.example:8080/v1/AUTH_acme')
    resp = get_token(mw)
    assert resp.headers['X-Storage-Url'] == 'https://localhost/v1/AUTH_test'
    resp = get_token(mw, user='acme:bob', key='bobpw')
    assert resp.headers['X-Storage-Url'] == \
        'http://cdn.example:8080/v1/AUTH_acme'
    req = Request.blank('/auth/v1.0', headers={
        'Host': 'proxy.example:8443', 'X-Auth-User': 'test:tester',
        'X-Auth-Key': 'testing'})
    assert req.get_response(mw).headers['X-Storage-Url'] == \
        'https://proxy.example:8443/v1/AUTH_test'


def test_user64():
    import base64

    def b64(text):
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip('=')
    mw, _ = make(**{'user64_%s_%s' % (b64('my_acct'), b64('us_er')):
                    'pw .admin'})
    resp = get_token(mw, user='my_acct:us_er', key='pw')
    assert resp.status_int == 200
    assert resp.headers['X-Storage-Url'].endswith('/v1/AUTH_my_acct')


# -- authorisation -----------------------------------------------------------
def test_owner_and_other_accounts():
    mw, _ = make()
    token = get_token(mw).headers['X-Auth-Token']
    assert call(mw, '/v1/AUTH_test/c/o', token).status_int == 200
    assert call(mw, '/v1/AUTH_test/c', token, 'PUT').status_int == 200
    assert call(mw, '/v1/AUTH_test', token, 'POST').status_int == 200
    assert call(mw, '/v1/AUTH_test2/c', token).status_int == 403
    # the owner may not create or delete the account itself
    assert call(mw, '/v1/AUTH_test', token, 'PUT').status_int == 403
    assert call(mw, '/v1/AUTH_test', token, 'DELETE').status_int == 403


def test_no_token_or_bad_token_is_401():
    mw, _ = make()
    resp = call(mw, '/v1/AUTH_test/c/o')
    assert resp.status_int == 401
    assert resp.headers['Www-Authenticate'] == 'Swift realm="AUTH_test"'
    assert call(mw, '/v1/AUTH_test/c/o',
                'AUTH_tk' + '0' * 32).status_int == 401


def test_foreign_token_and_account_left_to_others():
    app = FakeProxy()
    mw, _ = make(app=app)
    resp = call(mw, '/v1/KEY_x/c', 'KEYtoken')
    assert resp.status_int == 401
    assert app.seen[-1].environ['swift.authorize'] == mw.denied_response


def test_reseller_admin():
    mw, _ = make()
    token = get_token(mw, 'admin:admin', 'adminpw').headers['X-Auth-Token']
    assert call(mw, '/v1/AUTH_test/c/o', token).status_int == 200
    assert call(mw, '/v1/AUTH_newacct', token, 'PUT').status_int == 200
    assert call(mw, '/v1/AUTH_test', token, 'DELETE').status_int == 200
    assert call(mw, '/v1/AUTH_.hidden', token).status_int == 403


def test_non_admin_needs_acl():
    app = FakeProxy()
    mw, _ = make(app=app)
    token = get_token(mw, 'test:tester3', 'testing3').headers['X-Auth-Token']
    assert call(mw, '/v1/AUTH_test/c/o', token).status_int == 403
    assert call(mw, '/v1/AUTH_test', token).status_int == 403
    app.acls[('AUTH_test', 'c')] = {'read': 'test:tester3'}
    assert call(mw, '/v1/AUTH_test/c/o', token).status_int == 200
    assert call(mw, '/v1/AUTH_test/c', token).status_int == 200
    assert call(mw, '/v1/AUTH_test/c/o', token, 'PUT').status_int == 403
    app.acls[('AUTH_test', 'c')] = {'write': 'test:tester3'}
    assert call(mw, '/v1/AUTH_test/c/o', token, 'PUT').status_int == 200
    assert call(mw, '/v1/AUTH_test/c/o', token).status_int == 403


def test_wildcard_acl_entries_grant_nothing_as_in_swift_tempauth():
    """tempauth matches an ACL entry only when it is exactly one of the
    user's groups; ``*``, ``*:*``, ``acct:*`` and ``*:user`` are Keystone
    syntax and must not open a container to anyone."""
    app = FakeProxy()
    mw, _ = make(app=app)
    guy = get_token(mw, 'other:guy', 'guypw').headers['X-Auth-Token']
    for acl in ('*', '*:*', 'other:*', '*:guy'):
        app.acls[('AUTH_test', 'c')] = {'read': acl, 'write': acl}
        assert call(mw, '/v1/AUTH_test/c/o', guy).status_int == 403, acl
        assert call(mw, '/v1/AUTH_test/c/o', guy, 'PUT').status_int == 403
    app.acls[('AUTH_test', 'c')] = {'read': 'other:guy'}
    assert call(mw, '/v1/AUTH_test/c/o', guy).status_int == 200
    app.acls[('AUTH_test', 'c')] = {'read': 'other'}
    assert call(mw, '/v1/AUTH_test/c/o', guy).status_int == 200


def test_referrer_acls_for_anonymous():
    app = FakeProxy()
    mw, _ = make(app=app)
    app.acls[('AUTH_test', 'pub')] = {'read': '.r:*'}
    assert call(mw, '/v1/AUTH_test/pub/o').status_int == 200
    assert call(mw, '/v1/AUTH_test/pub').status_int == 401
    assert call(mw, '/v1/AUTH_test/pub/o', method='PUT').status_int == 401
    app.acls[('AUTH_test', 'pub')] = {'read': '.r:*,.rlistings'}
    assert call(mw, '/v1/AUTH_test/pub').status_int == 200
    app.acls[('AUTH_test', 'pub')] = {'read': '.r:.example.com,.r:-bad.example.com'}
    ok = {'Referer': 'http://www.example.com/page'}
    bad = {'Referer': 'http://bad.example.com/page'}
    assert call(mw, '/v1/AUTH_test/pub/o', **ok).status_int == 200
    assert call(mw, '/v1/AUTH_test/pub/o', **bad).status_int == 401
    assert call(mw, '/v1/AUTH_test/pub/o').status_int == 401



def test_account_acls():
    app = FakeProxy()
    mw, _ = make(app=app)
    token = get_token(mw, 'other:guy', 'guypw').headers['X-Auth-Token']

    def req(path, method='GET', acl=None):
        r = Request.blank(path, method=method,
                          headers={'X-Auth-Token': token})
        r.environ['swift.infocache'] = {'account/AUTH_test': {'sysmeta': {
            'core-access-control': json.dumps(acl)}}}
        return r.get_response(mw)

    assert req('/v1/AUTH_test/c/o', acl={}).status_int == 403
    ro = {'read-only': ['other:guy']}
    assert req('/v1/AUTH_test/c/o', acl=ro).status_int == 200
    assert req('/v1/AUTH_test', acl=ro).status_int == 200
    assert req('/v1/AUTH_test/c/o', 'PUT', acl=ro).status_int == 403
    rw = {'read-write': ['other']}
    assert req('/v1/AUTH_test/c/o', 'PUT', acl=rw).status_int == 200
    assert req('/v1/AUTH_test/c', 'DELETE', acl=rw).status_int == 200
    assert req('/v1/AUTH_test', 'POST', acl=rw).status_int == 403
    assert req('/v1/AUTH_test', 'POST',
               acl={'admin': ['*:guy']}).status_int == 403
    admin = {'admin': ['other:guy']}
    assert req('/v1/AUTH_test', 'POST', acl=admin).status_int == 200
    assert app.seen[-1].environ.get('swift_owner') is True


def test_owner_sets_and_sees_account_acl():
    app = FakeProxy()
    mw, _ = make(app=app)
    token = get_token(mw).headers['X-Auth-Token']
    acl = json.dumps({'read-only': ['test2:tester2']})
    resp = call(mw, '/v1/AUTH_test', token, 'POST',
                **{'X-Account-Access-Control': acl})
    assert resp.status_int == 200
    sent = app.seen[-1].headers       # the proxy stores it as sysmeta
    assert sent['X-Account-Access-Control'] == acl
    resp = call(mw, '/v1/AUTH_test', token, 'POST',
                **{'X-Account-Access-Control': '{"bogus": []}'})
    assert resp.status_int == 400
    assert resp.body.startswith(b'X-Account-Access-Control invalid: ')
    assert b'bogus' in resp.body
    resp = call(mw, '/v1/AUTH_test', token, 'POST',
                **{'X-Account-Access-Control': 'not json'})
    assert resp.status_int == 400


def test_clean_acl():
    clean = tempauth.clean_acl
    assert clean('X-Container-Read', ' .r:*, .rlistings ,a:b') == \
        '.r:*,.rlistings,a:b'
    assert clean('X-Container-Read', '.referrer:example.com') == \
        '.r:example.com'
    assert clean('X-Container-Read', '.r:-http://bad.com/x') == '.r:-bad.com'
    for bad in ('.r:', '.bogus', '.r:-'):
        with pytest.raises(ValueError):
            clean('X-Container-Read', bad)
    with pytest.raises(ValueError) as err:
        clean('X-Container-Write', '.r:*')
    assert 'Referrers not allowed' in str(err.value)
    assert clean('X-Container-Write', 'a:b, c') == 'a:b,c'


def test_env_set_for_authenticated_request():
    app = FakeProxy()
    mw, _ = make(app=app)
    token = get_token(mw).headers['X-Auth-Token']
    call(mw, '/v1/AUTH_test', token)
    env = app.seen[-1].environ
    assert env['REMOTE_USER'].split(',')[:2] == ['test', 'test:tester']
    assert 'AUTH_test' in env['REMOTE_USER'].split(',')
    assert env['swift.clean_acl'] is tempauth.clean_acl
    assert env['swift.authorize'] == mw.authorize


def test_authorize_override_passes_through():
    app = FakeProxy()
    mw, _ = make(app=app)
    req = Request.blank('/v1/AUTH_test/c/o')
    req.environ['swift.authorize_override'] = True
    req.environ['swift.authorize'] = lambda r: None
    assert req.get_response(mw).status_int == 200
    mw2, _ = make(app=app, allow_overrides='false')
    req = Request.blank('/v1/AUTH_test/c/o')
    req.environ['swift.authorize_override'] = True
    assert req.get_response(mw2).status_int == 401


def test_service_tokens_and_require_group():
    app = FakeProxy()
    mw, _ = make(app=app, reseller_prefix='AUTH, SERVICE',
                 SERVICE_require_group='.service',
                 user_glance_glance='glancepw .service')
    user = get_token(mw).headers['X-Auth-Token']
    service = get_token(mw, 'glance:glance', 'glancepw') \
        .headers['X-Auth-Token']
    assert call(mw, '/v1/AUTH_test/c', user).status_int == 200
    assert call(mw, '/v1/SERVICE_test/c', user).status_int == 403
    assert call(mw, '/v1/SERVICE_test/c', user,
                **{'X-Service-Token': service}).status_int == 200
    # a service token alone does not make you the owner
    assert call(mw, '/v1/SERVICE_test/c', service).status_int == 403
    assert call(mw, '/v1/SERVICE_test/c', user,
                **{'X-Service-Token': 'SERVICE_tkbogus'}).status_int == 403


# -- shared tokens through memcached -------------------------------------------
def test_tokens_shared_between_instances(memcached_server):
    one, _ = make(memcached_server)
    two, app2 = make(memcached_server)
    token = get_token(one).headers['X-Auth-Token']
    assert call(two, '/v1/AUTH_test/c/o', token).status_int == 200
    assert app2.seen[-1].environ['swift.cache'] is two.memcache
    # the second proxy also hands out the same unexpired token
    assert get_token(two).headers['X-Auth-Token'] == token
    # without memcached the other instance does not know it
    three, _ = make()
    assert call(three, '/v1/AUTH_test/c/o', token).status_int == 401


def test_a_token_from_memcached_is_then_answered_without_asking_again(
        memcached_server, monkeypatch):
    one, _ = make(memcached_server)
    two, _ = make(memcached_server)
    token = get_token(one).headers['X-Auth-Token']
    asked = []
    real_get = two.memcache.get

    def counting_get(key):
        asked.append(key)
        return real_get(key)
    monkeypatch.setattr(two.memcache, 'get', counting_get)
    for _ in range(3):
        assert call(two, '/v1/AUTH_test/c/o', token).status_int == 200
    assert len([k for k in asked if '/token/' in k]) == 1
    # the copy never outlives the token itself
    later = time.time() + 86400 + 60
    monkeypatch.setattr(time, 'time', lambda: later)
    assert call(two, '/v1/AUTH_test/c/o', token).status_int == 401


def test_memcached_down_still_works_locally(memcached_server):
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        dead = '127.0.0.1:%d' % sock.getsockname()[1]
    mw, _ = make(dead)
    resp = get_token(mw)
    assert resp.status_int == 200
    assert call(mw, '/v1/AUTH_test', resp.headers['X-Auth-Token']) \
        .status_int == 200


# -- config ------------------------------------------------------------------
def test_info_and_options():
    make()
    assert get_info()['tempauth'] == {'account_acls': True}
    with pytest.raises(ConfigError) as err:
        tempauth.filter_factory({}, token_lif='5')
    assert 'token_lif' in str(err.value)
    with pytest.raises(ConfigError):
        tempauth.filter_factory({}, token_life='soon')
    with pytest.raises(ConfigError):
        tempauth.filter_factory({}, user_nouser='x')
    with pytest.raises(ConfigError):
        tempauth.filter_factory({}, storage_url_scheme='ftp')


@pytest.mark.parametrize('path,realm', [
    ('/v1/AUTH_x\r\nSet-Cookie: a=b/c/o',
     'AUTH_x%0D%0ASet-Cookie%3A%20a%3Db'),
    (b'/v1/AUTH_\xe4\xb8\xad/c'.decode('latin-1'), 'AUTH_%E4%B8%AD'),
    ('/v1/AUTH_test', 'AUTH_test'),
    ('/auth/v1.0', 'unknown'),
    ('/v1', 'unknown'),
])
def test_the_401_realm_is_the_percent_encoded_account(path, realm):
    from middleware.tempauth import challenge
    assert challenge({'PATH_INFO': path}) == 'Swift realm="%s"' % realm
