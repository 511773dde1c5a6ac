"""Rescanner: judge stored objects again after the signatures changed.

Why: a verdict is only as good as the signatures it was given with, and
official signatures change several times a day.  Scanning on read
(middleware.clamav_read) covers what clients touch; this daemon covers
the rest in the background, at a bounded rate (``files_per_second``,
``bytes_per_second``: clients come first), so an object found infected by
a new signature is refused before anyone asks for it.

A pass walks this node's object partitions.  Only the node holding the
*first primary* of a partition rescans it, so each object is scanned
once per cluster, not once per replica; a node holding a partition as a
handoff (no primary of it) rescans its copy too.  For each object it
reads the merged verdict (the .data's, overridden by a .meta's verdict
update) and rescans when the verdict is not ``infected`` and its
``-Signatures`` differ from the current fingerprint (objproxy.common.clamd.
signature_fingerprint: clamd's VERSION when it names a database version,
else a digest of the DatabaseDirectory files).  Bodies larger than
``max_scan_size`` are counted and skipped.  A large-object manifest's body
is a segment list, and its segments are rescanned as objects of their
own; a static large object judged with older signatures is marked
``unscanned; signatures changed``, so its next read scans the joined
content (a DLO is scanned on every read anyway).

The body is the .data file minus its block checksums, metadata and
trailer (object_format): scanning the whole file would miss hash
signatures and could match the metadata.  When clamd runs on this host,
the body is copied (``copy_file_range``: a clone on reflink file systems)
next to the device's uploads and clamd SCANs that copy itself, through
pyclamd; bodies clamd may not scan whole (over its MaxFileSize or
MaxScanSize, which it would answer ``OK`` unscanned), a remote clamd, or
one that answers it cannot read the copy, get the body by INSTREAM
instead.  The new verdict goes to the object servers of all replicas as
a verdict update (middleware.clamav_verdict.update_replicas).

Configuration, ``[object-rescanner]`` of the storage node config::

    [object-rescanner]
    # clamd: its config (socket and DatabaseDirectory are read from it),
    # or a socket / host + port (then the fingerprint is VERSION only)
    clamd_conf = /etc/clamav/clamd.conf
    # clamd_socket =
    # clamd_host =
    # clamd_port = 3310
    timeout = 10
    scan_timeout = 120
    max_scan_size = 512M
    files_per_second = 10
    bytes_per_second = 10000000
    interval = 3600
"""
import os
import time
import uuid

from objproxy.common import offload
from objproxy.common.backend_http import ConnectionPool
from objproxy.common.clamd import (
    CLAMD_DEFAULTS, ClamdAddress, ClamdCannotRead, ClamdError, parse_size,
    read_clamd_conf, signature_fingerprint)
from objproxy.common.config import get_float, get_int
from objproxy.common.exceptions import ConfigError
from objproxy.daemons.daemon import Daemon, RateLimiter
from objproxy.daemons.local_devs import is_local, list_partitions
from objproxy.storage import hashdir, layout, object_format
from middleware import clamav_verdict as av

CHUNK = 256 * 1024


MANIFEST_KEYS = frozenset(('x-static-large-object', 'x-object-manifest'))


