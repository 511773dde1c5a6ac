"""The proxy's own 413 says what the limit is and how to segment."""
from webob import Request

from tests.unit.proxy.test_putter import Body, nodes, put, scripts  # noqa


def says_to_segment(body, limit):
    text = body.decode('utf-8') if isinstance(body, bytes) else body
    assert 'swift upload --segment-size' in text
    assert '%d bytes' % limit in text


def test_a_declared_length_over_max_file_size_is_refused_saying_how(
        proxy_app, monkeypatch):
    from objproxy.proxy.controllers.obj import ObjectController
    # no node answers here: take the container as writable
    monkeypatch.setattr(ObjectController, '_check_writable',
                        lambda self, req: None)
    proxy_app.max_file_size = 1000
    req = Request.blank('/v1/AUTH_test/c/o', method='PUT',
                        headers={'Content-Length': '1001',
                                 'X-Auth-Token': 'x'})
    resp = req.get_response(proxy_app)
    assert resp.status_int == 413
    says_to_segment(resp.body, 1000)


def test_a_chunked_body_over_max_file_size_is_refused_saying_how(nodes):
    from tests.unit.proxy.loopback_nodes import FakeApp
    app = FakeApp()
    app.max_file_size = 5000
    resp, etag = put(nodes(*scripts({}, {}, {})), Body(6000), None, True,
                     app=app)
    assert resp.status == 413 and etag is None
    says_to_segment(resp.body, 5000)
