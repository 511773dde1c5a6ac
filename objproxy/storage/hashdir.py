"""What a hash directory holds: which files decide, which are obsolete.

Why it is its own module: the precedence rules are used by the reader,
the writer's cleanup, suffix hashing, the auditor and replication alike.

Precedence in a hash directory: the newest ``.data`` or ``.ts`` decides
whether the object exists; the newest ``.meta`` newer than that ``.data``
replaces its user metadata; everything else is obsolete.

A ``.meta`` that carries a content type (a POST with Content-Type, or a
later POST carrying an earlier one's forward) is named
``<meta ts>-<content-type ts>.meta``.  The name alone then tells two
replicas' ``.meta`` files of the same POST apart when only one of them
knew of an earlier content-type change, so their suffix hashes differ and
replication converges on the one that knows more: among ``.meta`` files
of the same timestamp the newer content-type timestamp wins.
"""
import os
import time

from objproxy.common.timestamp import Timestamp
from objproxy.storage.layout import DEFAULT_RECLAIM_AGE


def _parse(filename):
    """(Timestamp, ext, content-type Timestamp or None) of a file name;
    (None, None, None) when it is not an object file."""
    base, dot, ext = filename.rpartition('.')
    if not dot or ext not in ('data', 'ts', 'meta'):
        return None, None, None
    ctype = None
    if ext == 'meta' and '-' in base:
        base, _, ctype_text = base.partition('-')
        try:
            ctype = Timestamp(ctype_text)
        except (ValueError, TypeError):
            return None, None, None
        if ctype_text != ctype.internal:
            return None, None, None
    try:
        ts = Timestamp(base)
    except (ValueError, TypeError):
        return None, None, None
    if ctype is not None and ctype > ts:
        return None, None, None   # a content type newer than its POST
    return ts, ext, ctype


def split_filename(filename):
    """(Timestamp, ext) of a ``<ts>.<ext>`` name (a ``.meta`` may be
    ``<ts>-<content-type ts>.meta``), or (None, None)."""
    return _parse(filename)[:2]


def meta_filename(timestamp, content_type_timestamp=None):
    """The name of a ``.meta`` written at ``timestamp``, carrying a
    content type set at ``content_type_timestamp`` (if any)."""
    name = Timestamp(timestamp).internal
    if content_type_timestamp is not None:
        name += '-' + Timestamp(content_type_timestamp).internal
    return name + '.meta'


def content_type_timestamp(filename):
    """The content-type Timestamp a ``.meta`` name carries, else None."""
    return _parse(filename)[2]


def gather_ondisk_files(filenames, reclaim_age=None, now=None):
    """Classify the names in a hash dir.

    Returns a dict with ``data``, ``ts``, ``meta`` (file names or None) and
    ``obsolete`` (names to delete).
    """
    result = {'data': None, 'ts': None, 'meta': None, 'obsolete': []}
    entries = []
    zero = Timestamp(0)
    for name in filenames:
        ts, ext, ctype = _parse(name)
        if ts is not None:
            entries.append((ts, ext, ctype or zero, name))
    # newest first; at one timestamp a .data/.ts before a .meta (which is
    # then obsolete), and of two .meta the one with the newer content type
    entries.sort(key=lambda e: (e[0], e[1] != 'meta', e[2], e[3]),
                 reverse=True)
    decided = False
    for ts, ext, _ctype, name in entries:
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
    except (FileNotFoundError, NotADirectoryError):
        # gone since it was listed, or a stray file where a hash dir
        # belongs: nothing of an object here, so nothing to hash
        return dict(gather_ondisk_files([]), files=[])
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
