"""Durable directory changes: fsync a directory, mkdir -p with fsyncs.

Why it is its own module: a rename or a new directory survives a crash
only once its parent directory is fsynced; the writer, quarantine and
replication all need exactly these two steps.
"""
import os


def fsync_dir(path):
    """fsync a directory, so the renames and new entries in it survive a
    crash.  A failed fsync (EIO: the disk lost the update) raises: the
    write it was for must not be acknowledged.  A directory that is gone
    has nothing left to make durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_fsynced(path, fsync=True):
    """mkdir -p, fsyncing the parent of every directory it created.

    Returns the created directories (deepest first); with ``fsync=False``
    the caller fsyncs their parents later (after one journal commit on
    ext4 those fsyncs are nearly free, so it pays to do them last).
    """
    created = []
    probe = path
    while not os.path.isdir(probe):
        created.append(probe)
        probe = os.path.dirname(probe)
    for directory in reversed(created):
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
    if fsync:
        for directory in created:
            fsync_dir(os.path.dirname(directory))
    return created
