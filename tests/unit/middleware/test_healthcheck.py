"""healthcheck: 200 OK, or 503 when the disable file exists or the
clamav filter further down the pipeline cannot reach clamd."""
import time

import eventlet
import pytest
from webob import Request

from tests.clamd_fixture import clamd_factory  # noqa: F401
from tests.unit.middleware.fake_clamd import FakeClamd

from middleware import clamav, healthcheck
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import get_info


def app(env, start_response):
    start_response('401 Unauthorized', [('Content-Length', '0')])
    return [b'']


def loaded(*chain):
    """What the pipeline loader does: every app learns the chain."""
    for each in chain:
        each._pipeline = list(chain)
        each._pipeline_final_app = chain[-1]
    return chain[0]


def test_ok_before_auth():
    mw = loaded(healthcheck.filter_factory({})(app), app)
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
    mw = loaded(healthcheck.filter_factory({}, disable_path=str(flag))(app),
                app)
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


class PassThrough(object):
    """A filter between healthcheck and clamav, like tempauth."""

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        return self.app(env, start_response)


def pipeline(clamd_socket, healthcheck_conf=None, **clamav_conf):
    """healthcheck -> pass-through -> clamav -> app, as the loader builds
    it."""
    conf = {'clamd_socket': clamd_socket, 'ping_cache': '0'}
    conf.update(clamav_conf)
    final = PassThrough(app)
    scanner = clamav.filter_factory({}, **conf)(final)
    between = PassThrough(scanner)
    return loaded(healthcheck.filter_factory(
        {}, **(healthcheck_conf or {}))(between), between, scanner, final)


def get_health(mw):
    return Request.blank('/healthcheck').get_response(mw)


def test_clamd_unreachable_takes_the_proxy_out_of_rotation(tmp_path):
    mw = pipeline(str(tmp_path / 'no-clamd.sock'))
    resp = get_health(mw)
    assert resp.status_int == 503
    assert resp.body == b'clamd unreachable'
    assert Request.blank('/v1/a').get_response(mw).status_int == 401


def test_healthcheck_follows_clamd_down_and_up(clamd_factory):
    private = clamd_factory()
    mw = pipeline(private.socket_path)
    assert get_health(mw).status_int == 200
    private.stop()
    assert get_health(mw).status_int == 503
    private.start()
    resp = get_health(mw)
    assert (resp.status_int, resp.body) == (200, b'OK')


def test_hung_clamd_answers_503_within_ping_timeout(tmp_path):
    fake = FakeClamd(str(tmp_path / 'hung.sock'), hang_all=True)
    try:
        mw = pipeline(fake.path, ping_timeout='0.5', ping_cache='2')
        started = time.monotonic()
        polls = eventlet.GreenPool().imap(lambda _: get_health(mw),
                                          range(20))
        statuses = [resp.status_int for resp in polls]
        elapsed = time.monotonic() - started
        assert statuses == [503] * 20
        assert elapsed < 2, elapsed
        # twenty polls, one PING; the next polls are answered from cache
        assert fake.connections == 1
        started = time.monotonic()
        assert get_health(mw).status_int == 503
        assert time.monotonic() - started < 0.2
        assert fake.connections == 1
    finally:
        fake.close()


def test_disable_file_wins_over_the_clamd_check(tmp_path):
    flag = tmp_path / 'disable'
    flag.write_text('')
    mw = pipeline(str(tmp_path / 'no-clamd.sock'),
                  {'disable_path': str(flag)})
    assert get_health(mw).body == b'DISABLED BY FILE'


def test_check_clamd_off_ignores_the_scanner(tmp_path):
    mw = pipeline(str(tmp_path / 'no-clamd.sock'), {'check_clamd': 'false'})
    assert get_health(mw).status_int == 200


def test_bad_check_clamd_value_is_a_config_error():
    with pytest.raises(ConfigError, match='check_clamd'):
        healthcheck.filter_factory({}, check_clamd='sometimes')
