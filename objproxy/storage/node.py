"""One storage node app serving the account, container and object layers.

Swift runs the three layers as separate servers on separate ports; objproxy
can do that too (``egg:objproxy#object_server`` etc.), but by default a node
runs them behind one port and this dispatcher picks the layer: from the
``X-Backend-Layer`` header when a daemon sets it (REPLICATE and friends are
ambiguous by path), otherwise from the path depth
(``/dev/part/a`` account, ``/dev/part/a/c`` container, deeper: object).

Replication-only requests go to the replication apps instead: a
``REPLICATE`` for a container or account database to DbReplicationServer,
and batched object replication (``X-Backend-Replicate-Batch: true``) to
ObjectReplicationServer; the object server keeps its own single-partition
``REPLICATE``.

``/recon/<metric>`` (GET, HEAD) answers with what the node's daemons
recorded, as JSON (objproxy.storage.recon_server); a path with a numeric
second segment is storage even on a device named ``recon``.
"""
from objproxy.common.config import config_true_value
from objproxy.storage import options
from objproxy.storage.account_server import AccountServer
from objproxy.storage.container_server import ContainerServer
from objproxy.storage.db_replication_server import DbReplicationServer
from objproxy.storage.object_replication_server import (
    ObjectReplicationServer)
from objproxy.storage.object_server import ObjectServer
from objproxy.storage.recon_server import ReconApp, is_recon_path

LAYERS = ('account', 'container', 'object')


class StorageNode(object):
    def __init__(self, conf):
        self.layers = {
            'account': AccountServer(conf),
            'container': ContainerServer(conf),
            'object': ObjectServer(conf),
        }
        self.db_replication = DbReplicationServer(conf)
        self.object_replication = ObjectReplicationServer(conf)
        self.recon = ReconApp(conf)

    def __call__(self, env, start_response):
        if is_recon_path(env.get('PATH_INFO', '')):
            return self.recon(env, start_response)
        layer = env.get('HTTP_X_BACKEND_LAYER', '').strip().lower()
        if config_true_value(env.get('HTTP_X_BACKEND_REPLICATE_BATCH')):
            return self.object_replication(env, start_response)
        if env.get('REQUEST_METHOD') == 'REPLICATE' and \
                layer in ('container', 'account'):
            return self.db_replication(env, start_response)
        if layer not in LAYERS:
            depth = env.get('PATH_INFO', '').strip('/').count('/') + 1
            layer = {3: 'account', 4: 'container'}.get(depth, 'object')
        return self.layers[layer](env, start_response)


def app_factory(global_conf, **local_conf):
    return StorageNode(options.checked_conf(
        'app:storage-server', global_conf, local_conf,
        options.STORAGE_NODE))