def _info(path):
    """(metadata, body size) from the end of an object file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        info = object_format.read_info_fd(fd)
    finally:
        os.close(fd)
    return info.metadata, info.body_size


def read_verdict(hash_dir, info):
    """(metadata of the .data, body size, merged verdict keys)."""
    metadata, body_size = _info(os.path.join(hash_dir, info['data']))
    verdict = dict((k.lower(), v) for k, v in metadata.items()
                   if k.lower().startswith(av.SYSMETA_PREFIX))
    if info.get('meta'):
        meta, _size = _info(os.path.join(hash_dir, info['meta']))
        update = dict((k.lower(), v) for k, v in meta.items()
                      if k.lower().startswith(av.SYSMETA_PREFIX))
        if update:
            verdict = update
    return metadata, body_size, verdict


class ObjectRescanner(Daemon):
    name = 'object-rescanner'
    recon_file = 'object.recon'
    recon_key = 'object_rescanner'

    def __init__(self, conf, logger=None, object_ring=None):
        super().__init__(conf, logger)
        self.files_per_second = get_float(conf, 'files_per_second', 10,
                                          self.name, minimum=0)
        self.bytes_per_second = get_float(conf, 'bytes_per_second',
                                          10000000, self.name, minimum=0)
        self.interval = get_float(conf, 'interval', 3600, self.name,
                                  minimum=0)
        self.timeout = get_float(conf, 'timeout', 10, self.name,
                                 minimum=0.1)
        self.scan_timeout = get_float(conf, 'scan_timeout', 120, self.name,
                                      minimum=0.1)
        self.max_scan_size = parse_size(conf.get('max_scan_size', '512M'),
                                        '[%s] max_scan_size' % self.name)
        self.database_dir = None
        self.clamd_limits = dict(CLAMD_DEFAULTS)
        self.address = self._address(conf)
        #: cleared once clamd answers it cannot read our copies
        self.scan_on_disk = self.address.is_local
        self._object_ring = object_ring

    def _address(self, conf):
        socket_path = (conf.get('clamd_socket') or '').strip() or None
        host = (conf.get('clamd_host') or '').strip() or None
        port = get_int(conf, 'clamd_port', 3310, self.name, minimum=1,
                       maximum=65535)
        clamd_conf = (conf.get('clamd_conf') or '').strip() or None
        if clamd_conf:
            settings = read_clamd_conf(clamd_conf)
            self.clamd_limits.update((key, settings[key])
                                     for key in CLAMD_DEFAULTS)
            self.database_dir = settings.get('DatabaseDirectory') or None
            if not socket_path and not host:
                socket_path = settings.get('LocalSocket')
                if not socket_path and settings.get('TCPSocket'):
                    host = settings.get('TCPAddr') or '127.0.0.1'
                    port = int(settings['TCPSocket'])
        if not socket_path and not host:
            raise ConfigError('[%s] set clamd_conf, clamd_socket or '
                              'clamd_host' % self.name)
        return ClamdAddress(socket_path=socket_path, host=host, port=port,
                            timeout=self.timeout)

    @property
    def object_ring(self):
        if self._object_ring is None:
            self._object_ring = self.read_ring('object')
        return self._object_ring

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        stats = {'objects_checked': 0, 'current': 0, 'scanned': 0,
                 'clean': 0, 'infected': 0, 'oversize': 0, 'manifests': 0,
                 'manifests_marked': 0,
                 'bytes_scanned': 0, 'failures': 0, 'errors': 0}
        try:
            engine = self.address.version()
            current = signature_fingerprint(engine, self.database_dir)
        except ClamdError as err:
            self.logger.error('rescanner: clamd unavailable: %s', err)
            stats['errors'] += 1
            stats['elapsed'] = round(time.time() - begin, 3)
            return stats
        pool = ConnectionPool()
        files_limit = RateLimiter(self.files_per_second)
        bytes_limit = RateLimiter(self.bytes_per_second)
        try:
            for device in self.local_device_names(devices):
                self._device(device, partitions, engine, current, pool,
                             files_limit, bytes_limit, stats)
        finally:
            pool.close_all()
        stats['elapsed'] = round(time.time() - begin, 3)
        return stats

    def _rescans(self, device, part):
        """Whether this device rescans ``part``: when it holds the
        partition's first primary, and also when it holds no primary of it
        at all.  A handoff keeps what a PUT could not give a busy primary
        until replication moves it, and a read may find it there."""
        nodes = self.object_ring.get_part_nodes(part)
        mine = [index for index, node in enumerate(nodes)
                if node['device'] == device and is_local(node, self.conf)]
        return bool(nodes) and mine in ([], [0])

    def _device(self, device, partitions, engine, current, pool,
                files_limit, bytes_limit, stats):
        datadir = os.path.join(self.devices_root, device, layout.DATADIR)
        parts = sorted(list_partitions(datadir, partitions))
        for done, part in enumerate(parts):
            self.tick(device, done, len(parts))
            if not self._rescans(device, part):
                continue
            part_dir = os.path.join(datadir, str(part))
            for suffix in _listdir(part_dir):
                suffix_dir = os.path.join(part_dir, suffix)
                for name_hash in _listdir(suffix_dir):
                    hash_dir = os.path.join(suffix_dir, name_hash)
                    try:
                        self._object(hash_dir, engine, current, pool,
                                     files_limit, bytes_limit, stats)
                    except (OSError, ClamdError,
                            object_format.CorruptFile) as err:
                        stats['errors'] += 1
                        self.logger.error('rescanning %s: %s', hash_dir,
                                          err)

    def _object(self, hash_dir, engine, current, pool, files_limit,
                bytes_limit, stats):
        info = hashdir.gather_ondisk_files(_listdir(hash_dir))
        if not info.get('data'):
            return
        stats['objects_checked'] += 1
        files_limit.add()
        metadata, body_size, verdict = read_verdict(hash_dir, info)
        state = verdict.get(av.VERDICT)
        keys = set(k.lower() for k in metadata)
        if keys & MANIFEST_KEYS:
            stats['manifests'] += 1
            if 'x-static-large-object' in keys and state == av.CLEAN and \
                    verdict.get(av.SIGNATURES) != current:
                # its content lives on other nodes: the next read, which
                # scans an ``unscanned`` object in full under every policy
                # but never, judges it and records the verdict
                stats['manifests_marked'] += 1
                self._send_verdict(pool, metadata, stats, av.verdict_headers(
                    av.RESCAN_ON_READ, engine, current))
            return
        if state == av.INFECTED or (
                state == av.CLEAN and verdict.get(av.SIGNATURES) == current):
            stats['current'] += 1
            return
        if body_size > self.max_scan_size:
            stats['oversize'] += 1
            return
        bytes_limit.add(body_size)
        result = self.scan_body(os.path.join(hash_dir, info['data']),
                                body_size)
        stats['scanned'] += 1
        stats['bytes_scanned'] += body_size
        if result.status == 'FOUND':
            stats['infected'] += 1
            self.logger.warning(
                'rescanner: infected object found account=%s container=%s '
                'object=%s signature=%s',
                *(metadata['name'].split('/', 3)[1:] + [result.signature]))
            headers = av.verdict_headers(av.INFECTED, engine, current,
                                         result.signature)
        else:
            stats['clean'] += 1
            headers = av.verdict_headers(av.CLEAN, engine, current)
        self._send_verdict(pool, metadata, stats, headers)

    def _send_verdict(self, pool, metadata, stats, headers):
        """A verdict update for the upload ``metadata`` describes."""
        _slash, account, container, obj = metadata['name'].split('/', 3)
        took = av.update_replicas(pool, self.object_ring, account,
                                  container, obj, headers,
                                  self.conn_timeout, self.node_timeout,
                                  data_timestamp=metadata['X-Timestamp'])
        if not took:
            stats['failures'] += 1

    def scan_body(self, path, body_size):
        """clamd's Verdict on the first ``body_size`` bytes of ``path``."""
        whole_file_limit = min(self.clamd_limits['MaxFileSize'],
                               self.clamd_limits['MaxScanSize'])
        if self.scan_on_disk and body_size <= whole_file_limit:
            try:
                return self._scan_copy(path, body_size)
            except OSError as err:   # no room or no copy_file_range here
                self.logger.warning('rescanner: cannot copy %s (%s); '
                                    'streaming it', path, err)
            except ClamdCannotRead as err:
                self.scan_on_disk = False
                self.logger.warning('rescanner: clamd cannot read the '
                                    'body copies (%s); streaming instead',
                                    err)
        return self._stream(path, body_size)

    def _scan_copy(self, path, body_size):
        """SCAN by clamd of a body-only copy in the device's tmp dir (the
        same file system, so a reflink clone where it can be one)."""
        device_dir = path.rsplit(os.sep, 5)[0]
        copy = os.path.join(device_dir, layout.TMPDIR, '%srescan-%s.tmp'
                            % (layout.TMP_PREFIX, uuid.uuid4().hex))
        offload.run_in_thread(_copy_body, path, copy, body_size)
        try:
            return self.address.scan_file(copy, timeout=self.scan_timeout)
        finally:
            _unlink(copy)

    def _stream(self, path, body_size):
        """clamd's Verdict on the body sent by INSTREAM."""
        stream = self.address.instream(scan_timeout=self.scan_timeout)
        try:
            with open(path, 'rb') as fh:
                left = body_size
                while left > 0:
                    data = fh.read(min(CHUNK, left))
                    if not data:
                        raise ClamdError('%s: short body' % path)
                    stream.write(data)
                    left -= len(data)
            return stream.finish()
        finally:
            stream.close()


def _copy_body(path, copy, body_size):
    """Write the first ``body_size`` bytes of ``path`` to a new ``copy``,
    readable by clamd's user like the object files are."""
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    try:
        with open(path, 'rb') as src, open(copy, 'wb') as dst:
            os.fchmod(dst.fileno(), 0o644)
            left = body_size
            while left > 0:
                done = os.copy_file_range(src.fileno(), dst.fileno(), left)
                if not done:
                    raise ClamdError('%s: short body' % path)
                left -= done
    except BaseException:
        _unlink(copy)
        raise


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
