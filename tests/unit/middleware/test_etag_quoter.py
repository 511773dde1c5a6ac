"""etag_quoter: the Rfc-Compliant-Etags flags are kept as sysmeta and shown
back, and object ETags are quoted when the container, else the account,
else enable_by_default says so."""
import pytest
from webob import Request, Response

from middleware import etag_quoter
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import clear_info, get_info

ETAG = 'd41d8cd98f00b204e9800998ecf8427e'


class FakeSwift(object):
    def __init__(self, account_flag=None, container_flag=None, etag=ETAG,
                 answer_headers=None):
        self.heads = {'/v1/a': {}, '/v1/a/c': {}}
        if account_flag is not None:
            self.heads['/v1/a'][
                'X-Account-Sysmeta-Rfc-Compliant-Etags'] = account_flag
        if container_flag is not None:
            self.heads['/v1/a/c'][
                'X-Container-Sysmeta-Rfc-Compliant-Etags'] = container_flag
        self.etag = etag
        self.answer_headers = answer_headers or {}
        self.requests = []

    def __call__(self, env, start_response):
        req = Request(env)
        self.requests.append(req)
        if req.method == 'HEAD' and req.path_info in self.heads:
            return Response(status=204, headers=self.heads[req.path_info])(
                env, start_response)
        if req.path_info.count('/') >= 4:
            resp = Response(status=200, body=b'data')
            resp.headers['Etag'] = self.etag
            return resp(env, start_response)
        return Response(status=204, headers=self.answer_headers)(
            env, start_response)


def make(fake, **conf):
    return etag_quoter.filter_factory({}, **conf)(fake)


def etag_of(mw):
    return Request.blank('/v1/a/c/o').get_response(mw).headers['Etag']


def test_etags_are_bare_by_default():
    assert etag_of(make(FakeSwift())) == ETAG


def test_enable_by_default_quotes_them():
    assert etag_of(make(FakeSwift(), enable_by_default='true')) == \
        '"%s"' % ETAG


def test_the_account_flag_quotes_them():
    assert etag_of(make(FakeSwift(account_flag='True'))) == '"%s"' % ETAG


def test_the_container_flag_overrides_the_account_and_the_default():
    fake = FakeSwift(account_flag='True', container_flag='False')
    assert etag_of(make(fake)) == ETAG
    fake = FakeSwift(container_flag='True')
    assert etag_of(make(fake)) == '"%s"' % ETAG
    fake = FakeSwift(container_flag='False')
    assert etag_of(make(fake, enable_by_default='true')) == ETAG


@pytest.mark.parametrize('etag', ['"%s"' % ETAG, 'W/"%s"' % ETAG])
def test_an_already_quoted_etag_is_left_alone(etag):
    assert etag_of(make(FakeSwift(etag=etag), enable_by_default='yes')) == \
        etag


@pytest.mark.parametrize('path,kind', [('/v1/a', 'Account'),
                                       ('/v1/a/c', 'Container')])
@pytest.mark.parametrize('value,stored', [('t', 'True'), ('no', 'False'),
                                          ('', '')])
def test_setting_a_flag_stores_sysmeta(path, kind, value, stored):
    fake = FakeSwift()
    Request.blank(path, method='POST', headers={
        'X-%s-Rfc-Compliant-Etags' % kind: value}).get_response(make(fake))
    sent = fake.requests[-1].headers
    assert sent['X-%s-Sysmeta-Rfc-Compliant-Etags' % kind] == stored


def test_x_remove_clears_the_flag():
    fake = FakeSwift()
    Request.blank('/v1/a/c', method='POST', headers={
        'X-Remove-Container-Rfc-Compliant-Etags': '1'}).get_response(
            make(fake))
    assert fake.requests[-1].headers[
        'X-Container-Sysmeta-Rfc-Compliant-Etags'] == ''


def test_the_flag_is_shown_under_its_client_name():
    fake = FakeSwift(answer_headers={
        'X-Container-Sysmeta-Rfc-Compliant-Etags': 'True'})
    resp = Request.blank('/v1/a/c', method='GET').get_response(make(fake))
    assert resp.headers['X-Container-Rfc-Compliant-Etags'] == 'True'
    assert 'X-Container-Sysmeta-Rfc-Compliant-Etags' not in resp.headers


def test_non_api_paths_pass_through():
    fake = FakeSwift()
    resp = Request.blank('/info').get_response(make(fake))
    assert resp.status_int == 204


def test_info_and_bad_config():
    clear_info()
    etag_quoter.filter_factory({}, enable_by_default='true')
    assert get_info()['etag_quoter'] == {'enable_by_default': True}
    with pytest.raises(ConfigError):
        etag_quoter.filter_factory({}, enable_by_default='maybe')
    with pytest.raises(ConfigError):
        etag_quoter.filter_factory({}, bogus='1')
