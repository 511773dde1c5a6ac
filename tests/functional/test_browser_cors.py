"""CORS and staticweb in a real browser (headless Chromium via selenium).

A page served from one origin (a tiny http.server on 127.0.0.1) talks to
a proxy of the cluster on another origin (another port) with fetch(), so
the browser itself enforces what the proxy's CORS answers allow:
preflights, exposed headers (also a container's own), refused origins,
strict mode and ``cors_allow_origin``.  The same page uploads files with
an HTML form signed for formpost.  The proxies run the shipped pipeline.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/install).
Without them the tests are skipped, except in CI (``CI`` true, 1 or yes),
where a missing browser is a failure (tests.needs).
"""
import hashlib
import hmac
import importlib.util
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

from objproxy.cli.aio import wait_for_port
from tests.needs import missing
from tests.ports import free_ports

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
CHROME_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                '--disable-quic', '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update', '--disable-sync')


def _missing_browser():
    absent = [path for path in (CHROMIUM, CHROMEDRIVER)
              if not os.access(path, os.X_OK)]
    if importlib.util.find_spec('selenium') is None:
        absent.append('the selenium package')
    return absent


@pytest.fixture(scope='module')
def browser():
    absent = _missing_browser()
    if absent:
        missing('no browser for the CORS tests: missing %s (installed by '
                'scripts/install)' % ', '.join(absent))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix='objproxy-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument('--user-data-dir=' + profile)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope='module')
