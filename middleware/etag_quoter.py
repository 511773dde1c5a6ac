"""etag_quoter: placeholder that passes requests through (being implemented).

Config::

    [filter:etag_quoter]
    use = egg:objproxy#etag_quoter
"""


def filter_factory(global_conf, **local_conf):
    def factory(app):
        return app
    return factory
