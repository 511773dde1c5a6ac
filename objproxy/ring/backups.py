"""Timestamped copies of builder and ring files in ``backups/``.

Why: a builder is the only record of where every partition lives; a bad
``create --force``, rebalance or port change must be undoable by copying
a file back.  Every writer of builder and ring files (objproxy-ring-builder
and objproxy-aio) goes through ``replace``, which copies the file it is
about to overwrite into ``backups/`` beside it first (unless the newest
copy there already holds those bytes) and copies the new file afterwards,
so each state a file ever had is kept once, whoever wrote it.

Names are ``<unix time>.<file name>``, with ``-N`` after the time when
several copies of one file are made within a second, as swift-ring-builder
names its backups.
"""
import filecmp
import os
import shutil
import time

BACKUP_DIR = 'backups'


def backup_dir(path):
    return os.path.join(os.path.dirname(os.path.abspath(path)), BACKUP_DIR)


def _order(name):
    """Sort key of a backup name: (time, serial)."""
    stamp = name.split('.', 1)[0].split('-')
    try:
        return int(stamp[0]), int(stamp[1]) if len(stamp) > 1 else 0
    except ValueError:
        return -1, 0


def backups_of(path):
    """The backups of ``path``, oldest first."""
    directory = backup_dir(path)
    suffix = '.' + os.path.basename(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = [n for n in names if n.endswith(suffix) and _order(n)[0] >= 0 and
             n[:-len(suffix)].replace('-', '').isdigit()]
    return [os.path.join(directory, n) for n in sorted(found, key=_order)]


def backup(path):
    """Copy ``path`` into ``backups/``; the copy's path, or None when the
    file does not exist or its newest backup already holds the same bytes.
    OSError when the copy cannot be made."""
    if not os.path.isfile(path):
        return None
    existing = backups_of(path)
    if existing and filecmp.cmp(existing[-1], path, shallow=False):
        return None
    directory = backup_dir(path)
    os.makedirs(directory, exist_ok=True)
    stamp = '%d' % time.time()
    name = os.path.basename(path)
    target = os.path.join(directory, '%s.%s' % (stamp, name))
    serial = 1
    while os.path.exists(target):
        target = os.path.join(directory, '%s-%d.%s' % (stamp, serial, name))
        serial += 1
    shutil.copy2(path, target)
    return target


def replace(path, write):
    """``write(path)``, keeping the state before and after in backups/.

    The old file is copied first: if that fails (OSError), nothing is
    written.
    """
    backup(path)
    write(path)
    backup(path)
