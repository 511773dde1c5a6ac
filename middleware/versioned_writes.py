"""versioned_writes: Swift's legacy object versioning (stub, filled in next)."""
from objproxy.common.config import check_options, get_bool
from objproxy.common.registry import register_info

SECTION = 'filter:versioned_writes'
KNOWN_OPTIONS = ('allow_versioned_writes', 'allow_object_versioning')


class VersionedWritesMiddleware(object):
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf

    def __call__(self, env, start_response):
        return self.app(env, start_response)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, KNOWN_OPTIONS)
    allow_vw = get_bool(conf, 'allow_versioned_writes', False, SECTION)
    allow_ov = get_bool(conf, 'allow_object_versioning', False, SECTION)
    if allow_vw:
        register_info('versioned_writes', allowed_flags=[
            'x-versions-location', 'x-history-location'])

    def factory(app):
        return VersionedWritesMiddleware(app, conf)
    return factory
