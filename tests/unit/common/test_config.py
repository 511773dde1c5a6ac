import pytest

from objproxy.common import config
from objproxy.common.exceptions import ConfigError


def test_typed_values_and_defaults():
    conf = {'a': '3', 'b': '2.5', 'c': 'yes', 'd': 'x, y ,,z'}
    assert config.get_int(conf, 'a', 0) == 3
    assert config.get_int(conf, 'missing', 7) == 7
    assert config.get_float(conf, 'b', 0) == 2.5
    assert config.get_bool(conf, 'c', False) is True
    assert config.get_list(conf, 'd') == ['x', 'y', 'z']


@pytest.mark.parametrize('call,message', [
    (lambda: config.get_int({'n': 'ten'}, 'n', 0, 'app:x'),
     '[app:x] n must be a whole number'),
    (lambda: config.get_int({'n': '-1'}, 'n', 0, minimum=0),
     'n must be at least 0'),
    (lambda: config.get_float({'n': 'nan'}, 'n', 0), 'n must be a number'),
    (lambda: config.get_bool({'b': 'maybe'}, 'b', True), 'true or false'),
    (lambda: config.get_choice({'c': 'x'}, 'c', 'a', {'a', 'b'}),
     'must be one of a, b'),
])
def test_invalid_values_name_the_option(call, message):
    with pytest.raises(ConfigError) as err:
        call()
    assert message in str(err.value)


def test_unknown_options_are_refused_but_defaults_and_patterns_pass():
    local = {'known': '1', 'user_a_b': 'k', 'from_default': 'x',
             'use': 'egg:objproxy#x', 'typo_option': '1'}
    with pytest.raises(ConfigError) as err:
        config.check_options('filter:x', local, {'from_default': 'x'},
                             ['known'], [r'user_.+_.+'])
    assert 'typo_option' in str(err.value)
    assert 'known' not in str(err.value).replace('unknown', '')
    del local['typo_option']
    config.check_options('filter:x', local, {'from_default': 'x'},
                         ['known'], [r'user_.+_.+'])
