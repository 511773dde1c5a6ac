"""A proxy Application over real storage nodes, in one test process.

Why: the account and container controllers are about what the proxy
makes of the nodes' answers (quorum, autocreate, account updates,
listings), so their tests need nodes that store and answer for real.
Each node is objproxy's own StorageNode (account, container and object
layers on its own devices) behind a threaded loopback HTTP server: a
container server's account update may go to the same node while it is
still answering, and the proxy's backend sockets are plain (the test
process is not monkey-patched), so every node serves requests on threads.

``make_cluster(tmp_path, **proxy_conf)`` returns a ``LocalCluster``;
``stop()`` shuts the servers down.  Not for object PUTs through the
proxy: wsgiref's server does not answer ``Expect: 100-continue``, so the
putter waits for its node timeout (write object rows straight to the
container layer instead, or use tests/functional).
"""
import os
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from webob import Request

from objproxy.cli.aio_layout import AioLayout
from objproxy.common.config import read_conf_file
from objproxy.storage.node import StorageNode
from tests.ports import free_ports


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadedServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class NodeServer(object):
    """One storage node on a loopback port (the app is set once the
    layout that names the port is written)."""

    def __init__(self):
        self.server = _ThreadedServer(('127.0.0.1', 0), _Quiet)
        self.port = self.server.server_port
        self.app = None
        self.server.set_app(self._serve)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def _serve(self, env, start_response):
        return self.app(env, start_response)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class LocalCluster(object):
    def __init__(self, data_dir, node_count=4, **proxy_conf):
        self.nodes = [NodeServer() for _ in range(node_count)]
        try:
            self.layout = AioLayout(
                str(data_dir), proxy_port=free_ports(1)[0],
                node_ports=[n.port for n in self.nodes],
                use_memcached=False)
            self.layout.write_all()
            for index, node in enumerate(self.nodes):
                path = self.layout.node_conf(index)
                conf = dict(read_conf_file(path).defaults())
                conf['__file__'] = path
                node.app = StorageNode(conf)
            from objproxy.proxy.server import Application
            conf = {'objproxy_dir': self.layout.etc_dir,
                    'log_file': os.devnull, 'conn_timeout': '1',
                    'node_timeout': '5'}
            conf.update(proxy_conf)
            self.proxy = Application(conf)
        except BaseException:
            self.stop()
            raise

    def request(self, path, method='GET', headers=None, body=None,
                environ=None):
        env = {'REQUEST_METHOD': method}
        env.update(environ or {})
        req = Request.blank(path, environ=env, headers=headers or {})
        if body is not None:
            req.body = body
        self.last_environ = req.environ     # what the proxy left in it
        return req.get_response(self.proxy)

    def node_request(self, index, path, method='HEAD', headers=None):
        """Ask one storage node directly (what it stored)."""
        req = Request.blank(path, environ={'REQUEST_METHOD': method},
                            headers=headers or {})
        return req.get_response(self.nodes[index].app)

    def device(self, index):
        return self.layout.node_device_name(index)

    def stop(self):
        for node in self.nodes:
            node.stop()


def make_cluster(data_dir, **proxy_conf):
    return LocalCluster(data_dir, **proxy_conf)
