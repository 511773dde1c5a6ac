"""A missing clamd skips scanner tests on a developer's machine but fails
them in CI, where a skip would count as passing."""
import pytest

from objproxy.cli.clamd_runner import ClamdNotFound, ClamdProcess
from tests import clamd_fixture


@pytest.fixture
def no_clamd(monkeypatch):
    def start(self, timeout=None):
        raise ClamdNotFound('clamd not found (apt-get install clamav-daemon)')
    monkeypatch.setattr(ClamdProcess, 'start', start)


@pytest.mark.parametrize('value', ['true', 'True', '1'])
def test_missing_clamd_fails_in_ci(no_clamd, monkeypatch, value):
    monkeypatch.setenv('CI', value)
    with pytest.raises(pytest.fail.Exception) as err:
        clamd_fixture._start()
    assert 'required in CI: clamd' in str(err.value)


@pytest.mark.parametrize('value', [None, '', 'false'])
def test_missing_clamd_skips_elsewhere(no_clamd, monkeypatch, value):
    if value is None:
        monkeypatch.delenv('CI', raising=False)
    else:
        monkeypatch.setenv('CI', value)
    with pytest.raises(pytest.skip.Exception):
        clamd_fixture._start()
