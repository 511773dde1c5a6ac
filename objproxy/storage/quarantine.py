"""Moving bad objects aside and removing orphaned upload files.

Why it is its own module: both are housekeeping outside the normal
read/write path, called by the reader (corrupt file), the auditor and
the servers at start-up.
"""
import errno
import fcntl
import os
import time
import uuid

from objproxy.storage.dirsync import fsync_dir, makedirs_fsynced
from objproxy.storage.layout import DATADIR, QUARANTINE, TMP_PREFIX, TMPDIR
from objproxy.storage.suffix_hashes import invalidate_hash


def quarantine_dir(device_path, hash_dir):
    """Move a whole hash dir to quarantine; returns the new path."""
    name_hash = os.path.basename(hash_dir)
    qroot = os.path.join(device_path, QUARANTINE, DATADIR)
    makedirs_fsynced(qroot)
    target = os.path.join(qroot, name_hash)
    try:
        os.rename(hash_dir, target)
    except OSError as err:
        if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        target = '%s-%s' % (target, uuid.uuid4().hex)
        os.rename(hash_dir, target)
    # both ends of the move, so a crash neither brings the damaged copy
    # back into service nor loses the evidence
    fsync_dir(qroot)
    fsync_dir(os.path.dirname(hash_dir))
    invalidate_hash(os.path.dirname(hash_dir))
    return target


def clean_tmp(device_path, max_age=86400):
    """Remove our orphaned temp files; returns how many were removed.

    A live writer holds an flock on its temp file, so any temp file that can
    be locked belongs to a dead process.  Files older than ``max_age`` are
    removed even if locked (a writer that wrote nothing for that long is
    stuck).
    """
    tmp_dir = os.path.join(device_path, TMPDIR)
    try:
        names = os.listdir(tmp_dir)
    except OSError:
        return 0
    removed = 0
    now = time.time()
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        path = os.path.join(tmp_dir, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                orphan = True
            except BlockingIOError:
                orphan = now - os.fstat(fd).st_mtime > max_age
            if orphan:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
        finally:
            os.close(fd)
    return removed
