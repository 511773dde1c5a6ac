"""The daemons' priority options (Swift's nice_priority, ionice_class,
ionice_priority): checked when the daemon is built, applied when it runs."""
import json
import logging
import platform
import subprocess
import sys

import pytest

from objproxy.common.exceptions import ConfigError
from objproxy.daemons.daemon import Daemon, priority_options

CHILD = r'''
import ctypes, ctypes.util, json, os, platform, sys
from objproxy.daemons.daemon import Daemon
conf = json.loads(sys.argv[1])
Daemon(conf).apply_priority()
libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
ioprio = libc.syscall(252, 1, 0) if platform.machine() == 'x86_64' else -1
print(json.dumps([os.getpriority(os.PRIO_PROCESS, 0), ioprio]))
'''


def run_child(conf):
    out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(conf)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_unset_options_change_nothing():
    assert priority_options({}) == (None, None, None)


def test_options_are_parsed_with_swift_names():
    conf = {'nice_priority': '10', 'ionice_class': 'IOPRIO_CLASS_BE',
            'ionice_priority': '7'}
    assert priority_options(conf) == (10, 2, 7)


@pytest.mark.parametrize('conf', [
    {'nice_priority': '20'}, {'nice_priority': 'low'},
    {'ionice_class': 'idle'}, {'ionice_priority': '8'}])
def test_invalid_values_are_config_errors(conf):
    with pytest.raises(ConfigError):
        Daemon(conf, logger=logging.getLogger('t'))


def test_running_daemon_lowers_its_cpu_priority():
    nice, _ = run_child({'nice_priority': '15'})
    assert nice == 15


@pytest.mark.skipif(platform.machine() != 'x86_64',
                    reason='reads ioprio_get by its x86_64 number')
def test_running_daemon_takes_the_idle_io_class():
    _, ioprio = run_child({'ionice_class': 'IOPRIO_CLASS_IDLE',
                           'ionice_priority': '5'})
    assert ioprio >> 13 == 3          # IOPRIO_CLASS_IDLE, no level
    assert ioprio & 0x1fff == 0


@pytest.mark.skipif(platform.machine() != 'x86_64',
                    reason='reads ioprio_get by its x86_64 number')
def test_best_effort_class_keeps_its_level():
    _, ioprio = run_child({'ionice_class': 'IOPRIO_CLASS_BE',
                           'ionice_priority': '6'})
    assert (ioprio >> 13, ioprio & 0x1fff) == (2, 6)
