import pytest

from objproxy.common import constraints
from objproxy.common.exceptions import ConfigError


def test_metadata_within_limits_passes():
    headers = dict(('X-Object-Meta-K%02d' % i, 'v' * 40) for i in range(90))
    assert constraints.check_metadata(headers, 'object') is None


@pytest.mark.parametrize('headers,message', [
    ({'X-Object-Meta-': 'v'}, 'empty'),
    ({'X-Object-Meta-' + 'n' * 129: 'v'}, 'name too long'),
    ({'X-Object-Meta-N': 'v' * 257}, 'value longer'),
    (dict(('X-Object-Meta-K%d' % i, 'v') for i in range(91)), 'Too many'),
    (dict(('X-Object-Meta-K%d' % i, 'v' * 250) for i in range(17)),
     'Total metadata too large'),
])
def test_metadata_over_limits(headers, message):
    assert message in constraints.check_metadata(headers, 'object')


def test_overrides_and_unknown_keys(tmp_path):
    saved = dict(constraints.LIMITS)
    try:
        (tmp_path / 'objproxy.conf').write_text(
            '[objproxy-constraints]\nmax_file_size = 1000\n')
        assert constraints.load_constraints(str(tmp_path))[
            'max_file_size'] == 1000
        (tmp_path / 'objproxy.conf').write_text(
            '[objproxy-constraints]\nmax_fiel_size = 1000\n')
        with pytest.raises(ConfigError) as err:
            constraints.load_constraints(str(tmp_path))
        assert 'max_fiel_size' in str(err.value)
    finally:
        constraints.LIMITS.update(saved)


def test_name_length_limits_name_the_kind():
    from objproxy.common.constraints import name_too_long
    assert name_too_long('Object', 'o' * 1024) is None
    assert name_too_long('Object', 'o' * 1025) == \
        'Object name length of 1025 longer than 1024'
    assert name_too_long('Container', '\u00e9' * 129) == \
        'Container name length of 258 longer than 256'
