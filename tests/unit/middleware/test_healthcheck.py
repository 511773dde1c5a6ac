"""healthcheck: 200 OK, or 503 when the disable file exists."""
import pytest
from webob import Request

from middleware import healthcheck
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info


def app(env, start_response):
    start_response('401 Unauthorized', [('Content-Length', '0')])
    return [b'']


def test_ok_before_auth():
    mw = healthcheck.filter_factory({})(app)
    resp = Request.blank('/healthcheck').get_response(mw)
    assert resp.status == '200 OK'
    assert resp.body == b'OK'
    head = Request.blank('/healthcheck', method='HEAD').get_response(mw)
    assert head.status_int == 200 and head.body == b''


def test_other_paths_pass_through():
    mw = healthcheck.filter_factory({})(app)
    assert Request.blank('/v1/a').get_response(mw).status_int == 401
    assert Request.blank('/healthcheck/x').get_response(mw).status_int == 401


def test_disable_file(tmp_path):
    flag = tmp_path / 'disable'
    mw = healthcheck.filter_factory({}, disable_path=str(flag))(app)
    assert Request.blank('/healthcheck').get_response(mw).status_int == 200
    flag.write_text('')
    resp = Request.blank('/healthcheck').get_response(mw)
    assert resp.status_int == 503
    assert resp.body == b'DISABLED BY FILE'
    flag.unlink()
    assert Request.blank('/healthcheck').get_response(mw).status_int == 200


def test_info_and_unknown_option():
    healthcheck.filter_factory({})
    assert 'healthcheck' in get_info()
    with pytest.raises(ConfigError) as err:
        healthcheck.filter_factory({}, disabled_path='/x')
    assert 'disabled_path' in str(err.value)
