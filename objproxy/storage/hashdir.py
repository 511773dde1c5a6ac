"""What a hash directory holds: which files decide, which are obsolete.

Why it is its own module: the precedence rules are used by the reader,
the writer's cleanup, suffix hashing, the auditor and replication alike.

Precedence in a hash directory: the newest ``.data`` or ``.ts`` decides
whether the object exists; the newest ``.meta`` newer than that ``.data``
replaces its user metadata; everything else is obsolete.
"""
import os
import time

from objproxy.common.timestamp import Timestamp
from objproxy.storage.layout import DEFAULT_RECLAIM_AGE


def split_filename(filename):
    """(Timestamp, ext) of a ``<ts>.<ext>`` name, or (None, None)."""
    base, dot, ext = filename.rpartition('.')
    if not dot or ext not in ('data', 'ts', 'meta'):
        return None, None
    try:
        return Timestamp(base), ext
    except ValueError:
        return None, None


def gather_ondisk_files(filenames, reclaim_age=None, now=None):
    """Classify the names in a hash dir.

    Returns a dict with ``data``, ``ts``, ``meta`` (file names or None) and
    ``obsolete`` (names to delete).
    """
    result = {'data': None, 'ts': None, 'meta': None, 'obsolete': []}
    entries = []
    for name in filenames:
        ts, ext = split_filename(name)
        if ts is not None:
            entries.append((ts, ext, name))
    entries.sort(key=lambda e: (e[0], e[1] != 'meta'), reverse=True)
    decided = False
    for ts, ext, name in entries:
        if decided:
            result['obsolete'].append(name)
        elif ext == 'meta':
            if result['meta'] is None:
                result['meta'] = name
            else:
                result['obsolete'].append(name)
        else:
            result[ext] = name
            decided = True
    if result['ts'] is not None:
        # metadata updates of a deleted object mean nothing
        if result['meta']:
            result['obsolete'].append(result['meta'])
            result['meta'] = None
        if reclaim_age is not None:
            ts = split_filename(result['ts'])[0]
            if (now or time.time()) - float(ts) > reclaim_age:
                result['obsolete'].append(result['ts'])
                result['ts'] = None
    return result


def cleanup_ondisk_files(hash_dir, reclaim_age=DEFAULT_RECLAIM_AGE):
    """Remove obsolete files; remove the dir when empty. Returns the
    classification of what is left (dict as gather_ondisk_files)."""
    try:
        files = os.listdir(hash_dir)
    except FileNotFoundError:
        return gather_ondisk_files([])
    except NotADirectoryError:
        # something that is not a hash dir: quarantine-worthy, skip it
        return gather_ondisk_files([])
    info = gather_ondisk_files(files, reclaim_age)
    for name in info['obsolete']:
        try:
            os.unlink(os.path.join(hash_dir, name))
        except FileNotFoundError:
            pass
    if not (info['data'] or info['ts'] or info['meta']):
        try:
            os.rmdir(hash_dir)
        except OSError:
            pass
    info['files'] = sorted(f for f in (info['data'], info['ts'],
                                       info['meta']) if f)
    return info
