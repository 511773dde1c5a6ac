"""staticweb through a real proxy: a public container served as a site
(index, listing, error page, slash redirect) to anonymous clients, and
the plain API for authenticated ones unless they ask for web mode."""
import http.client
import json
import uuid
from urllib.parse import urlparse

import pytest

PIPELINE = ('catch_errors gatekeeper healthcheck proxy_logging ratelimit '
            'tempauth staticweb clamav slo dlo proxy_logging proxy_server')


@pytest.fixture(scope='module')
def site(cluster):
    """A proxy with staticweb, and a public container set up as a site."""
    with cluster.extra_proxy('staticweb', pipeline=PIPELINE) as proxy:
        storage_url, token = cluster.token()
        netloc = urlparse(proxy.url).netloc
        base = urlparse(storage_url).path + '/site-' + uuid.uuid4().hex[:8]

        def request(method, path='', headers=None, body=b'', auth=False):
            headers = dict(headers or {})
            if auth:
                headers['X-Auth-Token'] = token
            conn = http.client.HTTPConnection(netloc, timeout=30)
            try:
                conn.request(method, base + path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, dict(resp.getheaders()), resp.read()
            finally:
                conn.close()

        status, _h, _b = request('PUT', headers={
            'X-Container-Read': '.r:*,.rlistings',
            'X-Container-Meta-Web-Index': 'index.html',
            'X-Container-Meta-Web-Listings': 'true',
            'X-Container-Meta-Web-Error': 'error.html'}, auth=True)
        assert status == 201
        for name, body in (('index.html', b'<h1>home</h1>'),
                           ('404error.html', b'<h1>lost</h1>'),
                           ('docs/a.txt', b'aaa')):
            status, _h, _b = request('PUT', '/' + name, {
                'Content-Type': 'text/html'}, body, auth=True)
            assert status == 201
        request.proxy_url = proxy.url
        request.base = base
        yield request


def test_anonymous_clients_get_the_index(site):
    status, _h, body = site('GET', '/')
    assert (status, body) == (200, b'<h1>home</h1>')


def test_a_directory_without_its_slash_is_redirected(site):
    status, headers, _b = site('GET', '/docs')
    assert status == 301
    assert headers['Location'] == '%s%s/docs/' % (site.proxy_url, site.base)
    status, headers, _b = site('GET')
    assert status == 301 and headers['Location'].endswith(site.base + '/')


def test_a_directory_without_index_is_listed(site):
    status, headers, body = site('GET', '/docs/')
    assert status == 200
    assert headers['Content-Type'] == 'text/html; charset=UTF-8'
    assert b'<a href="./a%2Etxt">a.txt</a>' in body
    assert b'<a href="../">../</a>' in body
    assert not any(k.lower().startswith('x-backend-') for k in headers)


def test_missing_pages_get_the_sites_error_page_with_404(site):
    status, _h, body = site('GET', '/no/such/page')
    assert (status, body) == (404, b'<h1>lost</h1>')


def test_authenticated_clients_get_the_api_unless_in_web_mode(site):
    status, _h, body = site('GET', '/', {'Accept': 'application/json'},
                            auth=True)
    assert status == 200
    assert 'index.html' in [item.get('name') for item in json.loads(body)]
    status, _h, body = site('GET', '/', {'X-Web-Mode': 'true'}, auth=True)
    assert (status, body) == (200, b'<h1>home</h1>')
