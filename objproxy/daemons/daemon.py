"""What every background daemon shares: config, loop, logging, recon stats.

A daemon is a ``run_once()`` that walks this node's devices and returns a
dict of totals.  ``run_forever`` repeats it every ``interval`` seconds (the
pass time counts towards the interval, as in Swift), logs the totals and
writes them to a recon cache file so ``objproxy-recon`` and operators can
see how far the node is from converged without reading logs.

Daemons read their own section of the storage node's paste config
(``[object-replicator]`` ...) with ``[DEFAULT]`` underneath it, so
``devices``, ``objproxy_dir`` and ``bind_port`` are set once per node.

A daemon shares its node's CPUs and disks with the servers answering
clients, so it can run at a lower priority (Swift's options and meanings;
unset means "leave as started")::

    nice_priority = 10                 # -20 .. 19, os.nice-style niceness
    ionice_class = IOPRIO_CLASS_IDLE   # or IOPRIO_CLASS_BE / IOPRIO_CLASS_RT
    ionice_priority = 7                # 0 .. 7 within BE/RT; ignored by IDLE

Put them in the daemon's own section, not ``[DEFAULT]``: every section of
the node's file inherits ``[DEFAULT]``, the object server included.
"""
import ctypes
import ctypes.util
import json
import os
import platform
import sys
import time
import uuid

from objproxy.common.config import (
    check_options, get_bool, get_float, get_int, read_conf_file)
from objproxy.common.exceptions import ConfigError
from objproxy.common.hashing import load_hash_config
from objproxy.common.logs import get_logger
from objproxy.daemons import options
from objproxy.ring.ring import Ring


def load_section(conf_path, section):
    """[DEFAULT] merged with ``section`` (which may be absent) as a dict;
    ConfigError for a key of a daemon's section that daemon does not read
    (``objproxy.daemons.options``)."""
    parser = read_conf_file(conf_path)
    defaults = dict(parser.defaults())
    conf = dict(defaults)
    if parser.has_section(section):
        own = dict(parser.items(section))
        known = options.BY_SECTION.get(section)
        if known is not None:
            check_options(section, own, defaults, known)
        conf.update(own)
    conf['__file__'] = conf_path
    conf['here'] = os.path.dirname(os.path.abspath(conf_path))
    return conf


def dump_recon(cache_path, filename, values):
    """Merge ``values`` into ``<cache_path>/<filename>`` atomically.

    Several daemons share one file (object.recon holds replicator, auditor
    and updater keys), so read-merge-rename rather than overwrite.
    """
    if not cache_path:
        return None
    path = os.path.join(cache_path, filename)
    try:
        with open(path) as fp:
            current = json.load(fp)
        if not isinstance(current, dict):
            current = {}
    except (OSError, ValueError):
        current = {}
    current.update(values)
    try:
        os.makedirs(cache_path, exist_ok=True)
        tmp = '%s.%s.tmp' % (path, uuid.uuid4().hex)
        with open(tmp, 'w') as fp:
            json.dump(current, fp, sort_keys=True, indent=1)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


IOPRIO_CLASSES = {'IOPRIO_CLASS_RT': 1, 'IOPRIO_CLASS_BE': 2,
                  'IOPRIO_CLASS_IDLE': 3}
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_SHIFT = 13
# ioprio_set(2) has no libc wrapper; its number per architecture
IOPRIO_SET_SYSCALL = {'x86_64': 251, 'aarch64': 30, 'i386': 289,
                      'i686': 289, 'armv7l': 314, 'ppc64le': 273,
                      's390x': 282}


def priority_options(conf, section=''):
    """(nice, ioprio class number, ioprio level) from the config, each
    None when unset; ConfigError on a value Swift would not accept."""
    nice = None
    if str(conf.get('nice_priority', '')).strip():
        nice = get_int(conf, 'nice_priority', 0, section, minimum=-20,
                       maximum=19)
    klass = None
    name = str(conf.get('ionice_class', '')).strip()
    if name:
        if name not in IOPRIO_CLASSES:
            raise ConfigError('%s: ionice_class must be one of %s, not %r' % (
                section or 'DEFAULT', ', '.join(sorted(IOPRIO_CLASSES)),
                name))
        klass = IOPRIO_CLASSES[name]
    level = None
    if str(conf.get('ionice_priority', '')).strip():
        level = get_int(conf, 'ionice_priority', 0, section, minimum=0,
                        maximum=7)
    return nice, klass, level


def ioprio_set(klass, level):
    """Set this process's I/O scheduling class and level (Linux)."""
    number = IOPRIO_SET_SYSCALL.get(platform.machine())
    if number is None:
        raise OSError('ioprio_set: unknown syscall on %s' %
                      platform.machine())
    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
    value = (klass << IOPRIO_CLASS_SHIFT) | level
    if libc.syscall(number, IOPRIO_WHO_PROCESS, 0, value) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def modify_priority(options, logger):
    """Apply ``priority_options``' result to this process, as Swift does:
    a failure (no permission to raise a priority, say) is logged, and the
    daemon runs on at the priority it has."""
    nice, klass, level = options
    if nice is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        except OSError as err:
            logger.warning('unable to set nice_priority %s: %s', nice, err)
    if klass is None:
        if level is not None:
            logger.warning('ionice_priority is ignored without '
                           'ionice_class')
        return
    if klass == IOPRIO_CLASSES['IOPRIO_CLASS_IDLE']:
        level = 0  # the idle class has no levels
    elif level is None:
        level = 0  # Swift's default ionice_priority
    try:
        ioprio_set(klass, level)
    except OSError as err:
        logger.warning('unable to set ionice class %s priority %s: %s',
                       klass, level, err)


