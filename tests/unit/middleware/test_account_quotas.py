"""account_quotas: only reseller admins set quotas (kept as sysmeta, shown
under their client names), and object PUTs over an account's overall or
per-policy quota get Swift's 413."""
import pytest
from webob import Request, Response

from middleware import account_quotas
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import clear_info, get_info

POLICY = account_quotas.POLICIES[0][1]


class FakeSwift(object):
    """Account/container HEADs from ``heads``; asks ``swift.authorize``
    before a write, as the proxy does; records what reaches it."""

    def __init__(self, heads=None, answer_headers=None):
        self.heads = heads or {}
        self.answer_headers = answer_headers or {}
        self.requests = []
        self.stored = False

    def __call__(self, env, start_response):
        req = Request(env)
        self.requests.append(req)
        if req.method == 'HEAD' and req.path_info in self.heads:
            return Response(status=204, headers=self.heads[req.path_info])(
                env, start_response)
        if req.method == 'HEAD':
            return Response(status=404)(env, start_response)
        if 'swift.authorize' in env:
            denial = env['swift.authorize'](req)
            if denial is not None:
                return denial(env, start_response)
        self.stored = True
        status = 201 if req.method == 'PUT' else 204
        return Response(status=status, headers=self.answer_headers)(
            env, start_response)


def make(heads=None, answer_headers=None):
    fake = FakeSwift(heads, answer_headers)
    return account_quotas.filter_factory({})(fake), fake


def reseller(path, **kwargs):
    req = Request.blank(path, **kwargs)
    req.environ['reseller_request'] = True
    return req


@pytest.mark.parametrize('header', [
    'X-Account-Meta-Quota-Bytes', 'X-Account-Quota-Bytes',
    'X-Account-Quota-Count', 'X-Account-Quota-Bytes-Policy-' + POLICY,
    'X-Account-Quota-Count-Policy-' + POLICY,
    'X-Remove-Account-Meta-Quota-Bytes', 'X-Remove-Account-Quota-Bytes',
    'X-Remove-Account-Quota-Count-Policy-' + POLICY,
    'X-Remove-Account-Sysmeta-Quota-Bytes'])
def test_a_user_may_not_set_or_remove_a_quota(header):
    mw, fake = make()
    resp = Request.blank('/v1/a', method='POST',
                         headers={header: '0'}).get_response(mw)
    assert resp.status_int == 403
    assert fake.requests == []


def test_a_reseller_sets_quotas_as_sysmeta():
    mw, fake = make()
    resp = reseller('/v1/a', method='POST', headers={
        'X-Account-Quota-Bytes': '100', 'X-Account-Quota-Count': '7',
        'X-Account-Quota-Bytes-Policy-' + POLICY: '50'}).get_response(mw)
    assert resp.status_int == 204
    sent = fake.requests[0].headers
    assert sent['X-Account-Sysmeta-Quota-Bytes'] == '100'
    assert sent['X-Account-Sysmeta-Quota-Count'] == '7'
    assert sent['X-Account-Sysmeta-Quota-Bytes-Policy-0'] == '50'
    assert 'X-Account-Quota-Bytes-Policy-' + POLICY not in sent


def test_the_legacy_meta_quota_also_sets_the_sysmeta():
    mw, fake = make()
    reseller('/v1/a', method='POST', headers={
        'X-Account-Meta-Quota-Bytes': '123'}).get_response(mw)
    sent = fake.requests[0].headers
    assert sent['X-Account-Sysmeta-Quota-Bytes'] == '123'
    assert sent['X-Account-Meta-Quota-Bytes'] == '123'


@pytest.mark.parametrize('headers', [
    {'X-Remove-Account-Quota-Bytes': 't'},
    {'X-Account-Quota-Bytes': ''},
    {'X-Remove-Account-Meta-Quota-Bytes': 't'},
    {'X-Account-Quota-Bytes': '5', 'X-Remove-Account-Quota-Bytes': 'yes'}])
def test_a_reseller_removes_a_quota_with_remove_or_empty(headers):
    mw, fake = make()
    reseller('/v1/a', method='POST', headers=headers).get_response(mw)
    assert fake.requests[0].headers['X-Account-Sysmeta-Quota-Bytes'] == ''