def page_origin():
    """An origin other than the proxy's, serving one empty page (from a
    separate process: this test process runs eventlet's hub)."""
    root = tempfile.mkdtemp(prefix='objproxy-page-')
    with open(os.path.join(root, 'index.html'), 'w') as fp:
        fp.write('<!DOCTYPE html><html><body>page</body></html>')
    port = free_ports(1)[0]
    proc = subprocess.Popen(
        [sys.executable, '-m', 'http.server', '--bind', '127.0.0.1',
         '--directory', root, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_port('127.0.0.1', port, 30, proc), \
            'the page server did not start'
        yield 'http://127.0.0.1:%d' % port
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def _proxy(cluster, name, **app_options):
    overrides = {'app:proxy_server': app_options} if app_options else None
    return cluster.extra_proxy(name, pipeline=cluster.aio.pipeline,
                               overrides=overrides)


@pytest.fixture(scope='module')
def strict_proxy(cluster):
    with _proxy(cluster, 'browser-strict') as proxy:
        yield proxy


class Account(object):
    """The test account as seen through one proxy, over plain HTTP."""

    def __init__(self, cluster, proxy_url):
        storage_url, self.token = cluster.token()
        self.path = urlparse(storage_url).path
        self.base = proxy_url
        self.url = proxy_url + self.path
        self.netloc = urlparse(proxy_url).netloc

    def request(self, method, path, headers=None, body=b'', token=True):
        headers = dict(headers or {})
        if token:
            headers['X-Auth-Token'] = self.token
        conn = http.client.HTTPConnection(self.netloc, timeout=30)
        try:
            conn.request(method, self.path + path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def container(self, **headers):
        name = 'cors-' + uuid.uuid4().hex[:12]
        status, _h, _b = self.request('PUT', '/' + name, headers)
        assert status in (201, 202)
        return name


def run(driver, page, script, *args):
    """Open ``page`` and run an async script there; its result."""
    if driver.current_url.rstrip('/') != page.rstrip('/'):
        driver.get(page + '/')
    return driver.execute_async_script(script, *args)


PUT_THEN_GET = """
const [url, token, body, done] = arguments;
(async () => {
  const out = {};
  try {
    const put = await fetch(url, {method: 'PUT', body: body, headers: {
      'X-Auth-Token': token, 'X-Object-Meta-Color': 'blue',
      'Content-Type': 'text/plain'}});
    out.put = put.status;
    const got = await fetch(url, {headers: {'X-Auth-Token': token}});
    out.get = got.status;
    out.body = await got.text();
    out.color = got.headers.get('X-Object-Meta-Color');
    out.etag = got.headers.get('Etag');
    out.ranges = got.headers.get('Accept-Ranges');
  } catch (err) {
    out.error = String(err);
  }
  done(out);
})();
"""

SIMPLE_GET = """
const [url, done] = arguments;
fetch(url).then(async r => done({status: r.status, body: await r.text()}))
          .catch(err => done({error: String(err)}));
"""


def test_an_allowed_origin_uploads_and_reads_back(cluster, browser,
                                                 page_origin, strict_proxy):
    acct = Account(cluster, strict_proxy.url)
    name = acct.container(**{
        'X-Container-Meta-Access-Control-Allow-Origin': page_origin})
    url = '%s/%s/hello.txt' % (acct.url, name)
    out = run(browser, page_origin, PUT_THEN_GET, url, acct.token,
              'from the browser')
    assert out == {'put': 201, 'get': 200, 'body': 'from the browser',
                   'color': 'blue',
                   'etag': hashlib.md5(b'from the browser').hexdigest(),
                   'ranges': None}        # not in Swift's exposed list
    status, headers, body = acct.request('GET', '/%s/hello.txt' % name)
    assert (status, body) == (200, b'from the browser')
    assert headers['X-Object-Meta-Color'] == 'blue'


def test_a_refused_origin_cannot_upload(cluster, browser, page_origin,
                                        strict_proxy):
    acct = Account(cluster, strict_proxy.url)
    name = acct.container(**{
        'X-Container-Meta-Access-Control-Allow-Origin':
            'http://elsewhere.example'})
    out = run(browser, page_origin, PUT_THEN_GET,
              '%s/%s/nope.txt' % (acct.url, name), acct.token, 'x')
    assert 'TypeError' in out['error'] and 'put' not in out
    # the preflight failed, so the PUT itself was never sent
    assert acct.request('HEAD', '/%s/nope.txt' % name)[0] == 404


def _public_object(acct, **container_headers):
    name = acct.container(**dict(container_headers,
                                 **{'X-Container-Read': '.r:*'}))
    status, _h, _b = acct.request('PUT', '/%s/public.txt' % name,
                                  body=b'public words')
    assert status == 201
    return '%s/%s/public.txt' % (acct.url, name)


def test_strict_mode_hides_answers_from_unlisted_origins(
        cluster, browser, page_origin, strict_proxy):
    acct = Account(cluster, strict_proxy.url)
    url = _public_object(acct)
    out = run(browser, page_origin, SIMPLE_GET, url)
    assert 'TypeError' in out.get('error', ''), out


def test_without_strict_mode_any_origin_reads_public_objects(
        cluster, browser, page_origin):
    with _proxy(cluster, 'browser-lax', strict_cors_mode='false') as proxy:
        acct = Account(cluster, proxy.url)
        url = _public_object(acct)
        out = run(browser, page_origin, SIMPLE_GET, url)
        assert out == {'status': 200, 'body': 'public words'}


def test_cors_allow_origin_opens_every_container_to_an_origin(
        cluster, browser, page_origin):
    with _proxy(cluster, 'browser-allow',
                cors_allow_origin=page_origin) as proxy:
        acct = Account(cluster, proxy.url)
        name = acct.container()           # no CORS metadata of its own
        out = run(browser, page_origin, PUT_THEN_GET,
                  '%s/%s/op.txt' % (acct.url, name), acct.token, 'operator')
        assert (out.get('put'), out.get('body')) == (201, 'operator'), out


def test_a_static_site_serves_its_index_and_listings(cluster, browser,
                                                     strict_proxy):
    from selenium.webdriver.common.by import By
    acct = Account(cluster, strict_proxy.url)
    name = acct.container(**{'X-Container-Read': '.r:*,.rlistings',
                             'X-Container-Meta-Web-Index': 'index.html',
                             'X-Container-Meta-Web-Listings': 'true'})
    for obj, body, ctype in (
            ('index.html', b'<h1 id="hi">Welcome</h1>', 'text/html'),
            ('files/a.txt', b'a', 'text/plain'),
            ('files/b.txt', b'bb', 'text/plain')):
        status, _h, _b = acct.request('PUT', '/%s/%s' % (name, obj),
                                      {'Content-Type': ctype}, body)
        assert status == 201
    browser.get('%s/%s/' % (acct.url, name))
    assert browser.find_element(By.ID, 'hi').text == 'Welcome'
    browser.get('%s/%s/files' % (acct.url, name))    # redirected to files/
    assert browser.current_url.endswith('/%s/files/' % name)
    rows = browser.find_elements(By.CSS_SELECTOR, '#listing td.colname a')
    assert [row.text for row in rows] == ['../', 'a.txt', 'b.txt']


def test_a_containers_expose_headers_and_max_age_reach_the_browser(
        cluster, browser, page_origin, strict_proxy):
    acct = Account(cluster, strict_proxy.url)
    name = acct.container(**{
        'X-Container-Meta-Access-Control-Allow-Origin': page_origin,
        'X-Container-Meta-Access-Control-Expose-Headers': 'Accept-Ranges',
        'X-Container-Meta-Access-Control-Max-Age': '42'})
    out = run(browser, page_origin, PUT_THEN_GET,
              '%s/%s/exposed.txt' % (acct.url, name), acct.token, 'seen')
    assert (out.get('put'), out.get('body')) == (201, 'seen'), out
    assert out['ranges'] == 'bytes'     # readable: the container exposes it
    status, headers, _b = acct.request(
        'OPTIONS', '/%s/exposed.txt' % name, token=False, headers={
            'Origin': page_origin, 'Access-Control-Request-Method': 'PUT'})
    assert status == 200
    assert headers['Access-Control-Max-Age'] == '42'


FORM = """
const [action, fields, done] = arguments;
const form = document.createElement('form');
form.method = 'POST';
form.enctype = 'multipart/form-data';
form.action = action;
for (const [name, value] of fields) {
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = name;
  input.value = value;
  form.appendChild(input);
}
const file = document.createElement('input');
file.type = 'file';
file.name = 'file1';
file.id = 'upload';
form.appendChild(file);
document.body.appendChild(form);
done(true);
"""


def signed_form(acct, name, redirect, key):
    path = '%s/%s/' % (acct.path, name)
    expires = int(time.time()) + 300
    fields = [('redirect', redirect), ('max_file_size', '1048576'),
              ('max_file_count', '1'), ('expires', str(expires))]
    message = '\n'.join([path] + [value for _n, value in fields])
    signature = hmac.new(key.encode(), message.encode(),
                         hashlib.sha256).hexdigest()
    return fields + [('signature', signature)]


def browser_form_upload(browser, page_origin, acct, name, path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    redirect = page_origin + '/done.html'
    run(browser, page_origin, FORM, '%s/%s/' % (acct.url, name),
        signed_form(acct, name, redirect, acct.form_key))
    upload = browser.find_element(By.ID, 'upload')
    upload.send_keys(path)
    upload.find_element(By.XPATH, '..').submit()
    WebDriverWait(browser, 20).until(
        lambda driver: driver.current_url.startswith(redirect))
    answer = parse_qs(urlparse(browser.current_url).query)
    browser.get(page_origin + '/')       # back to the page for the next test
    return answer['status'][0], answer.get('message', [''])[0]


@pytest.fixture
def form_account(cluster, strict_proxy):
    acct = Account(cluster, strict_proxy.url)
    acct.form_key = 'form-key-' + uuid.uuid4().hex
    status, _h, _b = acct.request('POST', '', {
        'X-Account-Meta-Temp-URL-Key': acct.form_key})
    assert status == 204
    return acct


def test_a_browser_form_uploads_a_file_with_formpost(
        browser, page_origin, form_account, tmp_path):
    acct = form_account
    name = acct.container()
    path = tmp_path / 'holiday notes.txt'
    path.write_bytes(b'sunny, mostly')
    status, _message = browser_form_upload(browser, page_origin, acct, name,
                                           str(path))
    assert status == '201'
    stored = acct.request('GET', '/%s/holiday%%20notes.txt' % name)
    assert (stored[0], stored[2]) == (200, b'sunny, mostly')
    assert stored[1]['X-Object-Av-Verdict'] == 'clean'


def test_an_infected_file_in_a_browser_form_is_refused_by_name(
        browser, page_origin, form_account, tmp_path):
    from objproxy.common.clamd import EICAR_TEST_FILE
    acct = form_account
    name = acct.container()
    path = tmp_path / 'invoice.com'
    path.write_bytes(EICAR_TEST_FILE)
    status, message = browser_form_upload(browser, page_origin, acct, name,
                                          str(path))
    assert status == '403'
    assert 'invoice.com' in message and 'Objproxy.Test.EICAR' in message
    assert acct.request('HEAD', '/%s/invoice.com' % name)[0] == 404
