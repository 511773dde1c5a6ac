"""Telling the account replicas how big each container is.

A container PUT/DELETE reports at once (the client waits for it, as in
Swift).  Object-row updates only mark the container as changed: a green
thread reports each changed container at most once per
``report_interval`` seconds (so a burst of 10,000 uploads costs a handful
of account updates) but always within a couple of seconds, so
``swift stat`` catches up quickly.

Nothing here needs its own durable state: a container "needs a report"
exactly when its stats differ from the ``reported_*`` columns, which are
written only after every account replica acknowledged.  A failed report is
retried with backoff, and ``sweep()`` (run at start-up, and usable by the
updater daemon) finds containers whose report was lost to a restart.
"""
import heapq
import os
import time

import eventlet
import eventlet.event

from objproxy.common import backend_http
from objproxy.common.config import get_bool, get_float
from objproxy.common.response import is_success
from objproxy.storage.container_broker import ContainerBroker

MAX_RETRY_DELAY = 60.0


def parse_targets(headers):
    """[(host, partition, device)] from X-Account-Host/Partition/Device.

    Comma-separated lists are allowed for host and device (one partition).
    Returns [] when absent; ValueError when they do not line up.
    """
    hosts = [h.strip() for h in (headers.get('X-Account-Host') or '')
             .split(',') if h.strip()]
    devices = [d.strip() for d in (headers.get('X-Account-Device') or '')
               .split(',') if d.strip()]
    part = (headers.get('X-Account-Partition') or '').strip()
    if not hosts and not devices and not part:
        return []
    if not hosts or len(hosts) != len(devices) or not part.isdigit():
        raise ValueError('X-Account-Host, X-Account-Partition and '
                         'X-Account-Device must all be given and match')
    for host in hosts:
        ip, _, port = host.rpartition(':')
        if not ip or not port.isdigit():
            raise ValueError('Invalid X-Account-Host %r' % host)
    return [(h, part, d) for h, d in zip(hosts, devices)]


