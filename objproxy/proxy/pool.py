"""The proxy's backend connection pool, safe against stale keep-alives.

A storage node closes an idle keep-alive connection after its own
keep-alive timeout; a pooled connection can therefore be dead by the time
it is reused, and the first sign is a reset or an empty answer to our
request.  Such a request never reached the node's application, so it is
safe to send it again on a brand-new connection.  This pool tags pooled
connections and can hand out a fresh one on demand; ``call`` does the
retry for any exchange.
"""
import http.client

from objproxy.common.backend_http import ConnectionPool

# What a dead keep-alive connection looks like to the sender.
STALE_ERRORS = (ConnectionResetError, BrokenPipeError,
                http.client.BadStatusLine)


class ProxyConnectionPool(ConnectionPool):
    def get(self, ip, port, conn_timeout=0.5, node_timeout=10, fresh=False):
        if fresh:
            key = (ip, int(port))
            with self._lock:
                stale = self._idle.pop(key, [])
            for conn in stale:
                conn.close()
        conn = super().get(ip, port, conn_timeout, node_timeout)
        if fresh:
            conn.was_pooled = False
        return conn

    def put(self, conn):
        conn.was_pooled = True
        super().put(conn)

    def call(self, node, conn_timeout, node_timeout, exchange):
        """``exchange(conn)`` on a connection to ``node``; once more on a
        fresh connection if a reused one turns out to be dead.

        ``exchange`` must close the connection when it raises.
        """
        conn = self.get(node['ip'], node['port'], conn_timeout, node_timeout)
        try:
            return exchange(conn)
        except STALE_ERRORS:
            conn.close()
            if not getattr(conn, 'was_pooled', False):
                raise
        conn = self.get(node['ip'], node['port'], conn_timeout, node_timeout,
                        fresh=True)
        return exchange(conn)
