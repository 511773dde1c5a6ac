"""The account layer of a storage node (Swift's account server).

``/dev/part/a`` is an account: PUT creates it, POST changes metadata,
DELETE marks it deleted (Swift's reaper semantics: a deleted account
answers 404 and refuses re-creation with 403 "Recently deleted"), GET
lists its containers, HEAD reports its totals.  ``/dev/part/a/c`` (with
``X-Backend-Layer: account`` on a shared node) is a container's stats
report from a container server; it is only appended to the account's
pending file (see db_broker) and merged in batches, before any read.
"""
from objproxy.common.constraints import LIMITS
from objproxy.common.paths import reserved_names_allowed
from objproxy.storage import options
from objproxy.storage.account_broker import AccountBroker
from objproxy.storage.db_server import DBServer, HTTPError, plain_response
from objproxy.storage.listing import (
    ListingParams, listing_content_type, parse_query, render_containers)

ACL_HEADER = 'X-Account-Access-Control'
ACL_SYSMETA = 'X-Account-Sysmeta-Core-Access-Control'


class AccountServer(DBServer):
    server_type = 'account'
    datadir = 'accounts'
    broker_class = AccountBroker

    def _open(self, req):
        device, part, account, container = self.split(req, 3, 4)[:4]
        return self.get_broker(device, part, account), container

    def metadata_from(self, req, timestamp):
        meta = super().metadata_from(req, timestamp)
        acl = req.headers.get(ACL_HEADER)
        if acl is not None:
            meta[ACL_SYSMETA] = (acl, timestamp.internal)
        return meta

    def metadata_headers(self, broker, metadata=None):
        headers = super().metadata_headers(broker, metadata)
        for key, value in list(headers.items()):
            if key.lower() == ACL_SYSMETA.lower():
                headers[ACL_HEADER] = value
        return headers

    @staticmethod
    def info_headers(info, deleted):
        headers = {
            'X-Backend-Timestamp': info['created_at'],
            'X-Backend-Put-Timestamp': info['put_timestamp'],
            'X-Backend-Delete-Timestamp': info['delete_timestamp'],
            'X-Backend-Status-Changed-At': info['status_changed_at'],
        }
        if info['status'] == 'DELETED':
            headers['X-Account-Status'] = 'Deleted'
        if not deleted:
            headers.update({
                'X-Account-Container-Count': str(info['container_count']),
                'X-Account-Object-Count': str(info['object_count']),
                'X-Account-Bytes-Used': str(info['bytes_used']),
                'X-Timestamp': info['created_at'].split('_')[0],
                'X-Put-Timestamp': info['put_timestamp'].split('_')[0],
            })
        return headers

    def _existing(self, broker):
        if not broker.exists():
            raise HTTPError(404)
        info, metadata = broker.get_info_and_metadata()
        deleted = info['status'] == 'DELETED' or (
            not info['container_count'] and
            info['delete_timestamp'] > info['put_timestamp'])
        headers = self.info_headers(info, deleted)
        if deleted:
            raise HTTPError(404, '', headers)
        headers.update(self.metadata_headers(broker, metadata))
        return headers

    # -- PUT ---------------------------------------------------------------
    def handle_PUT(self, req):
        broker, container = self._open(req)
        with broker:
            if container is not None:
                return self._put_container_row(req, broker, container)
            timestamp = self.timestamp(req)
            metadata = self.metadata_from(req, timestamp)
            created = self.create_or_open(broker, timestamp)
            if not created:
                if broker.is_status_deleted():
                    info = broker.get_info()
                    raise HTTPError(403, 'Recently deleted',
                                    self.info_headers(info, True))
                revived = broker.is_deleted()
                broker.update_put_timestamp(timestamp.internal)
                if broker.is_deleted():
                    raise HTTPError(409, 'Account deleted at a newer '
                                    'timestamp')
                if revived:
                    broker.update_status_changed_at(timestamp.internal)
                    created = True
            self.store_metadata(broker, metadata)
            return plain_response(201 if created else 202)

    def _put_container_row(self, req, broker, container):
        put_ts = self.timestamp(req, 'X-Put-Timestamp')
        del_ts = self.timestamp(req, 'X-Delete-Timestamp', required=False)
        count = self.int_header(req, 'X-Object-Count', 0)
        used = self.int_header(req, 'X-Bytes-Used', 0)
        if not broker.exists():
            raise HTTPError(404, 'Account not found')
        override = req.headers.get('X-Account-Override-Deleted', 'no')
        if override.lower() != 'yes' and broker.is_deleted(fresh=False):
            raise HTTPError(404, 'Account deleted')
        del_internal = del_ts.internal if del_ts else '0'
        broker.put_container(container, put_ts.internal, del_internal,
                             count, used)
        self.row_queued(broker)
        if del_ts is not None and del_ts > put_ts:
            return plain_response(204)
        return plain_response(201)

    # -- DELETE ------------------------------------------------------------
    def handle_DELETE(self, req):
        broker, container = self._open(req)
        if container is not None:
            raise HTTPError(400, 'Container rows are removed by a PUT with '
                            'a newer X-Delete-Timestamp')
        timestamp = self.timestamp(req)
        with broker:
            self._existing(broker)
            broker.delete_db(timestamp.internal)
        return plain_response(204)

    # -- POST --------------------------------------------------------------
    def handle_POST(self, req):
        broker, container = self._open(req)
        if container is not None:
            raise HTTPError(400, 'Invalid path for an account POST')
        timestamp = self.timestamp(req)
        with broker:
            self._existing(broker)
            self.store_metadata(broker, self.metadata_from(req, timestamp))
        return plain_response(204)

    # -- HEAD / GET --------------------------------------------------------
    def handle_HEAD(self, req):
        broker, container = self._open(req)
        if container is not None:
            raise HTTPError(400, 'Invalid path for an account HEAD')
        params = parse_query(req.environ.get('QUERY_STRING', ''))
        ctype = listing_content_type(params, req.headers.get('Accept'))
        with broker:
            headers = self._existing(broker)
        return plain_response(204, '', headers,
                              content_type=ctype + '; charset=utf-8')

    def handle_GET(self, req):
        broker, container = self._open(req)
        if container is not None:
            raise HTTPError(400, 'Invalid path for an account listing')
        params = parse_query(req.environ.get('QUERY_STRING', ''))
        ctype = listing_content_type(params, req.headers.get('Accept'))
        listing = ListingParams(params, LIMITS['account_listing_limit'],
                                allow_path=False)
        with broker:
            headers = self._existing(broker)
            rows = broker.list_containers_iter(
                listing.limit, marker=listing.marker,
                end_marker=listing.end_marker, prefix=listing.prefix,
                delimiter=listing.delimiter, reverse=listing.reverse,
                allow_reserved=reserved_names_allowed(req.environ))
        body = render_containers(rows, ctype, broker.account)
        status = 200
        if not rows and ctype == 'text/plain':
            status = 204
            body = b''
        return plain_response(status, body, headers,
                              content_type=ctype + '; charset=utf-8')


def app_factory(global_conf, **local_conf):
    return AccountServer(options.checked_conf(
        'app:account-server', global_conf, local_conf, options.ACCOUNT_SERVER))
