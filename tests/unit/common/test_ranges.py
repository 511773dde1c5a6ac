"""objproxy.common.ranges: Range and conditional headers as Swift
answers them (shared by the object server and the large-object filters)."""
import pytest

from objproxy.common import ranges

DATE_10 = 'Thu, 01 Jan 1970 00:00:10 GMT'
DATE_20 = 'Thu, 01 Jan 1970 00:00:20 GMT'


@pytest.mark.parametrize('header,want', [
    (None, None),
    ('bytes=0-4', [(0, 5)]),
    ('bytes=5-', [(5, 10)]),
    ('bytes=-3', [(7, 10)]),
    ('bytes=-30', [(0, 10)]),
    ('bytes=8-100', [(8, 10)]),
    ('bytes=0-1,4-5', [(0, 2), (4, 6)]),
    ('bytes=10-20', []),               # nothing satisfiable: 416
    ('bytes=-0', []),
    ('bytes=5-2', None),               # malformed: ignored, whole body
    ('bytes=a-b', None),
    ('items=0-1', None),
    ('bytes=0-1,', None),
])
def test_parse_range(header, want):
    assert ranges.parse_range(header, 10) == want


def test_too_many_ranges_are_ignored():
    header = 'bytes=' + ','.join('%d-%d' % (i, i) for i in range(
        ranges.MAX_RANGES + 1))
    assert ranges.parse_range(header, 1000) is None


def test_content_range_and_multipart_size():
    assert ranges.content_range(2, 5, 10) == 'bytes 2-4/10'
    parts, closing, total = ranges.multipart_parts(
        [(0, 2), (8, 10)], 10, 'text/plain', 'BOUND')
    assert parts[0][0] == (b'--BOUND\r\nContent-Type: text/plain\r\n'
                           b'Content-Range: bytes 0-1/10\r\n\r\n')
    assert closing == b'--BOUND--'
    assert total == sum(len(h) + stop - start + 2
                        for h, start, stop in parts) + len(closing)


def test_etag_lists_and_dates():
    assert ranges.parse_etag_list('"a", W/"b",*') == ['a', 'W/b', '*']
    assert ranges.parse_http_date(DATE_10) == 10
    assert ranges.parse_http_date('yesterday') is None


@pytest.mark.parametrize('env,method,want', [
    ({}, 'GET', None),
    ({'HTTP_IF_MATCH': '"abc"'}, 'GET', None),
    ({'HTTP_IF_MATCH': '"other"'}, 'GET', 412),
    ({'HTTP_IF_MATCH': '*'}, 'PUT', None),
    ({'HTTP_IF_NONE_MATCH': '"abc"'}, 'GET', 304),
    ({'HTTP_IF_NONE_MATCH': 'W/"abc"'}, 'HEAD', 304),
    ({'HTTP_IF_NONE_MATCH': '*'}, 'PUT', 412),
    ({'HTTP_IF_MODIFIED_SINCE': DATE_20}, 'GET', 304),
    ({'HTTP_IF_MODIFIED_SINCE': DATE_10}, 'GET', 304),
    ({'HTTP_IF_UNMODIFIED_SINCE': DATE_10}, 'GET', None),
    ({'HTTP_IF_UNMODIFIED_SINCE': 'Thu, 01 Jan 1970 00:00:05 GMT'},
     'GET', 412),
    # If-None-Match wins over If-Modified-Since
    ({'HTTP_IF_NONE_MATCH': '"other"', 'HTTP_IF_MODIFIED_SINCE': DATE_20},
     'GET', None),
])
def test_evaluate_conditions(env, method, want):
    assert ranges.evaluate_conditions(env, 'abc', 10, method) == want


def test_conditions_on_a_missing_object():
    assert ranges.evaluate_conditions({'HTTP_IF_MATCH': '*'}, None, 0,
                                      'GET') == 412
    assert ranges.evaluate_conditions({'HTTP_IF_NONE_MATCH': '*'}, None, 0,
                                      'PUT') is None
