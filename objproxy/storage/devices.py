"""Which device and partition a storage request may touch.

Every storage layer (objects, containers, accounts) turns the first two
path segments into a directory under the devices root.  Doing that check in
one place means no layer can be talked into a path outside the root (``..``,
``/``, NUL, bad UTF-8) and all layers agree on what "device missing" means:
without ``mount_check`` a device is present when ``<devices>/<device>`` is a
directory; with it, it must also be a mount point (an unmounted device
would otherwise fill the root filesystem).
"""
import os

from objproxy.common.exceptions import DeviceUnavailable

MAX_PARTITION = 2 ** 32


class InvalidPath(ValueError):
    """The device or partition is malformed (a 400, message is safe)."""


def check_device_name(device):
    if not device or not isinstance(device, str):
        raise InvalidPath('Invalid device name')
    if (device in ('.', '..') or '/' in device or '\x00' in device or
            '\\' in device):
        raise InvalidPath('Invalid device name %r' % device)
    try:
        device.encode('utf-8')
    except UnicodeEncodeError:
        raise InvalidPath('Invalid device name (bad UTF-8)')
    return device


def validate_device(devices_root, device, mount_check=False):
    """Absolute path of a present device, else InvalidPath/DeviceUnavailable.

    InvalidPath means the name itself is bad (answer 400);
    DeviceUnavailable means it is fine but not there (answer 507).
    """
    check_device_name(device)
    root = os.path.abspath(devices_root)
    path = os.path.join(root, device)
    # belt and braces: the joined path must still be a direct child
    if os.path.dirname(path) != root:
        raise InvalidPath('Invalid device name %r' % device)
    if mount_check:
        if not os.path.ismount(path):
            raise DeviceUnavailable('%s is not mounted' % device)
    elif not os.path.isdir(path):
        raise DeviceUnavailable('%s is not present' % device)
    return path


def check_partition(part):
    """The partition as an int in [0, 2**32), else InvalidPath."""
    if isinstance(part, int) and not isinstance(part, bool):
        value = part
    else:
        text = str(part) if part is not None else ''
        if not text.isdigit() or not text.isascii():
            raise InvalidPath('Invalid partition %r' % (part,))
        if len(text) > 10:
            raise InvalidPath('Partition out of range')
        value = int(text)
    if not 0 <= value < MAX_PARTITION:
        raise InvalidPath('Partition out of range')
    return value
