import subprocess
import sys


def test_objproxy_commands_print_no_eventlet_banner():
    for module in ('objproxy.common.wsgi', 'objproxy.cli.aio',
                   'middleware.clamav'):
        out = subprocess.run(
            [sys.executable, '-c', 'import objproxy, %s' % module],
            capture_output=True, text=True, check=True)
        assert 'Eventlet is deprecated' not in out.stderr, module
    help_out = subprocess.run(
        [sys.executable, '-m', 'objproxy.cli.aio', '--help'],
        capture_output=True, text=True)
    assert help_out.returncode == 0
    assert 'deprecated' not in help_out.stderr
