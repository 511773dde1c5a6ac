"""The shared exceptions: what callers may catch them as, and what they
carry."""
import pytest

from objproxy.common import exceptions
from objproxy.common.exceptions import (
    ConfigError, DeviceUnavailable, DiskFileDeleted, DiskFileError,
    DiskFileNoSpace, DiskFileNotExist, DiskFileQuarantined, InputRejected,
    ObjproxyError, RingError)
from objproxy.common.timestamp import Timestamp


def test_every_exception_is_an_objproxy_error():
    own = [obj for obj in vars(exceptions).values()
           if isinstance(obj, type) and issubclass(obj, Exception)]
    assert len(own) >= 12
    assert all(issubclass(cls, ObjproxyError) for cls in own)


@pytest.mark.parametrize('cls', [
    DiskFileNotExist, DiskFileDeleted, DiskFileQuarantined, DiskFileNoSpace,
    DeviceUnavailable])
def test_disk_file_errors_share_one_base(cls):
    assert issubclass(cls, DiskFileError)


def test_a_deleted_object_is_caught_as_a_missing_one():
    """A reader that answers 404 for a missing object does the same for a
    tombstone without a clause of its own."""
    with pytest.raises(DiskFileNotExist) as info:
        raise DiskFileDeleted(Timestamp(5))
    assert info.value.timestamp == Timestamp(5)


def test_deleted_without_a_timestamp():
    assert DiskFileDeleted().timestamp is None


def test_config_and_ring_errors_are_not_disk_errors():
    for cls in (ConfigError, RingError):
        assert not issubclass(cls, DiskFileError)


def test_input_rejected_carries_the_answer_for_the_client():
    err = InputRejected('403 Forbidden', b'infected', {'X-Why': 'EICAR'})
    assert (err.status, err.body, err.headers) == (
        '403 Forbidden', b'infected', {'X-Why': 'EICAR'})
    assert str(err) == '403 Forbidden'


def test_input_rejected_defaults_do_not_share_headers():
    first, second = InputRejected(413), InputRejected(413)
    first.headers['X-A'] = '1'
    assert second.headers == {} and second.body == b''
