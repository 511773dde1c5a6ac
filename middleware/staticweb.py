"""staticweb: serve a container as a static web site (Swift's staticweb).

Config::

    [filter:staticweb]
    use = egg:objproxy#staticweb
    # url_base =
"""
from objproxy.common.config import check_options
from objproxy.common.registry import register_info


class StaticWeb(object):
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf

    def __call__(self, env, start_response):
        return self.app(env, start_response)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options('filter:staticweb', local_conf, global_conf, ('url_base',))
    register_info('staticweb')

    def factory(app):
        return StaticWeb(app, conf)
    return factory
