"""objproxy.common.wsgi.load_app: config problems are ConfigErrors."""
import pytest

from objproxy.common import wsgi
from objproxy.common.exceptions import ConfigError


def test_a_missing_app_section_names_the_config_file(tmp_path):
    conf = tmp_path / 'proxy-server.conf'
    conf.write_text('[DEFAULT]\n')
    with pytest.raises(ConfigError) as err:
        wsgi.load_app(str(conf))
    assert str(err.value).startswith(str(conf) + ': ')


def test_a_config_error_from_the_loader_is_not_wrapped_again(
        tmp_path, monkeypatch):
    from objproxy.common import pipeline

    def refuse(path):
        raise ConfigError('[app:proxy-server] unknown option: colour')
    monkeypatch.setattr(pipeline, 'load_app', refuse)
    with pytest.raises(ConfigError) as err:
        wsgi.load_app(str(tmp_path / 'x.conf'))
    assert str(err.value) == '[app:proxy-server] unknown option: colour'
