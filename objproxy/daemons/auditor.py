"""Auditor: find silent corruption before a client or a replica does.

It re-reads every object file at a bounded rate (``files_per_second``,
``bytes_per_second``: the disks serve clients first), checks the trailer
and metadata, the body size against ``Content-Length`` and the body
itself: each block against its CRC32C in a version-2 file, the whole
body's MD5 against ``ETag`` in a version-1 file.  A bad file's hash
directory is moved to ``<device>/quarantined/objects/`` and its suffix
hash invalidated, so the next replication pass sees the difference and a
good replica is pushed back.  The zero-byte fast pass (``zero_byte_fps``)
checks only empty objects, and only their metadata, at a high rate, as
Swift's ZBF auditor does: cheap files get checked often while the full
pass takes its time.

Databases are checked with SQLite's ``PRAGMA integrity_check``; a corrupt
one is moved to ``<device>/quarantined/<containers|accounts>/`` so the
database replicator pushes a good copy back.  Tombstones older than
``reclaim_age`` met on the way are reaped (their suffix rehashed).
"""
import hashlib
import os
import sqlite3
import time
import uuid

from objproxy.common.config import get_bool, get_float, get_int
from objproxy.daemons.daemon import Daemon, RateLimiter
from objproxy.daemons.db_replicator import iter_db_files
from objproxy.daemons.local_devs import list_partitions
from objproxy.storage.hashdir import cleanup_ondisk_files, gather_ondisk_files
from objproxy.storage.layout import DATADIR, DEFAULT_RECLAIM_AGE, QUARANTINE
from objproxy.storage.object_format import (
    CorruptFile, find_bad_block, read_info_fd)
from objproxy.storage.quarantine import quarantine_dir
from objproxy.storage.suffix_hashes import invalidate_hash

EMPTY_MD5 = hashlib.md5(b'').hexdigest()
CHUNK = 65536


