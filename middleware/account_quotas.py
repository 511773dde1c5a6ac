"""account_quotas: placeholder that passes requests through (being implemented).

Config::

    [filter:account_quotas]
    use = egg:objproxy#account_quotas
"""


def filter_factory(global_conf, **local_conf):
    def factory(app):
        return app
    return factory
