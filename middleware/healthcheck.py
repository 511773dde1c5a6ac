"""healthcheck: ``GET /healthcheck`` for load balancers, before any auth.

Answers ``200 OK`` with body ``OK``; when ``disable_path`` names a file
that exists the answer is ``503 Service Unavailable`` with body
``DISABLED BY FILE``, so an operator can drain a proxy by touching a file.
Every other path goes on down the pipeline untouched.

A proxy that cannot scan uploads refuses them (or, with the clamav
filter's ``on_error = allow``, stores them unscanned), so with
``check_clamd`` on (the default) ``/healthcheck`` also asks the clamav
filter further down this pipeline whether clamd answers ``PING``, and
answers ``503 Service Unavailable`` with body ``clamd unreachable`` while
it does not.  A load balancer then takes the proxy out of rotation until
clamd is back.  The PING result is cached by the clamav filter
(``ping_cache``, 1 s by default) and bounded by its ``ping_timeout`` (2 s),
so frequent polls stay cheap and a hung clamd never holds a poll for
long.  Pipelines without the clamav filter are unaffected.  The filters
asked are those after this one in ``_pipeline``, the chain the pipeline
loader (objproxy.common.pipeline) hands every filter it builds.

Config::

    [filter:healthcheck]
    use = egg:objproxy#healthcheck
    # disable_path =
    # check_clamd = true
"""
import os

from objproxy.common.config import check_options, get_bool
from objproxy.common.registry import register_info
from objproxy.common.response import plain_error

PATH = '/healthcheck'
SECTION = 'filter:healthcheck'


class HealthCheckMiddleware(object):
    """Short-circuits ``/healthcheck``."""

    def __init__(self, app, conf):
        self.app = app
        self.disable_path = conf.get('disable_path', '').strip()
        self.check_clamd = get_bool(conf, 'check_clamd', True, SECTION)
        self._probes = None

    def __call__(self, env, start_response):
        if env.get('PATH_INFO') != PATH:
            return self.app(env, start_response)
        if self.disable_path and os.path.exists(self.disable_path):
            resp = plain_error(503, 'DISABLED BY FILE')
        else:
            problems = self.problems()
            if problems:
                resp = plain_error(503, '; '.join(problems))
            else:
                resp = plain_error(200, 'OK')
        return resp(env, start_response)

    def problems(self):
        """Reasons the pipeline cannot serve, from its health probes."""
        if not self.check_clamd:
            return []
        return [reason for reason in (probe() for probe in self.probes())
                if reason]

    def probes(self):
        """The ``health_check`` of every filter after this one, found once
        in ``_pipeline`` (set by the pipeline loader, complete by the
        first request)."""
        if self._probes is None:
            chain = self._pipeline
            self._probes = [f.health_check
                            for f in chain[chain.index(self) + 1:]
                            if hasattr(f, 'health_check')]
        return self._probes


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf,
                  ('disable_path', 'check_clamd'))
    # A bad value is a start-up error, not a failure on the first poll.
    get_bool(conf, 'check_clamd', True, SECTION)
    register_info('healthcheck')

    def factory(app):
        return HealthCheckMiddleware(app, conf)
    return factory
