"""staticweb against a small in-memory account (FakeAccount): which
requests are web-mode ones, indexes, listings, error pages, directory
markers and redirects, as Swift's staticweb serves them."""
import hashlib
import json
from urllib.parse import parse_qs

import pytest
from webob import Request, Response

from middleware import staticweb
from objproxy.common.exceptions import ConfigError
from objproxy.common.paths import quote, split_path, wsgi_to_str
from objproxy.proxy.info import cache_key, container_info_from_headers

ACCOUNT = 'AUTH_test'


class FakeAccount(object):
    """Containers (metadata, read ACL) and objects, answering as the proxy
    does: ACLs judged through ``swift.authorize``, JSON listings."""

    def __init__(self):
        self.containers = {}   # name -> {'meta': {}, 'read': acl}
        self.objects = {}      # (container, name) -> (content_type, body)
        self.calls = []        # (method, path, query, user agent)

    def container(self, name, read='.r:*,.rlistings', **meta):
        self.containers[name] = {'read': read, 'meta': meta}

    def put(self, container, name, body=b'', content_type='text/plain'):
        self.objects[(container, name)] = (content_type, body)

    def headers(self, name):
        headers = {'X-Container-Read': self.containers[name]['read']}
        for key, value in self.containers[name]['meta'].items():
            headers['X-Container-Meta-' + key.replace('_', '-')] = value
        return headers

    def info(self, name):
        return container_info_from_headers(200, self.headers(name))

    def __call__(self, env, start_response):
        path = wsgi_to_str(env['PATH_INFO'])
        method = env['REQUEST_METHOD']
        self.calls.append((method, path, env.get('QUERY_STRING', ''),
                           env.get('HTTP_USER_AGENT')))
        _v, _a, cont, obj = split_path(path, 2, 4, True)
        req = Request(env)
        if cont not in self.containers:
            return Response(status=404)(env, start_response)
        req.acl = self.containers[cont]['read']
        denied = env['swift.authorize'](req)
        if denied:
            return denied(env, start_response)
        if not obj and method == 'HEAD':
            return Response(status=204, headers=self.headers(cont))(
                env, start_response)
        if not obj:
            return self.listing(req, cont)(env, start_response)
        if (cont, obj) not in self.objects:
            return Response(status=404, body=b'no such object')(
                env, start_response)
        ctype, body = self.objects[(cont, obj)]
        return Response(body=body, content_type=ctype, charset=None)(
            env, start_response)

    def listing(self, req, cont):
        query = parse_qs(req.query_string)
        prefix = query.get('prefix', [''])[0]
        limit = int(query.get('limit', ['10000'])[0])
        out, dirs = [], set()
        for (c, name), (ctype, body) in sorted(self.objects.items()):
            if c != cont or not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if '/' in rest:
                subdir = prefix + rest.split('/', 1)[0] + '/'
                if subdir not in dirs:
                    dirs.add(subdir)
                    out.append({'subdir': subdir})
                continue
            out.append({'name': name, 'bytes': len(body),
                        'content_type': ctype,
                        'hash': hashlib.md5(body).hexdigest(),
                        'last_modified': '2025-01-02T03:04:05.123456'})
        return Response(body=json.dumps(out[:limit]).encode(),
                        content_type='application/json')


def authorize(req):
    """tempauth's rules, reduced: an identified user owns the account;
    anonymous needs ``.r:*`` (and ``.rlistings`` for a container)."""
    if req.remote_user:
        return None
    acl = getattr(req, 'acl', None) or ''
    _v, _a, _c, obj = split_path(req.path_info, 2, 4, True)
    if '.r:*' in acl and (obj or '.rlistings' in acl):
        return None
    return Response(status=401, body=b'Unauthorized')


@pytest.fixture
def site():
    return FakeAccount()


def call(fake, path, method='GET', user=None, cached=True, **headers):
    env = Request.blank(quote('/v1/%s/%s' % (ACCOUNT, path)),
                        method=method, headers=headers).environ
    env['swift.authorize'] = authorize
    env['HTTP_HOST'] = 'site.example:8080'
    if user:
        env['REMOTE_USER'] = user
    if cached:
        env['swift.infocache'] = dict(
            (cache_key(ACCOUNT, name), fake.info(name))
            for name in fake.containers)
    app = staticweb.filter_factory({})(fake)
    return Request(env).get_response(app)


def test_index_is_served_for_the_container_and_pseudo_dirs(site):
    site.container('web', web_index='index.html')
    site.put('web', 'index.html', b'<p>home</p>', 'text/html')
    site.put('web', 'docs/index.html', b'<p>docs</p>', 'text/html')
    resp = call(site, 'web/')
    assert (resp.status_int, resp.body) == (200, b'<p>home</p>')
    resp = call(site, 'web/docs/')
    assert (resp.status_int, resp.body) == (200, b'<p>docs</p>')
    assert site.calls[-1][3].endswith(' StaticWeb')


