"""listing_formats: JSON asked of the app, the client's format rendered."""
import json
from xml.etree import ElementTree

import pytest
from webob import Request

from middleware import listing_formats
from middleware.listing_formats import ListingFormats, listing_content_type

CONTAINER_ROWS = [
    {'name': 'a&b<c>"d\'', 'hash': 'h1', 'bytes': 3,
     'content_type': 'text/plain', 'last_modified': '2025-01-01T00:00:00'},
    {'subdir': 'dir/'},
    {'name': '\u2603', 'hash': 'h2', 'bytes': 0,
     'content_type': 'x/y', 'last_modified': '2025-01-02T00:00:00',
     'slo_etag': '"e"'},
]
ACCOUNT_ROWS = [
    {'name': 'c&1', 'count': 1, 'bytes': 2,
     'last_modified': '2025-01-01T00:00:00'},
    {'subdir': 'p/'},
]


class FakeApp(object):
    """Answers listings in JSON (and remembers what it was asked)."""

    def __init__(self, rows=None, status='200 OK',
                 content_type='application/json; charset=utf-8',
                 body=None, headers=()):
        self.rows = rows
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = list(headers)
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append(dict(env))
        if self.body is not None:
            body = self.body
        else:
            body = json.dumps(self.rows).encode()
        start_response(self.status, [
            ('Content-Type', self.content_type),
            ('Content-Length', str(len(body))),
            ('X-Container-Object-Count', '2')] + self.headers)
        return [body] if env['REQUEST_METHOD'] == 'GET' else []


def get(app, path, headers=None, method='GET'):
    return Request.blank(path, method=method,
                         headers=headers or {}).get_response(app)


@pytest.fixture
def fake():
    return FakeApp(CONTAINER_ROWS)


@pytest.mark.parametrize('query,accept,want', [
    ('', None, 'text/plain'),
    ('', '', 'text/plain'),
    ('format=json', 'text/plain', 'application/json'),
    ('format=XML', None, 'application/xml'),
    ('format=nonsense', 'application/json', 'text/plain'),
    ('', 'application/json', 'application/json'),
    ('', 'text/xml', 'text/xml'),
    ('', 'application/*', 'application/json'),
    ('', '*/*', 'text/plain'),
    # quality first, then specific ranges before wildcards
    ('', 'text/plain;q=0.5, application/xml', 'application/xml'),
    ('', 'text/*, application/json', 'application/json'),
    ('', 'application/json;q=0, application/xml;q=0.1',
     'application/xml'),
])
def test_negotiation(query, accept, want):
    env = Request.blank('/v1/a?' + query).environ
    if accept is not None:
        env['HTTP_ACCEPT'] = accept
    assert listing_content_type(env) == want


@pytest.mark.parametrize('accept,status', [
    ('image/png', 406), ('application/json;q=0', 406),
    ('not a type', 400), ('text/plain;q=x', 400)])
def test_nothing_acceptable_is_406_and_a_bad_header_400(fake, accept,
                                                        status):
    resp = get(ListingFormats(fake), '/v1/a/c', {'Accept': accept})
    assert resp.status_int == status
    assert not fake.calls


def test_the_app_is_always_asked_for_json(fake):
    app = ListingFormats(fake)
    get(app, '/v1/a/c?format=xml&prefix=a%26b&marker=%E2%98%83')
    query = fake.calls[0]['QUERY_STRING']
    assert query == 'prefix=a%26b&marker=%E2%98%83&format=json'


def test_container_xml_is_well_formed_and_escaped(fake):
    resp = get(ListingFormats(fake), '/v1/a/c%26%3C', {
        'Accept': 'application/xml'})
    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'application/xml; charset=utf-8'
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ElementTree.fromstring(resp.body)
    assert (root.tag, root.get('name')) == ('container', 'c&<')
    objects = root.findall('object')
    assert [o.find('name').text for o in objects] == [
        'a&b<c>"d\'', '\u2603']
    assert [f.tag for f in objects[0]] == [
        'name', 'hash', 'bytes', 'content_type', 'last_modified']
    subdir = root.find('subdir')
    assert subdir.get('name') == 'dir/' and subdir.find('name').text == 'dir/'
    assert resp.headers['Vary'] == 'Accept'


