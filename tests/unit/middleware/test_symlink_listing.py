"""symlink_listing: link parameters in a listing row's ETag become keys."""
import json

import pytest

from middleware.symlink_listing import (
    rewrite_listing, rewrite_row, split_params)

EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'


def test_split_params_lowercases_keys_and_unquotes_values():
    etag, params = split_params(
        'abc ; Symlink_Target=c/o; k2="a \\"q\\" b"; novalue; k3 = v3 ')
    assert etag == 'abc'
    assert params == [('symlink_target', 'c/o'), ('k2', 'a "q" b'),
                      ('k3', 'v3')]


def test_split_params_without_parameters():
    assert split_params(' abc ') == ('abc', [])


def test_dynamic_link_row_gets_symlink_path_in_the_same_account():
    row = {'name': 'link', 'hash': EMPTY_MD5 + '; symlink_target=c/o'}
    out = rewrite_row(row, 'v1', 'AUTH_a')
    assert out == {'name': 'link', 'hash': EMPTY_MD5,
                   'symlink_path': '/v1/AUTH_a/c/o'}


def test_static_link_row_shows_account_etag_and_bytes():
    row = {'hash': EMPTY_MD5 + '; symlink_target=c/o%20x; '
           'symlink_target_account=AUTH_b; symlink_target_etag=e1; '
           'symlink_target_bytes=23'}
    out = rewrite_row(row, 'v1', 'AUTH_a')
    assert out['hash'] == EMPTY_MD5
    # the target stays percent-encoded, as stored
    assert out['symlink_path'] == '/v1/AUTH_b/c/o%20x'
    assert out['symlink_etag'] == 'e1'
    assert out['symlink_bytes'] == 23


def test_unparseable_bytes_are_passed_through_as_text():
    row = {'hash': EMPTY_MD5 + '; symlink_target=c/o; '
           'symlink_target_bytes=lots'}
    assert rewrite_row(row, 'v1', 'a')['symlink_bytes'] == 'lots'


def test_other_parameters_stay_in_hash_for_filters_to_the_left():
    row = {'hash': 'abc; slo_etag=def; symlink_target=c/o'}
    out = rewrite_row(row, 'v1', 'a')
    assert out['hash'] == 'abc; slo_etag=def'
    assert out['symlink_path'] == '/v1/a/c/o'


@pytest.mark.parametrize('row', [
    {'name': 'plain', 'hash': EMPTY_MD5},
    {'subdir': 'pre/'},
    {'name': 'odd', 'hash': 17},
    'not a dict',
])
def test_rows_without_parameters_are_untouched(row):
    before = json.dumps(row)
    assert rewrite_row(row, 'v1', 'a') == json.loads(before)


def test_row_with_parameters_but_no_target_has_no_symlink_path():
    out = rewrite_row({'hash': 'abc; slo_etag=def'}, 'v1', 'a')
    assert out == {'hash': 'abc; slo_etag=def'}


def test_rewrite_listing_renders_json_bytes():
    rows = [{'name': 'a', 'hash': 'h1'},
            {'name': 'l', 'hash': EMPTY_MD5 + '; symlink_target=c/a'}]
    body = rewrite_listing(rows, 'v1', 'acct')
    assert isinstance(body, bytes)
    assert json.loads(body) == [
        {'name': 'a', 'hash': 'h1'},
        {'name': 'l', 'hash': EMPTY_MD5, 'symlink_path': '/v1/acct/c/a'}]


def test_rewrite_listing_escapes_non_ascii_names():
    body = rewrite_listing([{'name': '\u00e9', 'hash': 'h'}], 'v1', 'a')
    assert b'\\u00e9' in body
    assert json.loads(body)[0]['name'] == '\u00e9'


@pytest.mark.parametrize('rows', [{'name': 'x'}, None, 'text'])
def test_rewrite_listing_leaves_non_list_bodies_alone(rows):
    assert rewrite_listing(rows, 'v1', 'a') is None
