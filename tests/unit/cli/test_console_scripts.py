"""Every console script: quiet (no eventlet banner), every option helped."""
import argparse
import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)
SCRIPTS = ['objproxy-server', 'objproxy-aio', 'objproxy-ring-builder',
           'objproxy-replicator', 'objproxy-auditor', 'objproxy-updater',
           'objproxy-expirer', 'objproxy-rescanner', 'objproxy-recon']


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_prints_no_eventlet_banner(script):
    result = subprocess.run([os.path.join(BIN, script), '--help'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'usage' in result.stdout.lower()
    assert 'Eventlet is deprecated' not in result.stdout + result.stderr


def test_a_daemon_pass_prints_no_eventlet_banner(tmp_path):
    conf = tmp_path / 'node.conf'
    (tmp_path / 'srv').mkdir()
    conf.write_text('[DEFAULT]\ndevices = %s\nlog_file = %s\n'
                    % (tmp_path / 'srv', tmp_path / 'log'))
    result = subprocess.run(
        [os.path.join(BIN, 'objproxy-updater'), str(conf), '--once'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'Eventlet' not in result.stdout + result.stderr
    assert 'Eventlet' not in (tmp_path / 'log').read_text()


def parsers():
    """The argparse parsers of the commands, captured as they parse.

    objproxy-ring-builder prints its own usage for the commands and uses
    argparse only for the option forms of ``add`` and ``rebalance``, whose
    parsers are named after the command.
    """
    from objproxy.cli import (aio, daemons, expirer, recon, rescanner,
                              ring_builder, server)
    found = {}
    real = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        found[self.prog] = self
        raise SystemExit(0)
    argparse.ArgumentParser.parse_args = capture
    try:
        for call in (lambda: aio.parse_args([]),
                     lambda: server.main([]),
                     lambda: daemons.replicator_main(['x']),
                     lambda: daemons.auditor_main(['x']),
                     lambda: daemons.updater_main(['x']),
                     lambda: expirer.main(['x']),
                     lambda: rescanner.main(['x']),
                     lambda: recon.main([]),
                     lambda: ring_builder.main(['x', 'add', '--zone', '1']),
                     lambda: ring_builder.main(['x', 'rebalance'])):
            try:
                call()
            except SystemExit:
                pass
    finally:
        argparse.ArgumentParser.parse_args = real
    return found


def test_every_option_has_help_text():
    found = parsers()
    assert set(found) >= {'objproxy-aio', 'objproxy-server',
                          'objproxy-replicator', 'objproxy-auditor',
                          'objproxy-updater', 'objproxy-expirer',
                          'objproxy-rescanner', 'objproxy-recon',
                          'add', 'rebalance'}
    for prog, parser in found.items():
        for action in parser._actions:
            assert action.help, '%s %s has no help' % (
                prog, '/'.join(action.option_strings) or action.dest)


def test_the_ring_builder_usage_names_every_command_and_option():
    from objproxy.cli import ring_builder
    usage = ring_builder.USAGE
    for command in ring_builder.COMMANDS:
        if command != 'default':
            assert '\n  %s' % command in usage, command
    for prog in ('add', 'rebalance'):
        for action in parsers()[prog]._actions:
            for option in action.option_strings:
                if option.startswith('--') and option != '--help':
                    assert option in usage, (prog, option)


def test_the_readme_names_every_aio_option():
    with open(os.path.join(os.path.dirname(__file__), '..', '..', '..',
                           'README.md')) as fp:
        readme = fp.read()
    parser = parsers()['objproxy-aio']
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith('--') and option != '--help':
                assert '`%s' % option in readme, option
