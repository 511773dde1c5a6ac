"""bulk: placeholder that passes requests through (being implemented).

Config::

    [filter:bulk]
    use = egg:objproxy#bulk
"""


def filter_factory(global_conf, **local_conf):
    def factory(app):
        return app
    return factory
