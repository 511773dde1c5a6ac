"""Tests that need a system package (clamd, chromium, nginx).

On a developer's machine a missing package skips the test, naming it; in
CI (``CI`` set to true, 1 or yes) it fails the run, because scripts/install
installs every one of them and a skip there would hide a broken install.
"""
import os

import pytest


def in_ci():
    return os.environ.get('CI', '').strip().lower() in ('true', '1', 'yes')


def missing(reason):
    """Fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail('required in CI: %s' % reason)
    pytest.skip(reason)
