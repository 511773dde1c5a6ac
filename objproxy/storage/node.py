"""One storage node app serving the account, container and object layers.

Swift runs the three layers as separate servers on separate ports; objproxy
can do that too (``egg:objproxy#object_server`` etc.), but by default a node
runs them behind one port and this dispatcher picks the layer: from the
``X-Backend-Layer`` header when a daemon sets it (REPLICATE and friends are
ambiguous by path), otherwise from the path depth
(``/dev/part/a`` account, ``/dev/part/a/c`` container, deeper: object).
"""
from objproxy.storage.account_server import AccountServer
from objproxy.storage.container_server import ContainerServer
from objproxy.storage.object_server import ObjectServer

LAYERS = ('account', 'container', 'object')


class StorageNode(object):
    def __init__(self, conf):
        self.layers = {
            'account': AccountServer(conf),
            'container': ContainerServer(conf),
            'object': ObjectServer(conf),
        }

    def __call__(self, env, start_response):
        layer = env.get('HTTP_X_BACKEND_LAYER', '').strip().lower()
        if layer not in LAYERS:
            depth = env.get('PATH_INFO', '').strip('/').count('/') + 1
            layer = {3: 'account', 4: 'container'}.get(depth, 'object')
        return self.layers[layer](env, start_response)


def app_factory(global_conf, **local_conf):
    conf = dict(global_conf)
    conf.update(local_conf)
    return StorageNode(conf)
