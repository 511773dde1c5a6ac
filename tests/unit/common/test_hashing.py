import hashlib

import pytest

from objproxy.common import hashing
from objproxy.common.exceptions import ConfigError


@pytest.fixture(autouse=True)
def restore_hash_config():
    saved = dict(hashing._hash_config)
    yield
    hashing._hash_config.update(saved)


def test_hash_path_uses_prefix_and_suffix():
    hashing.set_hash_config('pre', 'suf')
    want = hashlib.md5(b'pre/a/c/o\xc3\xa9suf').hexdigest()
    assert hashing.hash_path('a', 'c', 'o\u00e9') == want
    assert hashing.hash_path('a') == hashlib.md5(b'pre/asuf').hexdigest()
    assert len(hashing.hash_path('a', 'c', raw_digest=True)) == 16


def test_object_without_container_is_an_error():
    hashing.set_hash_config('pre', 'suf')
    with pytest.raises(ValueError):
        hashing.hash_path('a', None, 'o')


def test_both_empty_is_refused(tmp_path):
    conf = tmp_path / 'objproxy.conf'
    conf.write_text('[objproxy-hash]\nhash_path_prefix =\n'
                    'hash_path_suffix =\n')
    with pytest.raises(ConfigError) as err:
        hashing.load_hash_config(str(tmp_path))
    assert 'both' in str(err.value)


def test_missing_file_and_section_are_clear(tmp_path):
    with pytest.raises(ConfigError) as err:
        hashing.load_hash_config(str(tmp_path))
    assert 'objproxy.conf' in str(err.value)
    (tmp_path / 'objproxy.conf').write_text('[other]\nx = 1\n')
    with pytest.raises(ConfigError) as err:
        hashing.load_hash_config(str(tmp_path))
    assert '[objproxy-hash]' in str(err.value)


def test_load_reads_the_shipped_sample():
    prefix, suffix = hashing.load_hash_config('etc')
    assert prefix and suffix
