"""Reusable pytest fixtures for a real, private clamd.

Import the fixtures into a test module (or list this module in a
conftest's ``pytest_plugins``)::

    from tests.clamd_fixture import clamd, clamd_factory  # noqa: F401

``clamd`` (session scope) is one ClamdProcess listening on a unix socket
in a short temp dir and on a free 127.0.0.1 TCP port, loaded with the
project's EICAR signatures; it is stopped and its directory removed at
the end of the session.  ``clamd_factory`` starts extra clamds for a test
that needs to kill one; each is stopped when the test ends.  A missing
clamd binary skips the tests with the install hint on a developer's
machine, but fails them in CI (``CI`` set to true, 1 or yes), where a
skipped scanner test would otherwise count as passing; ``require_clamd``
applies the same rule to tests that start clamd themselves.
"""
import shutil
import tempfile

import pytest

from objproxy.cli.clamd_runner import (
    ClamdNotFound, ClamdProcess, find_clamd, free_port)
from tests.needs import missing


def missing_clamd(err):
    """Fail in CI, skip elsewhere, naming what is missing."""
    missing('clamd: %s' % err)


def require_clamd():
    """The clamd binary's path, or the test fails (CI) or skips."""
    try:
        return find_clamd()
    except ClamdNotFound as err:
        missing_clamd(err)


def _start(max_size=None, **kwargs):
    # A short path under /tmp: unix socket paths are limited to 107 bytes
    # and pytest's basetemp can be deep.
    run_dir = tempfile.mkdtemp(prefix='objproxy-clamd-')
    if max_size is not None:
        kwargs['max_size'] = max_size
    proc = ClamdProcess(run_dir, tcp_port=free_port(), **kwargs)
    try:
        proc.start(timeout=30)
    except ClamdNotFound as err:
        shutil.rmtree(run_dir, ignore_errors=True)
        missing_clamd(err)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return proc


def _cleanup(proc):
    proc.stop()
    shutil.rmtree(proc.run_dir, ignore_errors=True)


@pytest.fixture(scope='session')
def clamd():
    """A private clamd for the whole session (ClamdProcess)."""
    proc = _start()
    try:
        yield proc
    finally:
        _cleanup(proc)


@pytest.fixture
def clamd_factory():
    """Call it (optionally with ClamdProcess kwargs) to start a clamd."""
    started = []

    def factory(**kwargs):
        proc = _start(**kwargs)
        started.append(proc)
        return proc
    try:
        yield factory
    finally:
        for proc in started:
            _cleanup(proc)
