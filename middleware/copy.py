"""copy: Swift's server-side copy filter (work in progress: passes through)."""


def filter_factory(global_conf, **local_conf):
    def factory(app):
        return app
    return factory
