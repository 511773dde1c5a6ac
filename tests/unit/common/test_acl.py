import pytest

from objproxy.common.acl import (
    acl_grants, clean_acl, parse_account_acl, parse_acl, referrer_allowed)

TESTER3 = ['test', 'test:tester3']
OWNER = ['test', 'test:tester', 'AUTH_test']


@pytest.mark.parametrize('acl,groups,granted', [
    ('test:tester3', TESTER3, True),
    ('test', TESTER3, True),
    ('AUTH_test', OWNER, True),
    ('test2:tester2', TESTER3, False),
    ('*', TESTER3, False),
    ('*:*', TESTER3, False),
    ('test:*', TESTER3, False),
    ('*:tester3', TESTER3, False),
    ('', TESTER3, False),
])
def test_an_acl_entry_grants_only_an_exact_group(acl, groups, granted):
    _referrers, entries = parse_acl(acl)
    assert acl_grants(entries, groups) is granted


@pytest.mark.parametrize('text', [
    '[' * 50000 + ']' * 50000, '{"admin": "x"}', '{"admin": [1]}',
    '{"owner": []}', '[]', 'nope'])
def test_garbage_account_acls_are_refused_with_a_reason(text):
    with pytest.raises(ValueError):
        parse_account_acl(text)


def test_an_account_acl_parses():
    assert parse_account_acl('{"read-only": ["a:b"]}') == {
        'read-only': ['a:b']}
    assert parse_account_acl('  ') == {}


def test_a_star_dot_referrer_means_the_domain_and_its_hosts():
    assert clean_acl('X-Container-Read', '.r:*.example.com') == \
        '.r:.example.com'
    referrers, _groups = parse_acl('.r:*.example.com')
    assert referrer_allowed('http://www.example.com/page', referrers)
    assert not referrer_allowed('http://example.org/', referrers)


def test_a_dot_domain_referrer_matches_its_hosts_but_not_itself():
    assert referrer_allowed('http://a.example.com/', ['.example.com'])
    assert not referrer_allowed('http://example.com/', ['.example.com'])
    assert referrer_allowed('http://example.com/', ['example.com'])
