"""What the in-process proxy Application tests share: the app on the
session's cluster, and a ``Request.blank`` call into it."""
import pytest
from webob import Request

from objproxy.proxy.server import Application


@pytest.fixture
def proxy_app(cluster):
    return Application({'objproxy_dir': cluster.objproxy_dir,
                        'log_file': '/dev/null'})


def call(app, path, method='GET', headers=None, body=None, env=None):
    req = Request.blank(path, environ=dict({'REQUEST_METHOD': method},
                                           **(env or {})),
                        headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)
