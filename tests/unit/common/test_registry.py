from objproxy.common.registry import (
    cap_info, clear_info, get_info, register_info)


def test_info_advertises_the_lowest_enforced_limit_in_any_order():
    clear_info()
    try:
        cap_info('swift', 'max_file_size', 512)
        register_info('swift', max_file_size=5000, other=1)
        assert get_info()['swift'] == {'max_file_size': 512, 'other': 1}
        cap_info('swift', 'max_file_size', 9999)     # a laxer filter
        assert get_info()['swift']['max_file_size'] == 512
    finally:
        clear_info()


def test_a_cap_on_an_unregistered_section_adds_nothing():
    clear_info()
    try:
        cap_info('nothere', 'limit', 1)
        assert 'nothere' not in get_info()
    finally:
        clear_info()