class RateLimiter(object):
    """Sleep so that ``count`` stays under ``rate`` per second."""

    def __init__(self, rate):
        self.rate = rate
        self.start = time.time()
        self.count = 0

    def add(self, amount=1):
        self.count += amount
        if self.rate <= 0:
            return
        due = self.start + self.count / float(self.rate)
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            # we were idle a while: don't burst to catch up
            self.start = time.time()
            self.count = 0


class Progress(object):
    """One self-overwriting line on a terminal while a long pass runs.

    Only ever made for a TTY (``for_terminal``): logs and pipes get the
    totals, never a stream of carriage returns.
    """

    def __init__(self, stream, label, every=0.5):
        self.stream = stream
        self.label = label
        self.every = every
        self.last = 0.0
        self.shown = False

    @classmethod
    def for_terminal(cls, label, stream=None):
        stream = stream or sys.stderr
        return cls(stream, label) if stream.isatty() else None

    def update(self, where, done, total=None, unit='partitions'):
        now = time.monotonic()
        if now - self.last < self.every and (total is None or done < total):
            return
        self.last = now
        count = '%d/%d' % (done, total) if total is not None else '%d' % done
        self.stream.write('\r\x1b[K%s: %s %s %s' % (self.label, where,
                                                     count, unit))
        self.stream.flush()
        self.shown = True

    def finish(self):
        if self.shown:
            self.stream.write('\r\x1b[K')
            self.stream.flush()
            self.shown = False


def summarize(name, stats):
    """``stats`` as one short sentence: the counts that are not zero
    (failures and errors always), then the time taken."""
    parts = []
    for key in sorted(stats, key=lambda k: (k in ('failures', 'errors'), k)):
        value = stats[key]
        if key == 'elapsed' or isinstance(value, bool) or \
                not isinstance(value, int):
            continue
        if value or key in ('failures', 'errors'):
            parts.append('%d %s' % (value, key.replace('_', ' ')))
    elapsed = stats.get('elapsed')
    tail = ' in %.1fs' % elapsed if isinstance(elapsed, (int, float)) else ''
    return '%s: %s%s' % (name, ', '.join(parts) or 'nothing to do', tail)


class Daemon(object):
    """Base: subclasses set ``name`` and ``recon_file`` and implement
    ``run_once(devices=None, partitions=None) -> dict``."""

    name = 'daemon'
    recon_file = 'object.recon'
    recon_key = None

    def __init__(self, conf, logger=None):
        self.conf = conf
        self.logger = logger or get_logger(conf, log_route=self.name)
        self.devices_root = conf.get('devices', '/srv/node')
        self.mount_check = get_bool(conf, 'mount_check', False)
        self.objproxy_dir = conf.get('objproxy_dir', '/etc/objproxy')
        self.interval = get_float(conf, 'interval', 30.0, self.name,
                                  minimum=0)
        self.recon_cache_path = conf.get('recon_cache_path',
                                         self.devices_root)
        self.conn_timeout = get_float(conf, 'conn_timeout', 0.5, self.name,
                                      minimum=0.01)
        self.node_timeout = get_float(conf, 'node_timeout', 10.0, self.name,
                                      minimum=0.01)
        self.fsync = get_bool(conf, 'fsync', True)
        self.concurrency = get_int(conf, 'concurrency', 1, self.name,
                                   minimum=1)
        #: a Progress while someone watches on a terminal, else None
        self.progress = None
        #: nice_priority / ionice_class / ionice_priority, checked now,
        #: applied when the daemon starts running (``apply_priority``)
        self.priority = priority_options(conf, self.name)


    def read_ring(self, ring_name):
        """A ring of this node's ``objproxy_dir``, with the cluster's hash
        prefix/suffix loaded first (ring lookups hash names)."""
        load_hash_config(self.objproxy_dir)
        return Ring(self.objproxy_dir, ring_name=ring_name)
    def apply_priority(self):
        """Lower (or raise) this process's CPU and I/O priority as
        configured; called once when the daemon starts its work."""
        modify_priority(self.priority, self.logger)

    def tick(self, where, done, total=None, unit='partitions'):
        if self.progress is not None:
            self.progress.update(where, done, total, unit)

    # -- devices -----------------------------------------------------------
    def local_device_names(self, only=None):
        """Device directories present under the devices root."""
        try:
            names = sorted(os.listdir(self.devices_root))
        except OSError:
            return []
        result = []
        for name in names:
            if only and name not in only:
                continue
            path = os.path.join(self.devices_root, name)
            if not os.path.isdir(path):
                continue
            if self.mount_check and not os.path.ismount(path):
                self.logger.warning('skipping %s: not mounted', path)
                continue
            result.append(name)
        return result

    # -- running -----------------------------------------------------------
    def run_once(self, devices=None, partitions=None):
        raise NotImplementedError

    def report(self, stats):
        """Log the totals of a pass and write them to the recon cache."""
        self.logger.info('%s pass done: %s', self.name, ', '.join(
            '%s=%s' % (k, stats[k]) for k in sorted(stats)))
        key = self.recon_key or self.name.replace('-', '_')
        dump_recon(self.recon_cache_path, self.recon_file, {
            key: stats, key + '_last': time.time()})

    def run_forever(self, devices=None, partitions=None):
        self.apply_priority()
        while True:
            begin = time.time()
            try:
                self.report(self.run_once(devices=devices,
                                          partitions=partitions))
            except Exception:
                self.logger.exception('%s pass failed', self.name)
            elapsed = time.time() - begin
            if elapsed < self.interval:
                time.sleep(self.interval - elapsed)
