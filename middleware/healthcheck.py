"""healthcheck: ``GET /healthcheck`` for load balancers, before any auth.

Answers ``200 OK`` with body ``OK``; when ``disable_path`` names a file
that exists the answer is ``503 Service Unavailable`` with body
``DISABLED BY FILE``, so an operator can drain a proxy by touching a file.
Every other path goes on down the pipeline untouched.

Config::

    [filter:healthcheck]
    use = egg:objproxy#healthcheck
    # disable_path =
"""
import os

from webob import Request, Response

from objproxy.common.config import check_options
from objproxy.common.registry import register_info

PATH = '/healthcheck'


class HealthCheckMiddleware(object):
    """Short-circuits ``/healthcheck``."""

    def __init__(self, app, conf):
        self.app = app
        self.disable_path = conf.get('disable_path', '').strip()

    def __call__(self, env, start_response):
        if env.get('PATH_INFO') != PATH:
            return self.app(env, start_response)
        req = Request(env)
        if self.disable_path and os.path.exists(self.disable_path):
            resp = self.disabled(req)
        else:
            resp = self.ok(req)
        return resp(env, start_response)

    @staticmethod
    def ok(req):
        return Response(request=req, status=200, body=b'OK',
                        content_type='text/plain')

    @staticmethod
    def disabled(req):
        return Response(request=req, status=503, body=b'DISABLED BY FILE',
                        content_type='text/plain')


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options('filter:healthcheck', local_conf, global_conf,
                  ('disable_path',))
    register_info('healthcheck')

    def factory(app):
        return HealthCheckMiddleware(app, conf)
    return factory
