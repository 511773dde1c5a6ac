"""container_quotas: quota metadata is validated and object PUTs that would
exceed X-Container-Meta-Quota-Bytes/-Count get Swift's 413."""
import pytest
from webob import Request, Response

from middleware import container_quotas
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import clear_info, get_info


class FakeSwift(object):
    """Answers container HEADs from ``containers``; everything else 201."""

    def __init__(self, containers=None):
        self.containers = containers or {}
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append((env['REQUEST_METHOD'], env['PATH_INFO']))
        if env['REQUEST_METHOD'] == 'HEAD':
            headers = self.containers.get(env['PATH_INFO'])
            if headers is None:
                return Response(status=404)(env, start_response)
            return Response(status=204, headers=headers)(env, start_response)
        return Response(status=201, body=b'')(env, start_response)


def make(containers=None):
    fake = FakeSwift(containers)
    return container_quotas.filter_factory({})(fake), fake


def usage(bytes_used, count, **meta):
    headers = {'X-Container-Bytes-Used': str(bytes_used),
               'X-Container-Object-Count': str(count)}
    for key, value in meta.items():
        headers['X-Container-Meta-' + key.replace('_', '-')] = value
    return headers


@pytest.mark.parametrize('header,body', [
    ('X-Container-Meta-Quota-Bytes', b'Invalid bytes quota.'),
    ('X-Container-Meta-Quota-Count', b'Invalid count quota.')])
@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_a_quota_that_is_not_digits_is_refused(header, body, method):
    mw, fake = make()
    resp = Request.blank('/v1/a/c', method=method,
                         headers={header: 'abc'}).get_response(mw)
    assert resp.status_int == 400 and resp.body == body
    assert fake.calls == []


def test_valid_and_empty_quotas_are_passed_on():
    mw, fake = make()
    for value in ('100', ''):
        resp = Request.blank(
            '/v1/a/c', method='POST',
            headers={'X-Container-Meta-Quota-Bytes': value}).get_response(mw)
        assert resp.status_int == 201
    assert len(fake.calls) == 2


def test_an_upload_over_the_byte_quota_gets_413():
    mw, _fake = make({'/v1/a/c': usage(5, 1, Quota_Bytes='10')})
    resp = Request.blank('/v1/a/c/o', method='PUT', body=b'x' * 6,
                         ).get_response(mw)
    assert resp.status_int == 413
    assert resp.body == b'Upload exceeds quota.'


def test_an_upload_that_fits_the_byte_quota_goes_through():
    mw, fake = make({'/v1/a/c': usage(5, 1, Quota_Bytes='10')})
    resp = Request.blank('/v1/a/c/o', method='PUT', body=b'x' * 5,
                         ).get_response(mw)
    assert resp.status_int == 201
    assert fake.calls[-1] == ('PUT', '/v1/a/c/o')


def test_an_upload_over_the_count_quota_gets_413():
    mw, _fake = make({'/v1/a/c': usage(0, 2, Quota_Count='2')})
    resp = Request.blank('/v1/a/c/o', method='PUT', body=b'').get_response(mw)
    assert resp.status_int == 413
    assert resp.body == b'Upload exceeds quota.'


def test_a_non_numeric_stored_quota_is_ignored():
    mw, _fake = make({'/v1/a/c': usage(50, 9, Quota_Bytes='lots')})
    resp = Request.blank('/v1/a/c/o', method='PUT', body=b'x').get_response(mw)
    assert resp.status_int == 201


def test_a_requester_who_may_not_write_gets_auths_answer_not_413():
    mw, _fake = make({'/v1/a/c': usage(5, 1, Quota_Bytes='1')})
    seen_acls = []

    def authorize(req):
        seen_acls.append(req.acl)
        return Response(status=403, body=b'Forbidden')
    req = Request.blank('/v1/a/c/o', method='PUT', body=b'xx')
    req.environ['swift.authorize'] = authorize
    resp = req.get_response(mw)
    assert resp.status_int == 403
    assert seen_acls == [None]


def test_a_missing_container_is_left_to_the_proxy():
    mw, fake = make()
    resp = Request.blank('/v1/a/nope/o', method='PUT', body=b'x',
                         ).get_response(mw)
    assert resp.status_int == 201
    assert fake.calls[-1] == ('PUT', '/v1/a/nope/o')


def test_other_requests_are_not_checked():
    mw, fake = make({'/v1/a/c': usage(5, 1, Quota_Bytes='1')})
    for method in ('POST', 'DELETE', 'GET'):
        assert Request.blank('/v1/a/c/o', method=method).get_response(
            mw).status_int == 201
    assert [m for m, _p in fake.calls] == ['POST', 'DELETE', 'GET']


def test_info_section_and_unknown_options():
    clear_info()
    container_quotas.filter_factory({})
    assert get_info()['container_quotas'] == {}
    with pytest.raises(ConfigError):
        container_quotas.filter_factory({}, bogus='1')


def test_a_versioned_containers_quota_covers_its_kept_versions():
    """Object versioning keeps old versions in a hidden container: they
    are the container's data, and its quota counts them (as Swift's)."""
    from urllib.parse import quote
    hidden = '\x00versions\x00c'
    client = usage(0, 1, Quota_Bytes='10')
    client['X-Container-Sysmeta-Versions-Container'] = quote(hidden)
    containers = {'/v1/a/c': client, '/v1/a/' + hidden: usage(10, 2)}
    mw, _fake = make(containers)
    resp = Request.blank('/v1/a/c/o', method='PUT', body=b'x' * 5,
                         ).get_response(mw)
    assert resp.status_int == 413
    plain = make({'/v1/a/c': usage(0, 1, Quota_Bytes='10')})[0]
    assert Request.blank('/v1/a/c/o', method='PUT', body=b'x' * 5,
                         ).get_response(plain).status_int == 201
