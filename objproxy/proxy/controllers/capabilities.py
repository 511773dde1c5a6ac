"""``GET /info``: the cluster's limits and every enabled filter.

The ``swift`` section carries the constraints under Swift's names so that
Swift clients discover the same capabilities; each filter registers its
own section through objproxy.common.registry when it is loaded.
"""
import json

from objproxy.common import registry
from objproxy.common.response import Response


class InfoController(object):
    allowed_methods = ('GET', 'HEAD', 'OPTIONS')

    def __init__(self, app):
        self.app = app

    def GET(self, req):
        info = registry.get_info(
            disallowed_sections=self.app.disallowed_sections)
        body = json.dumps(info, sort_keys=True).encode('utf-8')
        return Response(200, headers={
            'Content-Type': 'application/json; charset=UTF-8'}, body=body)

    HEAD = GET

    def OPTIONS(self, req):
        return Response(200, headers={'Allow': 'GET, HEAD, OPTIONS'})
