import pytest

from objproxy.common.paths import (
    PathError, backend_query, get_reserved_name, reserved_names_allowed,
    split_path, split_reserved_name, str_to_wsgi, wsgi_to_str)


def test_split_path_shapes():
    assert split_path('/v1/a', 2, 4, True) == ['v1', 'a', None, None]
    assert split_path('/v1/a/c/o/with/slashes', 2, 4, True) == [
        'v1', 'a', 'c', 'o/with/slashes']
    assert split_path('/a/b', 2) == ['a', 'b']


@pytest.mark.parametrize('path', ['', 'v1/a', '//a', '/a/b/c/d', '/v1//c'])
def test_malformed_paths(path):
    with pytest.raises(PathError):
        split_path(path, 2, 3)


@pytest.mark.parametrize('path', [
    '/v1/a\x00b', '/\x00/a', '/v1/\x00a', '/v1/a/\x00', '/v1/a/c/o\x00'])
def test_nul_is_refused_in_every_segment(path):
    with pytest.raises(PathError) as err:
        split_path(path, 2, 4, True)
    assert str(err.value) == 'Invalid UTF8 or contains NULL'


def test_reserved_names_split_only_when_allowed():
    """An internal request may name the reserved namespace."""
    assert split_path('/v1/a/\x00versions\x00c/\x00o\x00123', 4, 4, True,
                      allow_reserved=True) == [
        'v1', 'a', '\x00versions\x00c', '\x00o\x00123']
    with pytest.raises(PathError):
        split_path('/v1/a/\x00versions\x00c', 3, 3)
    with pytest.raises(PathError):     # still no bad UTF-8 (surrogates)
        split_path('/v1/a/\udcff', 3, 3, allow_reserved=True)


def test_reserved_names_allowed_only_by_a_true_header():
    assert reserved_names_allowed(
        {'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES': 'true'})
    assert reserved_names_allowed(
        {'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES': 'yes'})
    assert not reserved_names_allowed(
        {'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES': 'false'})
    assert not reserved_names_allowed({})


def test_reserved_name_format_round_trips():
    """Swift's format: NUL, then the parts joined by NUL."""
    assert get_reserved_name('versions', 'c') == '\x00versions\x00c'
    assert get_reserved_name('o', '') == '\x00o\x00'
    assert get_reserved_name('versions') == '\x00versions'
    assert split_reserved_name('\x00o/x\x0099') == ['o/x', '99']
    with pytest.raises(ValueError):
        get_reserved_name('a\x00b')
    with pytest.raises(ValueError):
        split_reserved_name('plain')


def test_wsgi_round_trip_and_bad_utf8():
    text = '/v1/caf\u00e9'
    assert wsgi_to_str(str_to_wsgi(text)) == text
    with pytest.raises(PathError):
        wsgi_to_str(b'/v1/\xff\xfe'.decode('latin-1'))


def test_backend_query_percent_encodes_raw_utf8_bytes():
    raw = b'prefix=\xc3\xa9&delimiter=/&format=json'.decode('latin-1')
    assert backend_query(raw) == 'prefix=%C3%A9&delimiter=%2F&format=json'


def test_backend_query_keeps_what_the_node_would_have_parsed():
    assert backend_query('prefix=a+b%2Fc&limit=2') == \
        'prefix=a%20b%2Fc&limit=2'
    assert backend_query('versions') == 'versions='
    assert backend_query('') == ''
    assert backend_query('a=%0D%0A') == 'a=%0D%0A'


@pytest.mark.parametrize('raw', [b'prefix=%FF', b'prefix=\xff',
                                 b'marker=\xc3'])
def test_backend_query_refuses_invalid_utf8(raw):
    with pytest.raises(PathError):
        backend_query(raw.decode('latin-1'))


def test_only_the_last_segment_may_be_empty():
    assert split_path('/v1/a/', 1, 4, True) == ['v1', 'a', '', None]
    with pytest.raises(PathError):
        split_path('/v1/a//o', 1, 4, True)
