"""A missing system package skips a test on a developer's machine and
fails it in CI, where a skip would count as passing."""
import pytest

from tests.needs import missing


@pytest.mark.parametrize('value', ['true', 'yes', '1'])
def test_missing_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv('CI', value)
    with pytest.raises(pytest.fail.Exception) as err:
        missing('nginx is not installed')
    assert 'required in CI: nginx is not installed' in str(err.value)


@pytest.mark.parametrize('value', [None, '', 'false'])
def test_missing_skips_elsewhere(monkeypatch, value):
    if value is None:
        monkeypatch.delenv('CI', raising=False)
    else:
        monkeypatch.setenv('CI', value)
    with pytest.raises(pytest.skip.Exception) as err:
        missing('nginx is not installed')
    assert 'nginx is not installed' in str(err.value)
