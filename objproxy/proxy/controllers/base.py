"""What every controller shares: finding nodes, talking to them, deciding.

* ``iter_nodes`` yields a partition's primaries and then its handoffs,
  skipping error-limited nodes, so a caller that loses a node simply takes
  the next one from the same iterator.
* ``node_request`` makes one small request and feeds the error limiter.
* ``make_requests`` fans a bodiless write out to every replica at once and
  ``best_response`` turns the answers into one, Swift's way: the highest
  status of the first status class that reached a quorum, else 503.
"""

from eventlet import GreenPile, Timeout

from objproxy.common import backend_http
from objproxy.common.backend_http import NODE_ERRORS
from objproxy.common.paths import reserved_names_allowed
from objproxy.common.timestamp import Timestamp
from objproxy.proxy import cors
from objproxy.common.response import (
    Response, error_response, is_client_error, is_informational,
    is_redirection, is_server_error, is_success)

# environ key: the request's query, validated and re-encoded for the nodes
# once, when the request arrives (the router's header checks)
BACKEND_QUERY = 'objproxy.backend_query'

HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer',
    'upgrade', 'proxy-authenticate', 'proxy-authorization', 'date',
    'server'))


def quorum_size(n):
    return n // 2 + 1


def client_headers(backend_headers):
    """Backend response headers the client may see, as a list of pairs."""
    out = []
    for key, value in backend_headers.items():
        lkey = key.lower()
        if lkey in HOP_BY_HOP or lkey.startswith('x-backend-'):
            continue
        out.append((title_case(key), value))
    return out


def add_last_modified(resp):
    """Accounts and containers were last modified at their PUT timestamp
    (Swift shows it, rounded up to the second, on HEAD and GET)."""
    if resp.get_header('Last-Modified') is not None:
        return
    value = resp.get_header('X-Put-Timestamp')
    if value:
        try:
            resp.set_header('Last-Modified', Timestamp(value).http_date)
        except (ValueError, TypeError):
            pass


def title_case(name):
    return '-'.join(part[:1].upper() + part[1:] for part in name.split('-'))


class NodeAnswer(object):
    """One node's complete answer to a small request."""
    __slots__ = ('node', 'status', 'headers', 'body')

    def __init__(self, node, status, headers, body):
        self.node = node
        self.status = status
        self.headers = headers
        self.body = body


def best_response(answers, quorum, method=''):
    """Collapse several node answers into the one the client gets.

    ``answers`` holds NodeAnswer objects or None for a node that could not
    be reached; missing answers count as 503, as in Swift.
    """
    statuses = [a.status if a is not None else 503 for a in answers]
    for of_class in (is_informational, is_success, is_redirection,
                     is_client_error):
        in_class = [s for s in statuses if of_class(s)]
        if len(in_class) >= quorum:
            status = max(in_class)
            answer = answers[statuses.index(status)]
            error = is_client_error(status)
            if error and not answer.body and method != 'HEAD':
                return error_response(status)
            headers = client_headers(answer.headers)
            if error:
                headers = [(k, v) for k, v in headers
                           if k.lower() not in ('content-length', 'etag')]
            return Response(status, headers=headers,
                            body=answer.body or b'')
    return error_response(503)


class Controller(object):
    """Base class; subclasses implement the HTTP verbs as methods."""

    server_type = 'Base'
    allowed_methods = ()

    def __init__(self, app, account_name, container_name=None,
                 object_name=None):
        self.app = app
        self.account_name = account_name
        self.container_name = container_name
        self.object_name = object_name

    # ----- node selection ------------------------------------------------

    def iter_nodes(self, ring, part):
        """Primaries, then handoffs (``request_node_count`` nodes in all),
        skipping error-limited nodes."""
        limiter = self.app.error_limiter
        primaries = ring.get_part_nodes(part)
        for node in primaries:
            if not limiter.is_limited(node):
                yield node
        handoffs = 0
        for node in ring.get_more_nodes(part):
            handoffs += 1
            if handoffs > self.app.request_node_count(len(primaries)) - \
                    len(primaries):
                return
            if not limiter.is_limited(node):
                node = dict(node, handoff=True)
                yield node

    # ----- talking to nodes ----------------------------------------------

    def node_request(self, node, part, method, path, headers,
                     query_string=None, body=None, timeout=None):
        """One request to one node; None when it could not answer."""
        app = self.app
        full = '/%s/%s%s' % (node['device'], part, path)
        node_timeout = timeout or app.node_timeout
        try:
            with Timeout(node_timeout):
                status, hdrs, data = backend_http.request(
                    app.pool, node, method, full, headers, query_string,
                    body, app.conn_timeout, node_timeout)
        except NODE_ERRORS as err:
            app.error_limiter.error_occurred(
                node, '%s %s: %s' % (method, full, err or type(err).__name__))
            return None
        app.error_limiter.answered(node, status, hdrs)
        return NodeAnswer(node, status, hdrs, data)

    def _request_until_answer(self, nodes, part, method, path, headers,
                              query_string, body):
        for node in nodes:
            answer = self.node_request(node, part, method, path, headers,
                                       query_string, body)
            if answer is not None and not is_server_error(answer.status):
                return answer
        return None

    def make_requests(self, ring, part, method, path, headers_list,
                      query_string=None, body=None):
        """Send a bodiless write to every replica concurrently.

        ``headers_list`` has one header dict per primary; a primary that
        fails is replaced by the next node of the shared iterator.
        """
        nodes = self.iter_nodes(ring, part)
        pile = GreenPile(len(headers_list))
        for headers in headers_list:
            pile.spawn(self._request_until_answer, nodes, part, method, path,
                       headers, query_string, body)
        answers = list(pile)
        return best_response(answers, quorum_size(len(headers_list)),
                             method)

    # ----- headers ---------------------------------------------------------

    def base_headers(self, req, timestamp=None):
        headers = {
            'X-Trans-Id': req.environ.get('swift.trans_id', ''),
            'X-Backend-Layer': self.server_type.lower(),
            'Connection': 'keep-alive',
        }
        if timestamp is not None:
            headers['X-Timestamp'] = timestamp.internal
        if reserved_names_allowed(req.environ):
            # the nodes list and serve the reserved namespace only if asked
            headers['X-Backend-Allow-Reserved-Names'] = 'true'
        return headers

    # ----- authorization ----------------------------------------------------

    def authorize(self, req, acl=None):
        """Run the auth filter's ``swift.authorize`` hook, if any."""
        env = req.environ
        # swift.authorize_override only tells auth filters to keep the
        # callback already set (tempurl's): the callback is still asked
        authorize = env.get('swift.authorize')
        if not authorize:
            return None
        # always set: a copy's source read must never be judged by the ACL
        # an earlier check (of the destination) left on a shared request
        req.acl = acl
        return authorize(req)

    def method_not_allowed(self):
        return error_response(405, headers={
            'Allow': ', '.join(sorted(self.allowed_methods))})

    def OPTIONS(self, req):
        """``Allow``, and the answer to a browser's CORS preflight, judged
        by the container's CORS metadata and the proxy's CORS options (an
        account has no CORS settings: it only gets ``Allow``)."""
        settings = None
        if self.container_name and req.headers.get('Origin'):
            settings = self.app.container_info(
                req.environ, self.account_name,
                self.container_name).get('cors') or {}
        return cors.preflight(self.allowed_methods, settings, req,
                              cors.options_for(self.app))
