from objproxy.storage.object_request import update_overrides


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
