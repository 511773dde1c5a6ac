import pytest

from objproxy.proxy.copy import (
    BodyReader, CopyError, copy_metadata, parse_account,
    parse_client_location, parse_container_object)


def test_parse_container_object():
    assert parse_container_object('/c/o/with/slash', 'X') == \
        ('c', 'o/with/slash')
    assert parse_container_object('c%20x/%E2%98%83', 'X') == \
        ('c x', '\u2603')
    for bad in (None, 'nocontainer', '/c/', '//o', 'c/%FF'):
        with pytest.raises(CopyError) as err:
            parse_container_object(bad, 'Destination')
        assert err.value.status == 412
    with pytest.raises(CopyError):
        parse_account('a/b', 'Destination-Account')
    assert parse_account('AUTH_x', 'Destination-Account') == 'AUTH_x'


SOURCE = {'x-object-meta-a': '1', 'x-object-meta-b': '2',
          'content-type': 'image/png', 'x-object-sysmeta-s': 's',
          'etag': 'e', 'content-length': '5', 'x-timestamp': '1'}


def test_copy_keeps_source_metadata_and_request_overrides():
    out = copy_metadata(SOURCE, {'X-Object-Meta-B': 'new',
                                 'X-Object-Meta-C': '3'})
    assert out == {'x-object-meta-a': '1', 'x-object-meta-b': 'new',
                   'x-object-meta-c': '3', 'content-type': 'image/png',
                   'x-object-sysmeta-s': 's'}


def test_fresh_metadata_drops_source_user_metadata_only():
    out = copy_metadata(SOURCE, {'X-Fresh-Metadata': 'true',
                                 'X-Object-Meta-C': '3',
                                 'Content-Type': 'text/x'})
    assert out == {'x-object-meta-c': '3', 'content-type': 'text/x',
                   'x-object-sysmeta-s': 's'}


def test_remove_and_empty_values_delete_metadata():
    out = copy_metadata(SOURCE, {'X-Remove-Object-Meta-A': 'x',
                                 'X-Object-Meta-B': ''})
    assert 'x-object-meta-a' not in out and 'x-object-meta-b' not in out


def test_body_reader_rechunks():
    reader = BodyReader([b'abc', b'defg', b'h'])
    assert reader.read(2) == b'ab'
    assert reader.read(5) == b'cdefg'
    assert reader.read(5) == b'h'
    assert reader.read(5) == b''


def test_copy_headers_sent_as_raw_utf8_name_the_right_object():
    raw = '/caf\u00e9/\u4e2d'.encode('utf-8').decode('latin-1')   # WSGI
    assert parse_client_location({'X-Copy-From': raw}, 'X-Copy-From',
                                 'X-Copy-From-Account', 'AUTH_a') == (
        'AUTH_a', 'caf\u00e9', '\u4e2d')
    quoted = {'X-Copy-From': '/caf%C3%A9/%E4%B8%AD'}
    assert parse_client_location(quoted, 'X-Copy-From',
                                 'X-Copy-From-Account', 'AUTH_a') == (
        'AUTH_a', 'caf\u00e9', '\u4e2d')


def test_copy_headers_with_invalid_utf8_are_412():
    with pytest.raises(CopyError) as err:
        parse_client_location({'X-Copy-From': '/c/\xff'}, 'X-Copy-From',
                              'X-Copy-From-Account', 'AUTH_a')
    assert err.value.status == 412
