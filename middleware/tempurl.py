"""tempurl: Swift's temporary URLs (work in progress: passes through)."""
from objproxy.common.registry import register_info


def filter_factory(global_conf, **local_conf):
    register_info('tempurl')

    def factory(app):
        return app
    return factory