def test_a_directory_without_its_slash_is_redirected(site):
    site.container('web', web_index='index.html')
    site.put('web', 'docs/index.html', b'x', 'text/html')
    resp = call(site, 'web')
    assert resp.status_int == 301
    assert resp.headers['Location'] == \
        'http://site.example:8080/v1/AUTH_test/web/'
    resp = call(site, 'web/docs')
    assert resp.status_int == 301
    assert resp.headers['Location'].endswith('/web/docs/')


def test_url_base_sets_the_redirects_scheme_and_host(site):
    site.container('web', web_listings='true')
    env = Request.blank('/v1/AUTH_test/web').environ
    env['swift.authorize'] = authorize
    env['swift.infocache'] = {cache_key(ACCOUNT, 'web'): site.info('web')}
    app = staticweb.filter_factory(
        {}, url_base='https://www.example.com')(site)
    resp = Request(env).get_response(app)
    assert resp.headers['Location'] == \
        'https://www.example.com/v1/AUTH_test/web/'


def test_url_base_must_be_a_scheme_and_host():
    with pytest.raises(ConfigError):
        staticweb.filter_factory({}, url_base='www.example.com')


def test_a_listing_is_rendered_as_swift_lays_it_out(site):
    site.container('web', web_listings='true')
    site.put('web', 'a b.txt', b'x' * 2048)
    site.put('web', 'sub/one', b'1')
    resp = call(site, 'web/')
    assert resp.status_int == 200
    assert resp.content_type == 'text/html'
    body = resp.text
    assert '<title>Listing of /v1/AUTH_test/web/</title>' in body
    assert 'td {padding: 0px 1em 0px 1em;}' in body
    assert ('<tr class="item subdir">\n'
            '    <td class="colname"><a href="./sub/">sub/</a></td>') in body
    assert ('   <tr class="item type-text type-plain">\n'
            '    <td class="colname"><a href="./a%20b%2Etxt">a b.txt</a>'
            '</td>\n    <td class="colsize">2Ki</td>\n'
            '    <td class="coldate">2025-01-02 03:04:05</td>') in body
    assert 'id="parent"' not in body        # the root has no parent link
    sub = call(site, 'web/sub/').text
    assert '<a href="../">../</a>' in sub and './one' in sub


def test_listing_label_and_css(site):
    site.container('web', web_listings='true',
                   web_listings_label='example.com',
                   web_listings_css='style.css')
    site.put('web', 'd/e/f', b'')
    body = call(site, 'web/d/e/').text
    assert '<title>Listing of example.com/d/e/</title>' in body
    assert 'href="../../style.css"' in body
    site.container('abs', web_listings='true',
                   web_listings_css='https://cdn.example/s.css')
    body = call(site, 'abs/').text
    assert 'href="https://cdn.example/s.css"' in body


def test_listings_off_and_no_index_gives_swifts_disabled_page(site):
    site.container('web', web_index='index.html')
    resp = call(site, 'web/')
    assert resp.status_int == 404
    assert 'Web Listing Disabled' in resp.text
    assert 'X-Container-Meta-Web-Index: index.html' in resp.text


def test_a_missing_pseudo_directory_is_a_404(site):
    site.container('web', web_listings='true')
    assert call(site, 'web/nothing/').status_int == 404
    assert call(site, 'web/nothing').status_int == 404


def test_error_pages_keep_the_status(site):
    site.container('web', web_listings='true', web_error='err.html')
    site.put('web', '404err.html', b'custom missing', 'text/html')
    resp = call(site, 'web/nothing')
    assert (resp.status_int, resp.body) == (404, b'custom missing')


def test_a_401_for_a_private_container_uses_the_401_page_if_readable(site):
    site.container('priv', read='', web_listings='true',
                   web_error='err.html')
    site.put('priv', '401err.html', b'go away')
    resp = call(site, 'priv/')
    # the error page itself is private too: the plain 401 is served
    assert resp.status_int == 401 and resp.body == b'Unauthorized'
    site.container('pub', read='.r:*', web_listings='true',
                   web_error='err.html')
    site.put('pub', '401err.html', b'listings are private')
    resp = call(site, 'pub/')
    assert (resp.status_int, resp.body) == (401, b'listings are private')


def test_non_404_object_errors_get_no_error_page(site):
    site.container('priv', read='', web_index='index.html',
                   web_error='err.html')
    site.put('priv', '401err.html', b'page')
    resp = call(site, 'priv/obj')
    assert resp.status_int == 401 and resp.body == b'Unauthorized'


