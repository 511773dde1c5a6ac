import pytest

from objproxy.storage.object_request import (
    HTTPError, object_path, post_content_type, update_overrides)


def test_stored_and_per_request_container_update_overrides():
    """The stored sysmeta override (set by a filter, e.g. an SLO's ETag in
    listings) applies; a backend override for this request wins."""
    update = {'X-Etag': 'md5-of-manifest', 'X-Size': '10'}
    update_overrides({
        'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG': 'e; slo',
        'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_SIZE': '5',
        'HTTP_X_BACKEND_CONTAINER_UPDATE_OVERRIDE_SIZE': '7',
    }, update)
    assert update == {'X-Etag': 'e; slo', 'X-Size': '7'}


def test_post_applies_the_objects_stored_overrides():
    """A POST's update takes the overrides stored with the object (its
    own sysmeta headers cannot change them); a backend one still wins."""
    update = {'X-Etag': 'md5-of-manifest', 'X-Size': '10'}
    update_overrides({
        'HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG': 'ignored',
        'HTTP_X_BACKEND_CONTAINER_UPDATE_OVERRIDE_SIZE': '7',
    }, update, stored={
        'X-Object-Sysmeta-Container-Update-Override-Etag': 'e; slo',
        'Content-Type': 'x/y'})
    assert update == {'X-Etag': 'e; slo', 'X-Size': '7'}


@pytest.mark.parametrize('env,expected', [
    ({}, None),
    ({'CONTENT_TYPE': ''}, None),
    ({'CONTENT_TYPE': 'image/jpeg'}, 'image/jpeg'),
    ({'CONTENT_TYPE': 'a/b; swift_bytes=5; q=1'}, 'a/b;q=1'),
    # eventlet's default when the request had none
    ({'CONTENT_TYPE': 'text/plain', 'headers_raw': (('X-A', '1'),)}, None),
    ({'CONTENT_TYPE': 'text/plain',
      'headers_raw': (('content-type', 'text/plain'),)}, 'text/plain'),
])
def test_post_content_type(env, expected):
    assert post_content_type(env) == expected


def test_object_path_accepts_reserved_names(tmp_path):
    """Nodes trust the proxy: NUL-led (reserved) names are valid paths;
    bad UTF-8 is still a 400."""
    (tmp_path / 'sda').mkdir()
    env = {'PATH_INFO': '/sda/1/a/\x00versions\x00c/\x00o\x00999'}
    _dev, part, account, container, obj = object_path(
        env, str(tmp_path), False)
    assert (part, account, container, obj) == (
        1, 'a', '\x00versions\x00c', '\x00o\x00999')
    with pytest.raises(HTTPError) as err:
        object_path({'PATH_INFO': '/sda/1/a/c/\xff'}, str(tmp_path), False)
    assert err.value.status == 400


@pytest.mark.parametrize('path,message', [
    ('/sda/1/a/c/' + 'o' * 1025, 'Object name length of 1025 longer than '
                                 '1024'),
    ('/sda/1/a/' + 'c' * 257 + '/o', 'Container name length of 257 longer '
                                     'than 256'),
    ('/sda/1/' + 'a' * 257 + '/c/o', 'Account name length of 257 longer '
                                     'than 256'),
])
def test_object_path_refuses_names_over_their_limit_as_the_proxy_does(
        tmp_path, path, message):
    (tmp_path / 'sda').mkdir()
    with pytest.raises(HTTPError) as err:
        object_path({'PATH_INFO': path}, str(tmp_path), False)
    assert (err.value.status, err.value.body) == (400, message)
