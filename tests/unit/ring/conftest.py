import pytest

from objproxy.common import hashing


@pytest.fixture(autouse=True)
def hash_config():
    saved = dict(hashing._hash_config)
    hashing.set_hash_config('', 'ring-test-suffix')
    yield
    hashing._hash_config.update(saved)
