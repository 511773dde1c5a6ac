"""object_versioning: Swift's newer object versioning (work in progress).

Not a pipeline filter of its own: ``versioned_writes`` wraps the app in
``ObjectVersioningMiddleware`` when ``allow_object_versioning`` is true
and calls ``register_info`` so ``/info`` lists ``object_versioning``.
This first version passes every request through.
"""
from objproxy.common.registry import register_info as _register


def register_info(conf):
    """Publish Swift's (empty) ``object_versioning`` /info section."""
    _register('object_versioning')


class ObjectVersioningMiddleware(object):
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf

    def __call__(self, env, start_response):
        return self.app(env, start_response)
