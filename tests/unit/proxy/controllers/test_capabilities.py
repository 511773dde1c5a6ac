"""capabilities: GET/HEAD/OPTIONS /info from what the filters registered,
through InfoController and through the proxy Application."""
import json
import types

import pytest
from webob import Request

from objproxy.common import registry
from objproxy.proxy.controllers.capabilities import InfoController


@pytest.fixture(autouse=True)
def clean_registry():
    registry.clear_info()
    yield
    registry.clear_info()


def controller(*disallowed):
    return InfoController(types.SimpleNamespace(
        disallowed_sections=list(disallowed)))


def answer(resp, method='GET'):
    return Request.blank('/info', method=method).get_response(resp)


def test_get_lists_every_registered_section_as_sorted_json():
    registry.register_info('swift', max_file_size=5368709122)
    registry.register_info('tempurl', methods=['GET', 'PUT'])
    resp = answer(controller().GET(Request.blank('/info')))
    assert resp.status_int == 200
    assert resp.headers['Content-Type'] == 'application/json; charset=UTF-8'
    assert json.loads(resp.body) == {
        'swift': {'max_file_size': 5368709122},
        'tempurl': {'methods': ['GET', 'PUT']}}
    assert resp.body.index(b'"swift"') < resp.body.index(b'"tempurl"')


def test_disallowed_sections_are_left_out():
    registry.register_info('swift', version='2.38')
    registry.register_info('bulk_delete', max_deletes_per_request=10000)
    resp = answer(controller('bulk_delete').GET(Request.blank('/info')))
    assert json.loads(resp.body) == {'swift': {'version': '2.38'}}


def test_admin_sections_are_never_shown():
    registry.register_info('swift', version='2.38')
    registry.register_info('secret_filter', admin=True, key='hidden')
    body = json.loads(answer(controller().GET(Request.blank('/info'))).body)
    assert body == {'swift': {'version': '2.38'}}


def test_a_filters_lower_limit_is_shown():
    registry.register_info('swift', max_file_size=5368709122)
    registry.cap_info('swift', 'max_file_size', 1024)
    body = json.loads(answer(controller().GET(Request.blank('/info'))).body)
    assert body['swift']['max_file_size'] == 1024


def test_head_is_get_without_a_body():
    registry.register_info('swift', version='2.38')
    ctrl = controller()
    assert ctrl.HEAD == ctrl.GET
    resp = answer(ctrl.HEAD(Request.blank('/info', method='HEAD')), 'HEAD')
    assert resp.status_int == 200
    assert resp.body == b''
    assert int(resp.headers['Content-Length']) == len(
        json.dumps({'swift': {'version': '2.38'}}))


def test_options_names_the_allowed_methods():
    resp = answer(controller().OPTIONS(Request.blank('/info')), 'OPTIONS')
    assert resp.status_int == 200
    assert resp.headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert InfoController.allowed_methods == ('GET', 'HEAD', 'OPTIONS')


def test_proxy_routes_info_to_the_controller(etc_dir):
    from objproxy.proxy.server import Application
    app = Application({'objproxy_dir': etc_dir, 'log_file': '/dev/null',
                       'disallowed_sections': 'bulk_delete'})
    registry.register_info('bulk_delete', max_deletes_per_request=10000)
    resp = Request.blank('/info').get_response(app)
    assert resp.status_int == 200
    body = json.loads(resp.body)
    assert 'bulk_delete' not in body
    assert 'swift' in body


def test_proxy_refuses_other_methods_on_info(proxy_app):
    resp = Request.blank('/info', method='POST').get_response(proxy_app)
    assert resp.status_int == 405
    assert resp.headers['Allow'] == 'GET, HEAD, OPTIONS'
