"""The container layer of a storage node (Swift's container server).

``/dev/part/a/c`` is a container: PUT creates (or revives) its database,
POST changes metadata, DELETE removes an empty one, GET lists its objects
and HEAD reports its counters.  ``/dev/part/a/c/o`` is an object row sent
by an object server after an object PUT/DELETE (``X-Backend-Layer:
container`` on a shared node).  Every change of the container's stats is
reported to the account replicas by the AccountReporter: at once for
container PUT/DELETE, batched for object rows.

An object row is only appended to the container's pending file (see
db_broker), so a burst of object updates answers in well under a
millisecond each instead of queueing one fsync'd SQLite transaction per
row; HEAD, GET, DELETE and the account report merge the pending rows
first, so what they show is current.

Header values arrive as WSGI text (each byte one latin-1 code point); an
object row's content type is stored as the real text it encodes, so a
UTF-8 content type lists as sent.  A POST moves the container's put
timestamp forward (its Last-Modified), as Swift's does, unless
``X-Backend-No-Timestamp-Update`` is true.
"""
from objproxy.common.config import config_true_value
from objproxy.common.constraints import LIMITS
from objproxy.common.paths import (
    PathError, reserved_names_allowed, wsgi_to_str)
from objproxy.storage import options
from objproxy.storage.account_reporter import AccountReporter, parse_targets
from objproxy.storage.container_broker import ContainerBroker
from objproxy.storage.db_server import DBServer, HTTPError, plain_response
from objproxy.storage.listing import (
    ListingParams, listing_content_type, parse_query, render_objects)


