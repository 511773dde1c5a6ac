"""formpost: Swift's HTML form uploads (work in progress: passes through)."""
from objproxy.common.registry import register_info


def filter_factory(global_conf, **local_conf):
    register_info('formpost')

    def factory(app):
        return app
    return factory
