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


@pytest.mark.parametrize('header,value,cleaned', [
    ('X-Container-Read', ' .r:* , test:tester3 ,,', '.r:*,test:tester3'),
    ('X-Container-Read', '.referrer:example.com', '.r:example.com'),
    ('X-Container-Read', '.r:-bad.example.com', '.r:-bad.example.com'),
    ('X-Container-Read', '.r:http://www.example.com/page',
     '.r:www.example.com'),
    ('X-Container-Read', '.rlistings', '.rlistings'),
    ('X-Container-Write', 'test2:tester2, test', 'test2:tester2,test'),
])
def test_container_acls_are_normalised_as_swift_stores_them(
        header, value, cleaned):
    assert clean_acl(header, value) == cleaned


@pytest.mark.parametrize('header,value,reason', [
    ('X-Container-Write', '.r:*', 'Referrers not allowed'),
    ('X-Container-Write', '.rlistings', 'not allowed in a write ACL'),
    ('X-Container-Read', '.r:', 'No host/domain'),
    ('X-Container-Read', '.r:-', 'No host/domain'),
    ('X-Container-Read', '.bogus:x', 'Unknown designator'),
])
def test_bad_container_acls_are_refused_with_a_reason(header, value,
                                                      reason):
    with pytest.raises(ValueError) as err:
        clean_acl(header, value)
    assert reason in str(err.value)


def test_parse_acl_splits_referrers_from_groups():
    assert parse_acl('.r:*, .rlistings, a:b ,.ref:x.com, c') == (
        ['*', 'x.com'], ['.rlistings', 'a:b', 'c'])
    assert parse_acl(None) == ([], [])


def test_the_last_matching_referrer_rule_wins():
    rules = ['*', '-evil.example.com']
    assert referrer_allowed('http://good.example.com/', rules)
    assert not referrer_allowed('http://evil.example.com/', rules)
    assert referrer_allowed('http://evil.example.com/',
                            rules + ['evil.example.com'])


def test_no_or_unparsable_referer_only_passes_a_star_rule():
    assert referrer_allowed(None, ['*'])
    assert not referrer_allowed(None, ['example.com'])
    assert not referrer_allowed('http://[bad', ['example.com'])


@pytest.mark.parametrize('text,reason', [
    ('{"owner": []}', "Key 'owner' not recognized"),
    ('{"admin": "x"}', 'must be a list'),
    ('{"read-only": [1]}', 'must be strings'),
    ('[1]', 'Syntax error'),
])
def test_account_acl_errors_name_the_problem(text, reason):
    with pytest.raises(ValueError) as err:
        parse_account_acl(text)
    assert reason in str(err.value)
