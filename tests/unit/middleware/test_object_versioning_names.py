"""object_versioning_names: the hidden names versions are stored under."""
import pytest

from middleware import object_versioning_names as names
from objproxy.common.timestamp import Timestamp


def test_invert_mirrors_the_timestamp_and_is_its_own_inverse():
    assert names.invert('1234567890.12345').internal == '8765432109.87654'
    assert names.invert(names.invert('1234567890.12345')).internal == \
        '1234567890.12345'
    assert names.invert('0').internal == '9999999999.99999'


def test_invert_reverses_the_order_of_timestamps():
    older, newer = '1600000000.00000', '1600000000.00001'
    assert names.invert(newer).internal < names.invert(older).internal


@pytest.mark.parametrize('value', [
    '1234567890.12345_0000000000000001', 'abc', '', '-1', '1e11'])
def test_invert_refuses_offsets_and_bad_timestamps(value):
    with pytest.raises(ValueError):
        names.invert(value)


def test_versions_container_round_trip():
    hidden = names.versions_container('photos')
    assert hidden == '\x00versions\x00photos'
    assert names.container_of_versions(hidden) == 'photos'


@pytest.mark.parametrize('name', [
    'photos', '\x00other\x00photos', '\x00versions\x00a\x00b',
    '\x00versions'])
def test_container_of_versions_is_none_for_other_names(name):
    assert names.container_of_versions(name) is None


def test_container_name_with_reserved_byte_cannot_be_versioned():
    with pytest.raises(ValueError):
        names.versions_container('a\x00b')


def test_version_object_sorts_newest_first_under_the_object_prefix():
    older = names.version_object('o', '1600000000.00000')
    newer = names.version_object('o', '1700000000.00000')
    assert older == '\x00o\x00' + names.invert('1600000000.00000').internal
    assert newer < older
    prefix = names.version_prefix('o')
    assert prefix == '\x00o\x00'
    assert older.startswith(prefix) and newer.startswith(prefix)
    # another object's versions do not share the prefix
    assert not names.version_object('o2', '1').startswith(prefix)


def test_split_version_returns_the_object_and_its_timestamp():
    hidden = names.version_object('dir/o', '1600000000.12345')
    obj, ts = names.split_version(hidden)
    assert obj == 'dir/o'
    assert isinstance(ts, Timestamp)
    assert ts.internal == '1600000000.12345'


@pytest.mark.parametrize('name', [
    'plain', '\x00o\x00notatime', '\x00o', '\x00o\x00\x001'])
def test_split_version_of_other_names(name):
    assert names.split_version(name) == (name, None)


def test_parse_version_id():
    assert names.parse_version_id('1600000000.5').internal == \
        '1600000000.50000'
    for bad in ('null', '1600000000.5_0000000000000001', 'x'):
        with pytest.raises(ValueError):
            names.parse_version_id(bad)


@pytest.mark.parametrize('sysmeta, hidden', [
    ({'versions-container': '%00versions%00c'}, '\x00versions\x00c'),
    ({'versions-container': '%00versions%00c/ignored'},
     '\x00versions\x00c'),
    ({'versions-container': ''}, ''),
    ({}, ''),
    (None, ''),
])
def test_stored_versions_container(sysmeta, hidden):
    assert names.stored_versions_container(sysmeta) == hidden


def test_quoted_escapes_slashes_and_reserved_bytes():
    assert names.quoted('\x00versions\x00a/b c') == \
        '%00versions%00a%2Fb%20c'
