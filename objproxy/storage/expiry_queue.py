"""The per-device queue of objects that carry an ``X-Delete-At``.

Why a local queue: every replica's node records, when it stores an object
(or a POST) with an expiry, one small entry on the same device.  The
node's expirer later deletes *its own* replica when the time comes, with a
tombstone timestamped at the expiry itself, so every replica writes the
same tombstone and the deletion is idempotent.  The work is spread over
the nodes by construction (each node expires what it holds), needs no
shared queue account, and survives outages: a node that was down expires
its replicas when it returns, and the others' tombstones reach it by
replication anyway.

Layout, under the device::

    expiring/<hour>/<delete_at>-<name hash>

``<hour>`` is ``delete_at`` rounded down to the hour, so a pass lists only
the directories that are due.  An entry holds the object's names and
partition as JSON, and the timestamp of the replica state (the PUT, POST
or replicated file) that set this expiry: the expirer skips the expiry if
another replica holds a newer state without it.  A changed expiry writes
another entry and the old one is dropped by the expirer, whose delete is
conditional on the expiry it was queued for (``X-If-Delete-At``);
queueing the same expiry again rewrites the same entry (idempotent).
Entries written before timestamps were recorded have none.
"""
import json
import os
import uuid

from objproxy.common.timestamp import Timestamp

QUEUE_DIR = 'expiring'
BUCKET_SECONDS = 3600


def bucket_of(delete_at):
    return int(delete_at) // BUCKET_SECONDS * BUCKET_SECONDS


def entry_path(device_path, delete_at, name_hash):
    return os.path.join(device_path, QUEUE_DIR, str(bucket_of(delete_at)),
                        '%010d-%s' % (int(delete_at), name_hash))


def enqueue(device_path, delete_at, name_hash, partition, account,
            container, obj, fsync=True, timestamp=None):
    """Record (or record again) that this replica expires at
    ``delete_at``, as set by the state written at ``timestamp`` (internal
    form); durable before the write that asked for it is acknowledged."""
    path = entry_path(device_path, delete_at, name_hash)
    fields = {'account': account, 'container': container, 'obj': obj,
              'partition': str(partition), 'delete_at': int(delete_at)}
    if timestamp is not None:
        fields['timestamp'] = str(timestamp)
    record = json.dumps(fields, sort_keys=True)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = '%s.%s.tmp' % (path, uuid.uuid4().hex)
    with open(tmp, 'wb') as fp:
        fp.write(record.encode('utf-8'))
        if fsync:
            fp.flush()
            os.fsync(fp.fileno())
    os.replace(tmp, path)
    if fsync:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


class Entry(object):
    """One queued expiry, read back from disk."""

    def __init__(self, path, record):
        self.path = path
        self.account = record['account']
        self.container = record['container']
        self.obj = record['obj']
        self.partition = str(record['partition'])
        self.delete_at = int(record['delete_at'])
        # the state that set this expiry (None in entries from before
        # timestamps were recorded)
        stamp = record.get('timestamp')
        self.timestamp = None if stamp is None else Timestamp(stamp)

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def due_entries(device_path, now, on_error=None):
    """Entries of this device whose time has come, oldest first.  An
    unreadable entry is reported to ``on_error(path, err)`` and skipped
    (left in place for an operator to look at)."""
    root = os.path.join(device_path, QUEUE_DIR)
    for bucket in _sorted_ints(root):
        if bucket > now:
            break
        bucket_dir = os.path.join(root, str(bucket))
        for name in sorted(_listdir(bucket_dir)):
            if name.endswith('.tmp'):
                continue
            try:
                delete_at = int(name.partition('-')[0])
            except ValueError:
                delete_at = None
            if delete_at is not None and delete_at > now:
                break   # names sort by time within a bucket
            path = os.path.join(bucket_dir, name)
            try:
                with open(path, 'rb') as fp:
                    yield Entry(path, json.loads(fp.read().decode('utf-8')))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError,
                    OverflowError) as err:
                if on_error is not None:
                    on_error(path, err)
        try:
            os.rmdir(bucket_dir)    # only succeeds once it is empty
        except OSError:
            pass


def _sorted_ints(path):
    return sorted(int(name) for name in _listdir(path) if name.isdigit())


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []
