"""Per-partition suffix hashes: hashes.json, hashes.invalid, the lock.

Why it is its own module: replication compares partitions by these
hashes; a write only appends its suffix to hashes.invalid (cheap, under a
partition lock) and ``get_hashes`` folds those in and rehashes just the
changed suffixes.
"""
import fcntl
import hashlib
import json
import os
import time
import uuid

from objproxy.common.exceptions import DiskFileError
from objproxy.common.offload import pause
from objproxy.storage.hashdir import cleanup_ondisk_files
from objproxy.storage.layout import (
    DATADIR, DEFAULT_RECLAIM_AGE, HASHES_FILE, INVALID_FILE, LOCK_FILE)


class PartitionLock(object):
    """flock on ``<partition>/.lock`` guarding hashes.json/.invalid."""

    def __init__(self, partition_dir, timeout=10, blocking=False):
        self.path = os.path.join(partition_dir, LOCK_FILE)
        self.timeout = timeout
        self.blocking = blocking  # True in OS threads (tpool)
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if self.blocking:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return self
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.time() > deadline:
                    os.close(self.fd)
                    raise DiskFileError('timed out locking %s' % self.path)
                pause(0.001)      # green on the hub, plain in a thread

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock


def invalidate_hash(suffix_dir, blocking=False):
    """Record that a suffix changed; the next get_hashes recomputes it."""
    partition_dir = os.path.dirname(suffix_dir)
    suffix = os.path.basename(suffix_dir)
    try:
        with PartitionLock(partition_dir, blocking=blocking):
            fd = os.open(os.path.join(partition_dir, INVALID_FILE),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, suffix.encode('ascii') + b'\n')
            finally:
                os.close(fd)
    except FileNotFoundError:
        pass  # partition removed meanwhile: nothing to invalidate


def hash_suffix(suffix_dir, reclaim_age=DEFAULT_RECLAIM_AGE):
    """MD5 of the (cleaned-up) file names in a suffix, or None if empty."""
    try:
        hashes = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    md5 = hashlib.md5()
    found = False
    for name_hash in hashes:
        info = cleanup_ondisk_files(os.path.join(suffix_dir, name_hash),
                                    reclaim_age)
        for name in info['files']:
            md5.update(('%s/%s\n' % (name_hash, name)).encode('utf-8'))
            found = True
    if not found:
        try:
            os.rmdir(suffix_dir)
        except OSError:
            pass
        return None
    return md5.hexdigest()


def _load_hashes(partition_dir):
    try:
        with open(os.path.join(partition_dir, HASHES_FILE)) as fp:
            data = json.load(fp)
        if isinstance(data, dict) and data.get('version') == 1:
            return dict(data.get('hashes') or {}), True
    except (OSError, ValueError):
        pass
    return {}, False


def _save_hashes(partition_dir, hashes):
    """Replace hashes.json and drop hashes.invalid, whose suffixes the
    caller has folded into ``hashes`` (call it under the PartitionLock)."""
    tmp = os.path.join(partition_dir, '.%s.%s' % (HASHES_FILE,
                                                 uuid.uuid4().hex))
    with open(tmp, 'w') as fp:
        json.dump({'version': 1, 'hashes': hashes}, fp, sort_keys=True)
    os.rename(tmp, os.path.join(partition_dir, HASHES_FILE))
    try:
        os.unlink(os.path.join(partition_dir, INVALID_FILE))
    except FileNotFoundError:
        pass


def _consolidate(partition_dir, hashes):
    """Fold hashes.invalid into ``hashes`` (as None); returns those names."""
    path = os.path.join(partition_dir, INVALID_FILE)
    try:
        with open(path, 'rb') as fp:
            names = set(fp.read().decode('ascii', 'replace').split())
    except FileNotFoundError:
        return set()
    for suffix in names:
        hashes[suffix] = None
    return names


def _is_suffix(name):
    return len(name) == 3 and all(c in '0123456789abcdef' for c in name)


def get_hashes(device_path, partition, recalculate=(),
               reclaim_age=DEFAULT_RECLAIM_AGE):
    """{suffix: md5 of its file names} for one object partition.

    Suffixes written since the last call (hashes.invalid) and those named
    in ``recalculate`` are recomputed; the rest come from hashes.json.  The
    replicator imports this; REPLICATE serves it.
    """
    partition_dir = os.path.join(device_path, DATADIR, str(partition))
    if not os.path.isdir(partition_dir):
        return {}
    for _attempt in range(5):
        with PartitionLock(partition_dir):
            hashes, valid = _load_hashes(partition_dir)
            _consolidate(partition_dir, hashes)
            if not valid:
                hashes = dict((s, None) for s in os.listdir(partition_dir)
                              if _is_suffix(s))
            for suffix in recalculate:
                if _is_suffix(suffix):
                    hashes[suffix] = None
            _save_hashes(partition_dir, hashes)
        computed = {}
        for suffix, value in hashes.items():
            if value is None:
                computed[suffix] = hash_suffix(
                    os.path.join(partition_dir, suffix), reclaim_age)
        with PartitionLock(partition_dir):
            stored, _ = _load_hashes(partition_dir)
            again = _consolidate(partition_dir, stored)
            for suffix, value in computed.items():
                if suffix in again or stored.get(suffix, 0) is not None:
                    continue  # changed while we hashed: leave invalid
                if value is None:
                    stored.pop(suffix, None)
                else:
                    stored[suffix] = value
            _save_hashes(partition_dir, stored)
        if all(v is not None for v in stored.values()):
            return stored
    # a busy partition kept changing; hand back what we have
    return dict((s, v) for s, v in stored.items() if v is not None)
