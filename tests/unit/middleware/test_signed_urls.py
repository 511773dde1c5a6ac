"""signed_urls.scoped_keys reads the keys from the proxy's info."""
import pytest

from middleware import signed_urls


class Proxy(object):
    """The app a loaded pipeline ends in, with its info lookups."""

    def __init__(self, account_meta, container_meta=None, broken=False):
        self.account_meta = account_meta
        self.container_meta = container_meta
        self.broken = broken
        self._pipeline_final_app = self

    def account_info(self, env, account):
        if self.broken:
            raise RuntimeError('memcache client misconfigured')
        return {'status': 204, 'meta': self.account_meta}

    def container_info(self, env, account, container):
        if self.container_meta is None:
            return {'status': 404, 'meta': {}}
        return {'status': 204, 'meta': self.container_meta}


def test_account_keys_come_before_container_keys():
    proxy = Proxy({'temp-url-key': 'ak', 'temp-url-key-2': 'ak2'},
                  {'temp-url-key': 'ck'})
    keys = signed_urls.scoped_keys({}, proxy, 'AUTH_a', 'c')
    assert sorted(keys[:2]) == [(b'ak', signed_urls.ACCOUNT_SCOPE),
                                (b'ak2', signed_urls.ACCOUNT_SCOPE)]
    assert keys[2:] == [(b'ck', signed_urls.CONTAINER_SCOPE)]


def test_a_missing_container_has_no_keys():
    proxy = Proxy({'temp-url-key': 'ak'})
    assert signed_urls.scoped_keys({}, proxy, 'AUTH_a', 'c') == [
        (b'ak', signed_urls.ACCOUNT_SCOPE)]


def test_a_failing_info_lookup_is_not_hidden_as_no_keys():
    with pytest.raises(RuntimeError, match='misconfigured'):
        signed_urls.scoped_keys({}, Proxy({}, broken=True), 'AUTH_a', None)
