"""The README works as written, in a fresh clone of the repository.

Every fenced ``sh`` block of README.md is run: the one with ``scripts/run``
starts the cluster (on free ports, stopped with Ctrl-C's SIGINT), every
other block runs after it, in order, in one shell, from the clone's top
directory, exactly as written apart from the proxy port.  The test command
itself (``scripts/test``) is left out.

The clone is of HEAD; it reuses this checkout's virtualenv (its ``bin``
and ``lib`` linked into the clone's ``.venv``, so ``scripts/install`` finds
nothing to do) and imports the clone's code (PYTHONPATH).
"""
import hashlib
import os
import re
import signal
import subprocess
import textwrap

import pytest

from tests.ports import free_ports

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BLOCK_RE = re.compile(r'^( *)```sh\n(.*?)^ *```$', re.M | re.S)
BANNER = 'Eventlet is deprecated'


def readme_blocks(text):
    return [textwrap.dedent(body) for _indent, body in BLOCK_RE.findall(text)]


def classify(blocks):
    run, rest = None, []
    for block in blocks:
        lines = [line.split('#')[0].strip() for line in block.splitlines()]
        lines = [line for line in lines if line]
        if lines == ['scripts/run']:
            run = lines[0]
        elif lines == ['scripts/test']:
            continue  # the test command itself
        else:
            rest.append(block)
    return run, rest


@pytest.fixture(scope='module')
def clone(tmp_path_factory):
    root = tmp_path_factory.mktemp('readme')
    path = root / 'objproxy'
    subprocess.run(['git', 'clone', '-q', REPO, str(path)], check=True,
                   timeout=120)
    venv = path / '.venv'
    venv.mkdir()
    for name in os.listdir(os.path.join(REPO, '.venv')):
        if not name.startswith('.'):
            os.symlink(os.path.join(REPO, '.venv', name), str(venv / name))
    setup = (path / 'setup.py').read_bytes()
    (venv / '.objproxy-installed').write_text(
        hashlib.sha1(setup).hexdigest() + '\n')
    return path


def test_readme_blocks_are_found():
    with open(os.path.join(REPO, 'README.md')) as fp:
        run, rest = classify(readme_blocks(fp.read()))
    assert run == 'scripts/run'
    joined = '\n'.join(rest)
    for command in ('swift upload', 'objproxy-ring-builder',
                    'objproxy-replicator', 'objproxy-recon'):
        assert command in joined


def test_every_readme_command_runs_in_a_fresh_clone(clone):
    readme = (clone / 'README.md').read_text()
    run, rest = classify(readme_blocks(readme))
    ports = free_ports(6)
    env = dict(os.environ, PYTHONPATH=str(clone))
    env.pop('VIRTUAL_ENV', None)
    for name in ('ST_AUTH', 'ST_USER', 'ST_KEY', 'OS_AUTH_URL'):
        env.pop(name, None)
    command = '%s --port %d --node-ports %s --memcache-port %d' % (
        run, ports[0], ','.join(map(str, ports[1:5])), ports[5])
    aio = subprocess.Popen(['bash', '-c', command], cwd=str(clone), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    started = []
    try:
        for line in aio.stdout:
            started.append(line)
            if 'Press Ctrl-C' in line:
                break
        assert aio.poll() is None, ''.join(started)
        script = '\n'.join(rest).replace('127.0.0.1:8080',
                                         '127.0.0.1:%d' % ports[0])
        result = subprocess.run(['bash', '-e', '-x', '-c', script],
                                cwd=str(clone), env=env, timeout=300,
                                capture_output=True, text=True)
    finally:
        aio.send_signal(signal.SIGINT)  # Ctrl-C
        stopped = aio.communicate(timeout=60)[0]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert 'README.md' in result.stdout            # swift list photos
    assert '# objproxy' in result.stdout           # swift download ... -o -
    assert 'Reassigned 3072' in result.stdout      # rebalance of my-rings
    assert 'object-replicator:' in result.stdout   # the --once summary
    assert 'HEALTHY' in result.stdout              # objproxy-recon
    assert aio.returncode == 0, stopped
    logs = [output, ''.join(started), stopped]
    log_dir = clone / 'objproxy-data' / 'log'
    for name in os.listdir(str(log_dir)):
        logs.append((log_dir / name).read_text(errors='replace'))
    assert not any(BANNER in text for text in logs)


def test_the_readme_names_the_required_filters_mechanism_truthfully():
    """The README names REQUIRED_FILTERS and exactly the filters it holds,
    and each is in the shipped proxy config, as the README says."""
    from objproxy.cli.aio_layout import read_text
    from objproxy.common.pipeline import REQUIRED_FILTERS
    with open(os.path.join(REPO, 'README.md')) as fp:
        readme = ' '.join(fp.read().split())
    start = readme.index('`REQUIRED_FILTERS`')
    paragraph = readme[start:readme.index('drop them.', start)]
    assert '`objproxy/common/pipeline.py`' in paragraph
    named = re.findall(r'They are (.*?); every one', paragraph)[0]
    named = re.findall(r'`(\w+)`', named)
    assert sorted(named) == sorted(REQUIRED_FILTERS), named
    with open(os.path.join(REPO, 'etc', 'proxy-server.conf')) as fp:
        conf = read_text(fp.read())
    pipeline = conf.get('pipeline:main', 'pipeline').split()
    for name in REQUIRED_FILTERS:
        assert conf.has_section('filter:' + name), name
        assert name in pipeline, name
