"""Query parsing, content negotiation and rendering of listings."""
import json
from xml.dom import minidom

import pytest

from objproxy.storage import listing
from objproxy.storage.listing import ListingError, ListingParams


def test_parse_query_utf8_and_errors():
    assert listing.parse_query('prefix=%E2%98%83&limit=5&prefix=x') == {
        'prefix': '\u2603', 'limit': '5'}
    assert listing.parse_query('') == {}
    for bad in ('prefix=%ff', '%fe=1'):
        with pytest.raises(ListingError) as err:
            listing.parse_query(bad)
        assert err.value.status == 400


def test_nul_is_an_ordinary_marker_character():
    assert listing.parse_query('marker=a%00b') == {'marker': 'a\x00b'}


def test_content_type_negotiation():
    assert listing.listing_content_type({'format': 'json'}, None) == \
        'application/json'
    assert listing.listing_content_type({'format': 'XML'}, None) == \
        'application/xml'
    assert listing.listing_content_type({'format': 'bogus'}, None) == \
        'text/plain'
    # format wins over Accept
    assert listing.listing_content_type({'format': 'plain'},
                                        'application/json') == 'text/plain'
    negotiated = {
        None: 'text/plain',
        'application/json': 'application/json',
        'text/xml': 'text/xml',
        '*/*': 'text/plain',
        'application/xml;q=0.5, application/json;q=0.9': 'application/json',
        'application/*': 'application/json',
    }
    for accept, want in negotiated.items():
        assert listing.listing_content_type({}, accept) == want
    with pytest.raises(ListingError) as err:
        listing.listing_content_type({}, 'image/png')
    assert err.value.status == 406
    with pytest.raises(ListingError) as err:
        listing.listing_content_type({}, 'garbage')
    assert err.value.status == 400


def test_listing_params():
    p = ListingParams({'limit': '20', 'reverse': 'on', 'delimiter': '/',
                       'path': 'x'}, 10000)
    assert (p.limit, p.reverse, p.delimiter, p.path) == (20, True, '/', 'x')
    assert ListingParams({}, 10000).limit == 10000
    assert ListingParams({'limit': 'abc'}, 10000).limit == 10000
    assert ListingParams({'limit': '10000'}, 10000).limit == 10000
    assert ListingParams({'path': 'x'}, 10, allow_path=False).path is None
    for params, status in (({'limit': '10001'}, 412),
                           ({'prefix': 'x' * 9000}, 400)):
        with pytest.raises(ListingError) as err:
            ListingParams(params, 10000)
        assert err.value.status == status


def test_any_delimiter_is_accepted():
    for delim in ('//', '-&', '\u2603', '\u2603x'):
        assert ListingParams({'delimiter': delim}, 10).delimiter == delim


def test_iso_last_modified():
    assert listing.iso_last_modified('1234567890.12345') == \
        '2009-02-13T23:31:30.123450'
    assert listing.iso_last_modified('0000000001.00000_0000000000000002') \
        == '1970-01-01T00:00:01.000000'


ROWS = [('a&b', '0000000001.50000', 3, 'text/plain', 'etag1'),
        ('dir/', None, None, None, None)]


def test_render_objects_formats():
    data = json.loads(listing.render_objects(ROWS, 'application/json', 'c'))
    assert data == [{'name': 'a&b', 'hash': 'etag1', 'bytes': 3,
                     'content_type': 'text/plain',
                     'last_modified': '1970-01-01T00:00:01.500000'},
                    {'subdir': 'dir/'}]
    xml = listing.render_objects(ROWS, 'application/xml', 'c<1>')
    doc = minidom.parseString(xml)
    root = doc.documentElement
    assert root.tagName == 'container' and root.getAttribute('name') == 'c<1>'
    objs = root.getElementsByTagName('object')
    assert objs[0].getElementsByTagName('name')[0].firstChild.data == 'a&b'
    assert objs[0].getElementsByTagName('bytes')[0].firstChild.data == '3'
    assert root.getElementsByTagName('subdir')[0].getAttribute('name') == \
        'dir/'
    assert listing.render_objects(ROWS, 'text/plain', 'c') == b'a&b\ndir/\n'


def test_render_containers_formats():
    rows = [('c1', 4, 40, '0000000002.00000'), ('sub-', None, None, None)]
    data = json.loads(listing.render_containers(rows, 'application/json',
                                                'a'))
    assert data == [{'name': 'c1', 'count': 4, 'bytes': 40,
                     'last_modified': '1970-01-01T00:00:02.000000',
                     'storage_policy': 'Policy-0'},
                    {'subdir': 'sub-'}]
    doc = minidom.parseString(listing.render_containers(
        rows, 'application/xml', 'a'))
    cont = doc.getElementsByTagName('container')[0]
    fields = dict((node.tagName, node.firstChild.data)
                  for node in cont.childNodes)
    assert fields == {'name': 'c1', 'count': '4', 'bytes': '40',
                      'last_modified': '1970-01-01T00:00:02.000000',
                      'storage_policy': 'Policy-0'}
    assert doc.getElementsByTagName('subdir')[0].getAttribute('name') == \
        'sub-'
    assert listing.render_containers(rows, 'text/plain', 'a') == \
        b'c1\nsub-\n'


def test_swift_bytes_overrides_size():
    f = listing.listed_size_and_type
    assert f(5, 'application/octet-stream;swift_bytes=1234') == \
        (1234, 'application/octet-stream')
    assert f(5, 'text/plain; charset=utf-8; swift_bytes=12') == \
        (12, 'text/plain; charset=utf-8')
    assert f(5, 'a/b;swift_bytes=junk') == (5, 'a/b')
    assert f(3, 'text/plain') == (3, 'text/plain')
    row = ('m', '0000000001.50000', 7, 'a/b;swift_bytes=99', 'e')
    entry = listing.object_entry(row)
    assert entry['bytes'] == 99 and entry['content_type'] == 'a/b'