def test_account_xml_with_a_name_that_needs_escaping():
    app = ListingFormats(FakeApp(ACCOUNT_ROWS))
    resp = get(app, '/v1/AUTH_a%26b?format=xml')
    root = ElementTree.fromstring(resp.body)
    assert (root.tag, root.get('name')) == ('account', 'AUTH_a&b')
    assert [c.find('name').text for c in root.findall('container')] == \
        ['c&1']
    assert root.find('subdir').get('name') == 'p/'
    assert 'Vary' not in resp.headers      # format= leaves nothing to vary


def test_plain_is_one_name_per_line_and_empty_is_204():
    resp = get(ListingFormats(FakeApp(CONTAINER_ROWS)), '/v1/a/c')
    assert resp.body == 'a&b<c>"d\'\ndir/\n\u2603\n'.encode('utf-8')
    assert resp.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert resp.headers['Content-Length'] == str(len(resp.body))
    empty = get(ListingFormats(FakeApp([])), '/v1/a/c')
    assert empty.status_int == 204 and empty.body == b''
    as_json = get(ListingFormats(FakeApp([])), '/v1/a/c?format=json')
    assert (as_json.status_int, as_json.body) == (200, b'[]')


def test_json_keeps_every_field(fake):
    resp = get(ListingFormats(fake), '/v1/a/c?format=json')
    assert json.loads(resp.body) == CONTAINER_ROWS
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'


def test_head_gets_the_type_and_no_length(fake):
    resp = get(ListingFormats(fake), '/v1/a/c', {'Accept': 'text/xml'},
               method='HEAD')
    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'text/xml; charset=utf-8'
    assert resp.headers['Content-Length'] == '0'
    assert resp.headers['X-Container-Object-Count'] == '2'


@pytest.mark.parametrize('kwargs', [
    {'status': '404 Not Found', 'body': b'<html>nope</html>',
     'content_type': 'text/html'},
    {'content_type': 'text/html', 'body': b'<html>staticweb</html>'},
    {'body': b'{"not": "a list"}'},
    {'body': b'not json'},
    {'body': b'[{"no_name": 1}]'},
])
def test_what_is_not_a_json_listing_passes_through(kwargs):
    app = FakeApp(**kwargs)
    resp = get(ListingFormats(app), '/v1/a/c?format=xml')
    assert resp.body == kwargs['body']
    assert resp.headers['Content-Type'] == kwargs.get(
        'content_type', 'application/json; charset=utf-8')


def test_a_filter_may_claim_the_listing():
    def staticweb(env, start_response):
        env['swift.format_listing'] = False
        body = b'[]'
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', '2')])
        return [body]
    resp = get(ListingFormats(staticweb), '/v1/a/c')
    assert resp.body == b'[]'


def test_existing_vary_gets_accept_added():
    app = FakeApp(CONTAINER_ROWS, headers=[('Vary', 'Origin')])
    resp = get(ListingFormats(app), '/v1/a/c')
    assert resp.headers['Vary'] == 'Origin, Accept'


@pytest.mark.parametrize('path,method', [
    ('/v1/a/c/o', 'GET'), ('/v1/a/c', 'PUT'), ('/info', 'GET'),
    ('/v2/a/c', 'GET'), ('/auth/v1.0', 'GET')])
def test_other_requests_are_untouched(path, method):
    app = FakeApp(CONTAINER_ROWS)
    resp = get(ListingFormats(app), path + '?format=xml', method=method)
    assert app.calls[0]['QUERY_STRING'] == 'format=xml'
    assert resp.headers['Content-Type'] == 'application/json; charset=utf-8'


def test_format_that_is_not_utf8_is_400():
    app = FakeApp(CONTAINER_ROWS)
    env = Request.blank('/v1/a/c').environ
    env['QUERY_STRING'] = 'format=%FF'
    resp = Request(env).get_response(ListingFormats(app))
    assert resp.status_int == 400 and not app.calls


def test_unknown_option_is_refused():
    with pytest.raises(Exception) as err:
        listing_formats.filter_factory({}, bogus='1')
    assert 'bogus' in str(err.value)