def audit_file(path, zero_byte_only=False):
    """None if ``path`` is sound, else why it is not.

    ``zero_byte_only``: skip (return None for) any file with a body.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        try:
            info = read_info_fd(fd, size)
        except CorruptFile as err:
            return str(err)
        metadata, body_size = info.metadata, info.body_size
        ext = path.rpartition('.')[2]
        if ext != 'data':
            return None if body_size == 0 else 'tombstone/meta with a body'
        clen = metadata.get('Content-Length')
        if clen is None or str(clen) != str(body_size):
            return 'size %d != Content-Length %s' % (body_size, clen)
        etag = str(metadata.get('ETag', '')).strip('"').lower()
        if body_size == 0:
            return None if etag in ('', EMPTY_MD5) else 'bad ETag of empty'
        if zero_byte_only:
            return None
        if info.block_size:
            # the MD5 is not recomputed: the block checksums were taken
            # from the same bytes as the ETag was
            bad = find_bad_block(fd, info, CHUNK)
            if bad is not None:
                return 'block checksum mismatch at byte %d' % bad
            return None
        md5 = hashlib.md5()
        pos = 0
        while pos < body_size:
            data = os.pread(fd, min(CHUNK, body_size - pos), pos)
            if not data:
                return 'short read'
            md5.update(data)
            pos += len(data)
        if etag and md5.hexdigest() != etag:
            return 'MD5 %s != ETag %s' % (md5.hexdigest(), etag)
        return None
    finally:
        os.close(fd)


class ObjectAuditor(Daemon):
    name = 'object-auditor'
    recon_file = 'object.recon'

    def __init__(self, conf, logger=None, zero_byte_fps=None):
        super().__init__(conf, logger)
        self.files_per_second = get_float(conf, 'files_per_second', 20,
                                          self.name, minimum=0)
        self.bytes_per_second = get_float(conf, 'bytes_per_second',
                                          10000000, self.name, minimum=0)
        self.zero_byte_fps = zero_byte_fps if zero_byte_fps is not None \
            else get_float(conf, 'zero_byte_files_per_second', 0, self.name,
                           minimum=0)
        self.reclaim_age = get_int(conf, 'reclaim_age',
                                   DEFAULT_RECLAIM_AGE, self.name,
                                   minimum=1)
        self.audit_dbs = get_bool(conf, 'audit_databases', True)
        self.interval = get_float(conf, 'interval', 30.0, self.name,
                                  minimum=0)

    @property
    def recon_key(self):
        return 'object_auditor_%s' % ('zbf' if self.zero_byte_fps else
                                      'all')

    def run_once(self, devices=None, partitions=None):
        begin = time.time()
        stats = {'files_checked': 0, 'bytes_checked': 0, 'quarantined': 0,
                 'tombstones_reclaimed': 0, 'dbs_checked': 0,
                 'dbs_quarantined': 0, 'errors': 0}
        zbf = bool(self.zero_byte_fps)
        files_limit = RateLimiter(self.zero_byte_fps if zbf
                                  else self.files_per_second)
        bytes_limit = RateLimiter(0 if zbf else self.bytes_per_second)
        for device in self.local_device_names(devices):
            device_path = os.path.join(self.devices_root, device)
            self.audit_objects(device_path, partitions, stats, files_limit,
                               bytes_limit, zbf)
            if self.audit_dbs and not zbf:
                for datadir in ('containers', 'accounts'):
                    self.audit_databases(device_path, datadir, partitions,
                                         stats, files_limit)
        stats['elapsed'] = round(time.time() - begin, 3)
        return stats

    # -- objects -------------------------------------------------------------
    def audit_objects(self, device_path, partitions, stats, files_limit,
                      bytes_limit, zbf):
        datadir = os.path.join(device_path, DATADIR)
        parts = sorted(list_partitions(datadir, partitions))
        device = os.path.basename(device_path)
        for done, part in enumerate(parts):
            self.tick(device, done, len(parts))
            part_dir = os.path.join(datadir, str(part))
            for suffix in _listdir(part_dir):
                if len(suffix) != 3:
                    continue
                suffix_dir = os.path.join(part_dir, suffix)
                reclaimed = False
                for name_hash in _listdir(suffix_dir):
                    hash_dir = os.path.join(suffix_dir, name_hash)
                    try:
                        reclaimed |= self.audit_hash_dir(
                            device_path, hash_dir, stats, files_limit,
                            bytes_limit, zbf)
                    except OSError as err:
                        stats['errors'] += 1
                        self.logger.error('auditing %s: %s', hash_dir, err)
                if reclaimed:
                    invalidate_hash(suffix_dir)

    def audit_hash_dir(self, device_path, hash_dir, stats, files_limit,
                       bytes_limit, zbf):
        """Audit one object; True if tombstones were reaped."""
        before = _listdir(hash_dir)
        info = gather_ondisk_files(before, self.reclaim_age)
        reclaimed = False
        if info['ts'] is None and any(name.endswith('.ts') for name in
                                      info['obsolete']) and not zbf:
            cleanup_ondisk_files(hash_dir, self.reclaim_age)
            stats['tombstones_reclaimed'] += 1
            reclaimed = True
        for name in (info['data'], info['ts'], info['meta']):
            if not name:
                continue
            path = os.path.join(hash_dir, name)
            problem = audit_file(path, zero_byte_only=zbf)
            stats['files_checked'] += 1
            files_limit.add()
            if not zbf:
                try:
                    size = os.path.getsize(path)
                except OSError:
                    size = 0
                stats['bytes_checked'] += size
                bytes_limit.add(size)
            if problem:
                self.logger.error('quarantining %s: %s', hash_dir, problem)
                try:
                    quarantine_dir(device_path, hash_dir)
                except FileNotFoundError:
                    pass
                stats['quarantined'] += 1
                break
        return reclaimed

    # -- databases -----------------------------------------------------------
    def audit_databases(self, device_path, datadir, partitions, stats,
                        files_limit):
        root = os.path.join(device_path, datadir)
        for _part, name_hash, path in iter_db_files(root, partitions):
            problem = check_database(path)
            stats['dbs_checked'] += 1
            files_limit.add()
            if problem:
                self.logger.error('quarantining database %s: %s', path,
                                  problem)
                quarantine_db(device_path, datadir, path)
                stats['dbs_quarantined'] += 1


def check_database(path):
    """None if SQLite's integrity_check passes, else the complaint."""
    try:
        conn = sqlite3.connect(path, timeout=25)
        try:
            rows = conn.execute('PRAGMA integrity_check').fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return str(err)
    if rows and rows[0][0] == 'ok':
        return None
    return '; '.join(str(r[0]) for r in rows[:5]) or 'no answer'


def quarantine_db(device_path, datadir, path):
    hash_dir = os.path.dirname(path)
    qroot = os.path.join(device_path, QUARANTINE, datadir)
    os.makedirs(qroot, exist_ok=True)
    target = os.path.join(qroot, os.path.basename(hash_dir))
    if os.path.exists(target):
        target += '-' + uuid.uuid4().hex
    try:
        os.rename(hash_dir, target)
    except FileNotFoundError:
        return None
    return target


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