class AccountReporter(object):
    def __init__(self, conf, logger, pool=None, open_broker=None):
        self.logger = logger
        # the server's broker factory (pending cap, thread offload)
        self.open_broker = open_broker
        self.devices = conf.get('devices', '/srv/node')
        self.fsync = get_bool(conf, 'fsync', True)
        self.report_interval = get_float(conf, 'account_report_interval',
                                         1.0, minimum=0)
        self.coalesce_delay = min(0.2, self.report_interval)
        self.node_timeout = get_float(conf, 'node_timeout', 3, minimum=0.01)
        self.conn_timeout = get_float(conf, 'conn_timeout', 0.5,
                                      minimum=0.01)
        self.objproxy_dir = conf.get('objproxy_dir')
        self.pool = pool or backend_http.ConnectionPool()
        self._due = {}        # db_file -> due time
        self._names = {}      # db_file -> (account, container)
        self._failures = {}   # db_file -> consecutive failures
        self._last = {}       # db_file -> last report time
        self._heap = []
        self._runner = None
        self._wake = None
        self._ring = None

    # -- immediate reports -------------------------------------------------
    def report(self, broker, trans_id=None):
        """Send the container's stats to its account replicas now.

        Returns the list of HTTP statuses (None for a connection failure);
        when every replica said 2xx the stats are recorded as reported,
        otherwise the container is scheduled for a retry.
        """
        needs, stats = broker.report_state()
        targets = broker.get_account_targets() or self._ring_targets(broker)
        if not targets:
            return []
        self._last[broker.db_file] = time.time()
        headers = {
            'X-Backend-Layer': 'account',
            'X-Put-Timestamp': stats['put_timestamp'],
            'X-Delete-Timestamp': stats['delete_timestamp'],
            'X-Object-Count': str(stats['object_count']),
            'X-Bytes-Used': str(stats['bytes_used']),
            'X-Timestamp': stats['put_timestamp'],
            'X-Trans-Id': trans_id or 'account-report',
        }
        pile = eventlet.GreenPile(len(targets))
        for host, part, device in targets:
            path = '/%s/%s/%s/%s' % (device, part, broker.account,
                                     broker.container)
            pile.spawn(self._send, host, path, headers)
        statuses = list(pile)
        if statuses and all(s is not None and is_success(s)
                            for s in statuses):
            broker.reported(stats['put_timestamp'],
                            stats['delete_timestamp'],
                            stats['object_count'], stats['bytes_used'])
            self._failures.pop(broker.db_file, None)
        else:
            fails = self._failures.get(broker.db_file, 0) + 1
            self._failures[broker.db_file] = fails
            delay = min(MAX_RETRY_DELAY,
                        max(self.report_interval, 0.5) * 2 ** min(fails, 8))
            self._schedule(broker.db_file, broker.account, broker.container,
                           time.time() + max(delay, 1.0))
        return statuses

    def _send(self, host, path, headers):
        ip, _, port = host.rpartition(':')
        ip = ip.strip('[]')
        try:
            with eventlet.Timeout(self.conn_timeout + self.node_timeout):
                status, _, _ = backend_http.request(
                    self.pool, {'ip': ip, 'port': int(port)}, 'PUT', path,
                    headers, conn_timeout=self.conn_timeout,
                    node_timeout=self.node_timeout)
            if not is_success(status):
                self.logger.warning('account update %s%s answered %s',
                                    host, path, status)
            return status
        except (Exception, eventlet.Timeout) as err:
            self.logger.warning('account update %s%s failed: %s', host,
                                path, err)
            return None

    def _ring_targets(self, broker):
        """Fallback for DBs that never saw X-Account-*: all account
        replicas from the ring (when a ring is available)."""
        if not self.objproxy_dir:
            return []
        try:
            if self._ring is None:
                from objproxy.ring.ring import Ring
                self._ring = Ring(self.objproxy_dir, 'account')
            part, nodes = self._ring.get_nodes(broker.account)
        except Exception as err:
            self.logger.debug('no account ring: %s', err)
            return []
        return [('%s:%s' % (n['ip'], n['port']), str(part), n['device'])
                for n in nodes]

    # -- batched reports ---------------------------------------------------
    def changed(self, broker):
        """An object row changed: report soon, at most once per interval."""
        now = time.time()
        due = max(now + self.coalesce_delay,
                  self._last.get(broker.db_file, 0) + self.report_interval)
        self._schedule(broker.db_file, broker.account, broker.container, due)

    def _schedule(self, db_file, account, container, due):
        current = self._due.get(db_file)
        if current is not None and current <= due:
            return
        self._due[db_file] = due
        self._names[db_file] = (account, container)
        heapq.heappush(self._heap, (due, db_file))
        self._ensure_runner()
        if self._wake is not None and not self._wake.ready():
            self._wake.send(True)

    def pending(self):
        return dict(self._due)

    def run_pending(self, now=None):
        """Report every container whose time has come; returns how many."""
        now = time.time() if now is None else now
        done = 0
        # take what is due now first: a failed report reschedules itself
        # and must not be retried within this same pass
        due_now = []
        while self._heap and self._heap[0][0] <= now:
            due, db_file = heapq.heappop(self._heap)
            if self._due.get(db_file) != due:
                continue  # superseded by an earlier schedule
            del self._due[db_file]
            due_now.append((db_file, self._names.pop(db_file)))
        for db_file, (account, container) in due_now:
            broker = self._broker(db_file, account, container)
            try:
                if not broker.exists():
                    continue
                needs, _ = broker.report_state()
                if needs:
                    self.report(broker)
                    done += 1
            except Exception:
                self.logger.exception('account report for %s/%s failed',
                                      account, container)
            finally:
                broker.close()
        return done

    def _broker(self, db_file, account=None, container=None):
        if self.open_broker is not None:
            return self.open_broker(db_file, account, container)
        return ContainerBroker(db_file, account, container, fsync=self.fsync)

    def _ensure_runner(self):
        if self._runner is None or self._runner.dead:
            self._runner = eventlet.spawn(self._run)

    def _run(self):
        while True:
            try:
                self.run_pending()
            except Exception:
                self.logger.exception('account reporter loop')
            self._wake = eventlet.event.Event()
            delay = (self._heap[0][0] - time.time()) if self._heap else 30
            if delay > 0:
                with eventlet.Timeout(delay, False):
                    self._wake.wait()
            self._wake = None

    def stop(self):
        if self._runner is not None:
            self._runner.kill()
            self._runner = None

    # -- recovery after a restart -----------------------------------------
    def sweep(self, yield_every=100):
        """Schedule every container DB whose stats were not acknowledged."""
        found = 0
        root = os.path.abspath(self.devices)
        try:
            devices = sorted(os.listdir(root))
        except OSError:
            return 0
        seen = 0
        for device in devices:
            for dirpath, dirnames, filenames in os.walk(
                    os.path.join(root, device, 'containers')):
                for fname in filenames:
                    if not fname.endswith('.db'):
                        continue
                    seen += 1
                    if seen % yield_every == 0:
                        eventlet.sleep(0)
                    broker = self._broker(os.path.join(dirpath, fname))
                    try:
                        info = broker.get_info()
                        needs, _ = broker.report_state()
                        if needs:
                            self._schedule(broker.db_file, info['account'],
                                           info['container'], time.time())
                            found += 1
                    except Exception as err:
                        self.logger.warning('sweep: cannot read %s: %s',
                                            broker.db_file, err)
                    finally:
                        broker.close()
        return found