class ContainerServer(DBServer):
    server_type = 'container'
    datadir = 'containers'
    broker_class = ContainerBroker
    save_headers = ('x-container-read', 'x-container-write',
                    'x-container-sync-key', 'x-container-sync-to',
                    'x-versions-location', 'x-history-location')

    def __init__(self, conf, logger=None):
        super().__init__(conf, logger)
        self.reporter = AccountReporter(self.conf, self.logger,
                                        open_broker=self.open_broker)
        self._swept = False

    def __call__(self, env, start_response):
        if not self._swept:
            # first request: pick up reports a restart left unsent
            self._swept = True
            try:
                import eventlet
                eventlet.spawn_n(self.reporter.sweep)
            except Exception:
                pass
        return super().__call__(env, start_response)

    # -- helpers ---------------------------------------------------------
    def _open(self, req):
        device, part, account, container, obj = self.split(req, 4, 5)
        broker = self.get_broker(device, part, account, container)
        return broker, obj

    @staticmethod
    def info_headers(info, deleted):
        headers = {
            'X-Backend-Timestamp': info['created_at'],
            'X-Backend-Put-Timestamp': info['put_timestamp'],
            'X-Backend-Delete-Timestamp': info['delete_timestamp'],
            'X-Backend-Status-Changed-At': info['status_changed_at'],
            'X-Backend-Storage-Policy-Index': '0',
        }
        if not deleted:
            headers.update({
                'X-Container-Object-Count': str(info['object_count']),
                'X-Container-Bytes-Used': str(info['bytes_used']),
                'X-Timestamp': info['created_at'].split('_')[0],
                'X-Put-Timestamp': info['put_timestamp'].split('_')[0],
            })
        return headers

    # -- PUT ---------------------------------------------------------------
    def handle_PUT(self, req):
        broker, obj = self._open(req)
        timestamp = self.timestamp(req)
        with broker:
            if obj is not None:
                return self._put_object_row(req, broker, obj, timestamp)
            return self._put_container(req, broker, timestamp)

    def _put_object_row(self, req, broker, obj, timestamp):
        size = self.int_header(req, 'X-Size')
        ctype = _header_text(req.headers.get('X-Content-Type', ''))
        etag = _header_text(req.headers.get('X-Etag', ''))
        if not broker.exists():
            raise HTTPError(404, 'Container not found')
        broker.put_object(obj, timestamp.internal, size, ctype, etag)
        self.row_queued(broker)
        self.reporter.changed(broker)
        return plain_response(201)

    def _put_container(self, req, broker, timestamp):
        try:
            targets = parse_targets(req.headers)
        except ValueError as err:
            raise HTTPError(400, str(err))
        metadata = self.metadata_from(req, timestamp)
        created = self.create_or_open(broker, timestamp)
        if not created:
            revived = broker.is_deleted()
            broker.update_put_timestamp(timestamp.internal)
            if broker.is_deleted():
                raise HTTPError(409, 'Container deleted at a newer '
                                'timestamp', {'X-Backend-Timestamp':
                                              broker.get_info()[
                                                  'delete_timestamp']})
            if revived:
                broker.update_status_changed_at(timestamp.internal)
                created = True
        self.store_metadata(broker, metadata)
        if targets:
            broker.set_account_targets(targets)
            resp = self._report_now(req, broker)
            if resp is not None:
                return resp
        return plain_response(201 if created else 202)

    def _report_now(self, req, broker):
        """Report inline; a 404 from every account replica means the
        account does not exist, which the proxy must hear (as Swift)."""
        statuses = self.reporter.report(broker, req.headers.get('X-Trans-Id'))
        if statuses and all(s == 404 for s in statuses):
            return plain_response(404, 'Account not found')
        return None

    # -- DELETE ------------------------------------------------------------
    def handle_DELETE(self, req):
        broker, obj = self._open(req)
        timestamp = self.timestamp(req)
        with broker:
            if not broker.exists():
                raise HTTPError(404)
            if obj is not None:
                broker.delete_object(obj, timestamp.internal)
                self.row_queued(broker)
                self.reporter.changed(broker)
                return plain_response(204)
            try:
                targets = parse_targets(req.headers)
            except ValueError as err:
                raise HTTPError(400, str(err))
            if not broker.empty():
                raise HTTPError(409, 'Container not empty')
            existed = not broker.is_deleted()
            broker.delete_db(timestamp.internal)
            if not broker.is_deleted():
                raise HTTPError(409, 'Container put at a newer timestamp')
            if targets:
                broker.set_account_targets(targets)
            if targets or broker.get_account_targets():
                self.reporter.report(broker, req.headers.get('X-Trans-Id'))
            return plain_response(204 if existed else 404)

    # -- POST --------------------------------------------------------------
    def handle_POST(self, req):
        broker, obj = self._open(req)
        if obj is not None:
            raise HTTPError(400, 'Object rows cannot be POSTed to')
        timestamp = self.timestamp(req)
        with broker:
            if not broker.exists() or broker.is_deleted():
                raise HTTPError(404)
            # metadata first: a refused POST changes nothing
            self.store_metadata(broker, self.metadata_from(req, timestamp))
            if not config_true_value(req.headers.get(
                    'X-Backend-No-Timestamp-Update', '')):
                broker.update_put_timestamp(timestamp.internal)
                self.reporter.changed(broker)
        return plain_response(204)

    # -- HEAD / GET --------------------------------------------------------
    def _existing(self, broker):
        if not broker.exists():
            raise HTTPError(404)
        info, metadata = broker.get_info_and_metadata()
        deleted = (not info['object_count'] and
                   info['delete_timestamp'] > info['put_timestamp'])
        headers = self.info_headers(info, deleted)
        if deleted:
            raise HTTPError(404, '', headers)
        headers.update(self.metadata_headers(broker, metadata))
        return headers

    def handle_HEAD(self, req):
        broker, obj = self._open(req)
        if obj is not None:
            raise HTTPError(400, 'Invalid path for a container HEAD')
        params = parse_query(req.environ.get('QUERY_STRING', ''))
        ctype = listing_content_type(params, req.headers.get('Accept'))
        with broker:
            headers = self._existing(broker)
        return plain_response(204, '', headers,
                              content_type=ctype + '; charset=utf-8')

    def handle_GET(self, req):
        broker, obj = self._open(req)
        if obj is not None:
            raise HTTPError(400, 'Invalid path for a container listing')
        params = parse_query(req.environ.get('QUERY_STRING', ''))
        ctype = listing_content_type(params, req.headers.get('Accept'))
        listing = ListingParams(params, LIMITS['container_listing_limit'])
        with broker:
            headers = self._existing(broker)
            rows = broker.list_objects_iter(
                listing.limit, marker=listing.marker,
                end_marker=listing.end_marker, prefix=listing.prefix,
                delimiter=listing.delimiter, path=listing.path,
                reverse=listing.reverse,
                allow_reserved=reserved_names_allowed(req.environ))
        body = render_objects(rows, ctype, broker.container)
        status = 200
        if not rows and ctype == 'text/plain':
            status = 204
            body = b''
        return plain_response(status, body, headers,
                              content_type=ctype + '; charset=utf-8')


def _header_text(value):
    """A WSGI header value as the text its bytes encode (UTF-8); bytes
    that are not UTF-8 are kept as they came."""
    try:
        return wsgi_to_str(value)
    except PathError:
        return value


def app_factory(global_conf, **local_conf):
    return ContainerServer(options.checked_conf(
        'app:container-server', global_conf, local_conf, options.CONTAINER_SERVER))
