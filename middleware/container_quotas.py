"""container_quotas: placeholder that passes requests through (being implemented).

Config::

    [filter:container_quotas]
    use = egg:objproxy#container_quotas
"""


def filter_factory(global_conf, **local_conf):
    def factory(app):
        return app
    return factory
