"""Which ring devices are served by this node, and partition jobs for them.

A replicator must know, for every partition directory it finds, whether its
device is a primary for it (sync with the other primaries) or a handoff
(push to every primary, then remove).  The ring names devices by ip, port
and device name; this node is identified by its ``bind_port`` (and
``bind_ip`` unless it listens on every address), which is what the
all-in-one cluster and Swift's own replicators rely on too.
"""
import os

from objproxy.common.config import get_int

ANY_ADDRESS = ('', '0.0.0.0', '::')


def is_local(dev, conf):
    """Does ring device ``dev`` live on the node configured by ``conf``?"""
    if dev is None:
        return False
    port = get_int(conf, 'bind_port', None)
    if port is not None and int(dev['port']) != port:
        return False
    bind_ip = (conf.get('bind_ip') or '').strip()
    if bind_ip and bind_ip not in ANY_ADDRESS and dev['ip'] != bind_ip:
        return False
    return True


def local_ring_devs(ring, conf, device_names):
    """{device name: ring dev} for this node's present devices."""
    wanted = set(device_names)
    found = {}
    for dev in ring.devs:
        if dev is not None and dev['device'] in wanted and is_local(dev,
                                                                    conf):
            found[dev['device']] = dev
    return found


def same_dev(a, b):
    return (a['ip'], int(a['port']), a['device']) == \
        (b['ip'], int(b['port']), b['device'])


def list_partitions(datadir, only=None):
    """Numeric partition directory names under ``datadir`` (ints)."""
    try:
        names = os.listdir(datadir)
    except OSError:
        return []
    parts = []
    for name in names:
        if name.isdigit() and name.isascii():
            part = int(name)
            if only is None or part in only:
                parts.append(part)
    return parts
