"""gatekeeper: clients can neither set nor see backend-only headers.

System metadata (``X-Account-Sysmeta-*``, ``X-Container-Sysmeta-*``,
``X-Object-Sysmeta-*``, ``X-Object-Transient-Sysmeta-*``) and the
``X-Backend-*`` control headers are trusted by the proxy and the storage
nodes because only middleware sets them.  This filter sits near the left
of the pipeline and removes them from every client request and from every
response, so neither direction can leak or forge them; middleware to its
right is free to use them.

Config::

    [filter:gatekeeper]
    use = egg:objproxy#gatekeeper
"""
from objproxy.common.config import check_options
from objproxy.common.logs import get_logger
from objproxy.common.registry import register_info

# lower-case name prefixes; environ keys are derived from the same list
BLOCKED_PREFIXES = (
    'x-backend-',
    'x-account-sysmeta-',
    'x-container-sysmeta-',
    'x-object-sysmeta-',
    'x-object-transient-sysmeta-',
)
_ENV_PREFIXES = tuple('HTTP_' + p.upper().replace('-', '_')
                      for p in BLOCKED_PREFIXES)


def is_blocked(header_name):
    return header_name.lower().startswith(BLOCKED_PREFIXES)


class GatekeeperMiddleware(object):
    """Strips backend-only headers in both directions."""

    def __init__(self, app, conf):
        self.app = app
        self.logger = get_logger(conf, 'proxy-server',
                                 log_route='gatekeeper')

    def __call__(self, env, start_response):
        removed = [key for key in env if key.startswith(_ENV_PREFIXES)]
        for key in removed:
            del env[key]
        if removed:
            self.logger.debug('removed request headers: %s',
                              ', '.join(sorted(removed)))

        def filtered_start_response(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if not is_blocked(k)]
            return start_response(status, headers, exc_info)

        return self.app(env, filtered_start_response)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options('filter:gatekeeper', local_conf, global_conf, ())
    register_info('gatekeeper')

    def factory(app):
        return GatekeeperMiddleware(app, conf)
    return factory
