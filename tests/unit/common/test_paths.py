import pytest

from objproxy.common.paths import (
    PathError, backend_query, split_path, str_to_wsgi, wsgi_to_str)


def test_split_path_shapes():
    assert split_path('/v1/a', 2, 4, True) == ['v1', 'a', None, None]
    assert split_path('/v1/a/c/o/with/slashes', 2, 4, True) == [
        'v1', 'a', 'c', 'o/with/slashes']
    assert split_path('/a/b', 2) == ['a', 'b']


@pytest.mark.parametrize('path', ['', 'v1/a', '//a', '/a/b/c/d', '/v1//c'])
def test_malformed_paths(path):
    with pytest.raises(PathError):
        split_path(path, 2, 3)


def test_nul_is_refused():
    with pytest.raises(PathError):
        split_path('/v1/a\x00b', 2, 2)


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
