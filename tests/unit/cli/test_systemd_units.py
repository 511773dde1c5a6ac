"""The shipped systemd units run what aio runs, as documented."""
import configparser
import importlib
import os
import re
import shlex

from objproxy.cli import aio

TOP = os.path.join(os.path.dirname(__file__), '..', '..', '..')
UNITS = os.path.join(TOP, 'etc', 'systemd')


def read(*path):
    with open(os.path.join(TOP, *path)) as fp:
        return fp.read()


def unit(name):
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    parser.read_string(read('etc', 'systemd', name))
    return parser


def console_scripts():
    """{script: 'module:function'} as setup.py declares them."""
    return dict(re.findall(r"'(objproxy-[\w-]+) = ([\w.]+:\w+)'",
                           read('setup.py')))


def test_every_daemon_aio_runs_has_a_unit_running_its_console_script():
    scripts = console_scripts()
    table = read('docs', 'deployment.md')
    for name, script, _module in aio.NODE_DAEMONS:
        filename = 'objproxy-%s@.service' % name
        assert os.path.exists(os.path.join(UNITS, filename)), filename
        service = unit(filename)['Service']
        program, conf = shlex.split(service['ExecStart'])
        assert os.path.basename(program) == script, filename
        assert conf == '/etc/objproxy/%i.conf', filename
        assert script in scripts, '%s not a console script' % script
        module, function = scripts[script].split(':')
        assert callable(getattr(importlib.import_module(module), function))
        assert '`objproxy-%s@NAME.service`' % name in table, filename
        assert 'objproxy-%s@storage-server' % name in table, filename


def test_every_unit_names_an_existing_console_script():
    scripts = console_scripts()
    for filename in sorted(os.listdir(UNITS)):
        if not filename.endswith('.service'):
            continue
        program = shlex.split(unit(filename)['Service']['ExecStart'])[0]
        assert os.path.basename(program) in scripts, filename


def test_the_install_steps_give_the_units_user_every_directory():
    users = {(unit(f)['Service']['User'], unit(f)['Service']['Group'])
             for f in os.listdir(UNITS) if f.endswith('.service')}
    assert len(users) == 1
    user, group = users.pop()
    steps = read('docs', 'deployment.md').split('## Install', 1)[1]
    steps = steps.split('```sh', 1)[1].split('```', 1)[0]
    made = set()
    owned = set()
    for line in steps.splitlines():
        words = shlex.split(line.split('#')[0])
        if words[:3] == ['sudo', 'mkdir', '-p']:
            made.update(words[3:])
        if words[:3] == ['sudo', 'chown', '-R'] and \
                words[3] == '%s:%s' % (user, group):
            # only what exists by then can be chowned
            assert made, 'chown before mkdir'
            owned.update(words[4:])
    assert made and made <= owned, sorted(made - owned)
    assert 'useradd --system --home /opt/objproxy %s' % user in steps