def test_a_reseller_quota_must_be_digits():
    mw, fake = make()
    resp = reseller('/v1/a', method='POST', headers={
        'X-Account-Quota-Count': '-1'}).get_response(mw)
    assert resp.status_int == 400
    assert fake.requests == []


def test_account_answers_show_quotas_under_client_names():
    mw, _fake = make(answer_headers={
        'X-Account-Sysmeta-Quota-Bytes': '1000',
        'X-Account-Sysmeta-Quota-Count-Policy-0': '10'})
    resp = Request.blank('/v1/a', method='GET').get_response(mw)
    assert resp.headers['X-Account-Quota-Bytes'] == '1000'
    assert resp.headers['X-Account-Quota-Count-Policy-' + POLICY] == '10'
    assert 'X-Account-Quota-Count' not in resp.headers


def account(bytes_used, count, **extra):
    headers = {'X-Account-Bytes-Used': str(bytes_used),
               'X-Account-Object-Count': str(count),
               'X-Account-Container-Count': '1'}
    headers.update(extra)
    return {'/v1/a': headers,
            '/v1/a/c': {'X-Container-Bytes-Used': str(bytes_used),
                        'X-Container-Object-Count': str(count)}}


def put(mw, body=b'xx', **env):
    req = Request.blank('/v1/a/c/o', method='PUT', body=body)
    req.environ.update(env)
    return req.get_response(mw)


@pytest.mark.parametrize('sysmeta,body', [
    ({'X-Account-Sysmeta-Quota-Bytes': '10'}, b'Upload exceeds quota.'),
    ({'X-Account-Meta-Quota-Bytes': '10'}, b'Upload exceeds quota.'),
    ({'X-Account-Sysmeta-Quota-Count': '3'}, b'Upload exceeds quota.'),
    ({'X-Account-Sysmeta-Quota-Bytes-Policy-0': '10'},
     b'Upload exceeds policy quota.'),
    ({'X-Account-Sysmeta-Quota-Count-Policy-0': '3'},
     b'Upload exceeds policy quota.')])
def test_an_upload_over_an_account_quota_gets_413(sysmeta, body):
    mw, fake = make(account(9, 3, **sysmeta))
    resp = put(mw)
    assert resp.status_int == 413 and resp.body == body
    assert not fake.stored


def test_an_upload_within_quota_goes_through():
    mw, fake = make(account(8, 3, **{'X-Account-Sysmeta-Quota-Bytes': '10',
                                     'X-Account-Sysmeta-Quota-Count': '4'}))
    assert put(mw).status_int == 201
    assert fake.requests[-1].method == 'PUT'


def test_the_sysmeta_quota_wins_over_the_legacy_one():
    mw, _fake = make(account(9, 3, **{'X-Account-Sysmeta-Quota-Bytes': '100',
                                      'X-Account-Meta-Quota-Bytes': '1'}))
    assert put(mw).status_int == 201


def test_resellers_are_not_limited():
    mw, _fake = make(account(9, 3, **{'X-Account-Sysmeta-Quota-Bytes': '1'}))
    assert put(mw, reseller_request=True).status_int == 201


def test_the_413_comes_after_auth_has_judged_the_request():
    mw, _fake = make(account(9, 3, **{'X-Account-Sysmeta-Quota-Bytes': '1'}))
    denied = Response(status=403, body=b'Forbidden')
    resp = put(mw, **{'swift.authorize': lambda req: denied})
    assert resp.status_int == 403


def test_an_authorised_writer_over_quota_gets_413_from_the_auth_check():
    mw, fake = make(account(9, 3, **{'X-Account-Sysmeta-Quota-Bytes': '1'}))
    resp = put(mw, **{'swift.authorize': lambda req: None})
    assert resp.status_int == 413
    assert resp.body == b'Upload exceeds quota.'
    assert not fake.stored


def test_info_section_and_unknown_options():
    clear_info()
    account_quotas.filter_factory({})
    assert get_info()['account_quotas'] == {}
    with pytest.raises(ConfigError):
        account_quotas.filter_factory({}, bogus='1')
