"""The stored scan verdict: its keys, when it is current, how it changes.

Why its own module: the proxy filter (on a PUT, and after a scan on read)
and the rescanner daemon (after a signature update) all write the same
``X-Object-Sysmeta-Av-*`` keys and judge staleness the same way, so the
vocabulary lives here once.

A verdict given after the upload is written with the object servers'
*verdict update*: an object POST carrying ``X-Backend-Verdict-Update:
true`` whose .meta keeps the client's metadata and replaces only the
verdict keys (``objproxy.storage.object_server._update_verdict``).  It is
sent straight to every primary of the object's partition with a fresh
``X-Timestamp``, and to handoffs in place of primaries that missed it; a
primary that is down gets it later through replication of the others'
.meta.
"""
import itertools
import time

from objproxy.common.backend_http import NODE_ERRORS, request
from objproxy.common.statsd import StatsdClient
from objproxy.common.timestamp import Timestamp
from objproxy.common.response import is_success

ENV_PREFIX = 'HTTP_X_OBJECT_SYSMETA_AV_'
SYSMETA_PREFIX = 'x-object-sysmeta-av-'
PUBLIC_PREFIX = 'X-Object-Av-'
VERDICT = SYSMETA_PREFIX + 'verdict'
ENGINE = SYSMETA_PREFIX + 'engine'
SIGNATURES = SYSMETA_PREFIX + 'signatures'
SCANNED_AT = SYSMETA_PREFIX + 'scanned-at'
FOUND = SYSMETA_PREFIX + 'found'
CLEAN = 'clean'
INFECTED = 'infected'
#: a large object whose joined content must be judged again (by the next
#: read) because the signatures changed since its verdict
RESCAN_ON_READ = 'unscanned; signatures changed'


def now_iso():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def verdict_headers(verdict, engine=None, signatures=None, found=None):
    """The sysmeta headers of one verdict (names as sent to a node)."""
    headers = {'X-Object-Sysmeta-Av-Verdict': verdict}
    if engine is not None:
        headers['X-Object-Sysmeta-Av-Engine'] = engine
        headers['X-Object-Sysmeta-Av-Scanned-At'] = now_iso()
    if signatures is not None:
        headers['X-Object-Sysmeta-Av-Signatures'] = signatures
    if found is not None:
        headers['X-Object-Sysmeta-Av-Found'] = found
    return headers


def stored_verdict(headers):
    """(verdict, signatures) from response headers or metadata (any case
    of the names); None where absent."""
    verdict = signatures = None
    for name, value in headers.items() if hasattr(headers, 'items') \
            else headers:
        lname = name.lower()
        if lname == VERDICT:
            verdict = value
        elif lname == SIGNATURES:
            signatures = value
    return verdict, signatures


def needs_scan(verdict, signatures, current, policy):
    """Whether a read under ``scan_on_read = policy`` must scan first.

    ``current`` is the signature fingerprint now in use (None: unknown,
    then nothing counts as stale).  Only a clean verdict can go stale; an
    unscanned label (oversize, clamd down) counts as missing.
    """
    if policy == 'never':
        return False
    if policy == 'always':
        return True
    if verdict == INFECTED:
        return False
    if verdict != CLEAN:
        return True
    return policy == 'stale' and current is not None and \
        signatures != current


def update_replicas(pool, ring, account, container, obj, headers,
                    conn_timeout=0.5, node_timeout=10, data_timestamp=None):
    """Send a verdict update to every replica; returns how many took it.

    The primaries come first.  For each one that is down or does not hold
    the object (a PUT that missed it wrote a handoff instead), the next
    handoffs are tried, at most one per replica, so the copy a read may
    find there does not keep the old verdict.  The caller's ``headers``
    are the verdict sysmeta (verdict_headers); the flag, timestamp and a
    transaction id are added here.  With ``data_timestamp`` (that of the
    .data that was scanned), a replica that holds another upload by now
    refuses the update (409).
    """
    part, nodes = ring.get_nodes(account, container, obj)
    out = dict(headers)
    out['X-Backend-Verdict-Update'] = 'true'
    out['X-Timestamp'] = Timestamp(time.time()).internal
    out.setdefault('X-Trans-Id', 'verdict-update-%s' % out['X-Timestamp'])
    if data_timestamp is not None:
        out['X-Backend-Verdict-Data-Timestamp'] = data_timestamp

    def took(node):
        # raw: the connection percent-encodes the request line itself
        path = '/'.join(('', node['device'], str(part), account, container,
                         obj))
        try:
            status = request(pool, node, 'POST', path, out,
                             conn_timeout=conn_timeout,
                             node_timeout=node_timeout)[0]
        except NODE_ERRORS:
            return False
        return is_success(status)

    accepted = sum(1 for node in nodes if took(node))
    missed = len(nodes) - accepted
    if missed:
        for node in itertools.islice(ring.get_more_nodes(part), len(nodes)):
            if took(node):
                accepted += 1
                missed -= 1
                if not missed:
                    break
    return accepted


def statsd_from_conf(conf):
    """A StatsdClient when ``log_statsd_host`` is set (Swift's option
    names), else None; metric names are ``clamav.<name>``."""
    host = (conf.get('log_statsd_host') or '').strip()
    if not host:
        return None
    prefix = (conf.get('log_statsd_metric_prefix') or '').strip('.')
    return StatsdClient(
        host, int(conf.get('log_statsd_port') or 8125),
        prefix=(prefix + '.clamav') if prefix else 'clamav',
        default_sample_rate=float(
            conf.get('log_statsd_default_sample_rate') or 1.0),
        sample_rate_factor=float(
            conf.get('log_statsd_sample_rate_factor') or 1.0))


class Metrics(object):
    """Counters and timings of scans; a no-op without StatsD."""

    def __init__(self, client=None):
        self.client = client

    def count(self, name, amount=1):
        if self.client is not None:
            self.client.update_stats(name, amount)

    def scanned(self, outcome, nbytes, seconds):
        """One finished scan: ``outcome`` is clean, infected or errors."""
        if self.client is None:
            return
        self.client.increment('scanned')
        self.client.increment(outcome)
        self.client.update_stats('bytes', nbytes)
        self.client.timing('scan_time', seconds * 1000.0)
