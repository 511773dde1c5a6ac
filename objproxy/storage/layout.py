"""Where object files live on a device, and the names that say so.

Why it is its own module: the directory layout is shared by the reader and
writer (diskfile.py), the suffix hashes, quarantine and the daemons; one
place names every directory and file so they cannot drift apart.

Layout (Swift's)::

    <device>/objects/<partition>/<suffix>/<hash>/<timestamp>.data|.ts|.meta
    <device>/objects/<partition>/hashes.json      per-suffix hashes
    <device>/objects/<partition>/hashes.invalid   suffixes written since
    <device>/tmp/objw-<random>.tmp                uploads in progress
    <device>/quarantined/objects/<hash>[-<random>]/

``<hash>`` is ``hash_path(a, c, o)``, ``<suffix>`` its last three hex
digits, ``<timestamp>`` ``Timestamp.internal`` (file names sort by age).
"""
import errno

DATADIR = 'objects'
TMPDIR = 'tmp'
QUARANTINE = 'quarantined'
HASHES_FILE = 'hashes.json'
INVALID_FILE = 'hashes.invalid'
LOCK_FILE = '.lock'
TMP_PREFIX = 'objw-'
DEFAULT_RECLAIM_AGE = 7 * 24 * 3600
# Swift's keep_cache_size: bigger uploads leave the page cache once synced
DEFAULT_KEEP_CACHE_SIZE = 5 * 1024 * 1024
NOSPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
