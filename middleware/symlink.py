"""symlink: objects that point at other objects (Swift's symlink filter).

Work in progress: this first version passes every request through and
publishes Swift's ``/info`` section, so the default pipeline can load it.

Config (Swift's options)::

    [filter:symlink]
    use = egg:objproxy#symlink
    # Links followed in a row before the answer is 409.
    symloop_max = 2
"""
from objproxy.common.config import check_options, get_int
from objproxy.common.registry import register_info

SECTION = 'filter:symlink'
DEFAULT_SYMLOOP_MAX = 2


class SymlinkMiddleware(object):
    def __init__(self, app, conf):
        self.app = app
        self.symloop_max = get_int(conf, 'symloop_max', DEFAULT_SYMLOOP_MAX,
                                   SECTION, minimum=1)

    def __call__(self, env, start_response):
        return self.app(env, start_response)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, ('symloop_max',))
    symloop_max = get_int(conf, 'symloop_max', DEFAULT_SYMLOOP_MAX,
                          SECTION, minimum=1)
    register_info('symlink', symloop_max=symloop_max, static_links=True)

    def factory(app):
        return SymlinkMiddleware(app, conf)
    return factory
