"""What the getter and putter tests share: a proxy app and a controller
reduced to what those two need, over scripted nodes on loopback (each test
module scripts its own nodes; they only need a ``ring_node()``)."""
from objproxy.common.backend_http import ConnectionPool
from objproxy.proxy.error_limiter import ErrorLimiter


class FakeApp(object):
    """The Application attributes the getter and the putter read."""
    node_timeout = 2
    conn_timeout = 1
    recoverable_node_timeout = 1
    object_chunk_size = 16
    client_timeout = 1
    client_chunk_size = 1000
    max_file_size = 10 ** 6

    def __init__(self):
        self.pool = ConnectionPool()
        self.error_limiter = ErrorLimiter()


class FakeController(object):
    """An object controller whose nodes are the scripted ones, in order."""
    server_type = 'Object'

    def __init__(self, nodes, app=None):
        self.app = app or FakeApp()
        self.nodes = nodes

    def iter_nodes(self, ring, part):
        return iter([n.ring_node() for n in self.nodes])


def started_nodes(node_class):
    """The body of a ``nodes`` fixture: yields ``make(*scripts)``, which
    starts one ``node_class`` per script, and shuts them all down after
    the test."""
    made = []

    def make(*scripts):
        made.extend(node_class(s) for s in scripts)
        return made[-len(scripts):]
    yield make
    for node in made:
        node.server.shutdown()
        node.server.server_close()