def test_directory_markers_are_served_as_directories(site):
    site.container('web', web_listings='true')
    site.put('web', 'dir', b'', 'application/directory')
    site.put('web', 'dir/file', b'data')
    resp = call(site, 'web/dir')
    assert resp.status_int == 301
    resp = call(site, 'web/dir/')
    assert resp.status_int == 200 and './file' in resp.text
    site.container('typed', web_listings='true',
                   web_directory_type='text/directory')
    site.put('typed', 'dir', b'', 'application/directory')
    assert call(site, 'typed/dir').status_int == 200   # a plain object


def test_authenticated_requests_pass_through_without_web_mode(site):
    site.container('web', web_index='index.html')
    site.put('web', 'index.html', b'home')
    resp = call(site, 'web/', user='AUTH_test,test:tester')
    assert resp.status_int == 200
    assert json.loads(resp.body)[0]['name'] == 'index.html'
    resp = call(site, 'web/', user='AUTH_test,test:tester',
                **{'X-Web-Mode': 'true'})
    assert resp.body == b'home'


def test_web_mode_on_a_container_without_web_settings_is_a_404(site):
    site.container('plain')
    resp = call(site, 'plain', user='AUTH_test', **{'X-Web-Mode': 'true'})
    assert resp.status_int == 404
    resp = call(site, 'plain')                       # anonymous: untouched
    assert resp.status_int == 200 and resp.content_type == 'application/json'


def test_other_methods_and_account_requests_pass_through(site):
    site.container('web', web_index='index.html')
    call(site, 'web/', method='DELETE')
    assert site.calls[-1][:2] == ('DELETE', '/v1/AUTH_test/web/')
    env = Request.blank('/v1/AUTH_test').environ
    env['swift.authorize'] = authorize
    resp = Request(env).get_response(staticweb.filter_factory({})(site))
    assert resp.status_int == 404      # the fake has no account listing


def test_head_of_a_listing_has_no_body(site):
    site.container('web', web_listings='true')
    site.put('web', 'a', b'1')
    resp = call(site, 'web/', method='HEAD')
    assert resp.status_int == 200 and resp.body == b''
    assert int(resp.headers['Content-Length']) > 0


def test_tempurl_links_carry_the_signature(site):
    site.container('web', read='', web_listings='true')
    site.put('web', 'pre/a', b'1')
    site.put('web', 'pre/sub/b', b'2')
    query = ('temp_url_sig=abc&temp_url_expires=2030-01-01T00:00:00Z'
             '&temp_url_prefix=pre/&inline')
    env = Request.blank('/v1/AUTH_test/web/pre/?' + query).environ
    env['REMOTE_USER'] = '.wsgi.tempurl'
    env['swift.authorize'] = lambda req: None
    env['swift.infocache'] = {cache_key(ACCOUNT, 'web'): site.info('web')}
    resp = Request(env).get_response(staticweb.filter_factory({})(site))
    links = ('?temp_url_prefix=pre/'
             '&amp;temp_url_expires=2030-01-01T00%3A00%3A00Z'
             '&amp;temp_url_sig=abc&amp;inline')
    assert 'href="./a%s"' % links in resp.text
    assert 'href="./sub/%s"' % links in resp.text
    assert 'id="parent"' not in resp.text   # no way up out of the prefix


def test_container_info_comes_from_the_cache_once(site):
    site.container('web', web_index='index.html')
    site.put('web', 'index.html', b'home')
    resp = call(site, 'web/', cached=False)
    assert resp.body == b'home'
    heads = [c for c in site.calls if c[0] == 'HEAD']
    assert len(heads) == 1


def test_utf8_names_in_listings_and_redirects(site):
    site.container(u'w\u00e9b', web_listings='true')
    site.put(u'w\u00e9b', u'd\u00eer/f\u00efle', b'1')
    resp = call(site, u'w\u00e9b/d\u00eer')
    assert resp.headers['Location'].endswith('/w%C3%A9b/d%C3%AEr/')
    resp = call(site, u'w\u00e9b/d\u00eer/')
    assert u'./f%C3%AFle' in resp.text and u'f\u00efle</a>' in resp.text


def test_info_section_is_registered():
    from objproxy.common.registry import get_info
    staticweb.filter_factory({})
    assert get_info()['staticweb'] == {}


def test_human_readable_sizes():
    assert [staticweb.human_readable(n) for n in
            (0, 1023, 1024, 1536, 1048576, 5 * 1024 ** 3)] == \
        ['0', '1023', '1Ki', '2Ki', '1Mi', '5Gi']
