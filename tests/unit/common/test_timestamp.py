import pytest

from objproxy.common.timestamp import Timestamp, parse_timestamp_header


def test_normal_form_sorts_like_time():
    early, late = Timestamp(1.5), Timestamp(10.25)
    assert early.normal == '0000000001.50000'
    assert late.normal == '0000000010.25000'
    assert sorted([late.normal, early.normal]) == [early.normal, late.normal]
    assert early < late and late > early and early != late


def test_offset_orders_equal_times():
    base = Timestamp('1234.5')
    bumped = Timestamp('1234.5', offset=1)
    assert bumped > base
    assert bumped.internal == '0000001234.50000_0000000000000001'
    assert Timestamp(bumped.internal) == bumped


def test_precision_is_ten_microseconds():
    assert Timestamp(1.000004) == Timestamp(1.0)
    assert Timestamp(1.000006) > Timestamp(1.0)


@pytest.mark.parametrize('bad', ['', 'abc', '-1', 'nan', '1e12', None])
def test_bad_header_values_are_refused(bad):
    with pytest.raises(ValueError):
        parse_timestamp_header(bad)


def test_http_date_rounds_up():
    assert Timestamp(0.5).http_date == 'Thu, 01 Jan 1970 00:00:01 GMT'
    assert Timestamp(1).http_date == 'Thu, 01 Jan 1970 00:00:01 GMT'
