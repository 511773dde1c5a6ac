from webob import Request

from objproxy.proxy.controllers.obj import (
    container_update_headers, delete_at_header)


def nodes(n):
    return [{'ip': '10.0.0.%d' % i, 'port': 6000 + i, 'device': 'd%d' % i}
            for i in range(n)]


def test_every_container_replica_gets_an_update():
    headers = container_update_headers(3, 7, nodes(3))
    hosts = [h['X-Container-Host'] for h in headers]
    assert hosts == ['10.0.0.0:6000', '10.0.0.1:6001', '10.0.0.2:6002']
    assert all(h['X-Container-Partition'] == '7' for h in headers)


def test_more_container_replicas_than_object_nodes():
    headers = container_update_headers(2, 1, nodes(5))
    seen = set()
    for h in headers:
        hosts = h['X-Container-Host'].split(',')
        devs = h['X-Container-Device'].split(',')
        assert len(hosts) == len(devs)
        seen.update(hosts)
    assert len(seen) == 5


def test_updates_survive_losing_a_minority_of_object_nodes():
    # 3 object nodes, 3 container replicas: any 2 object nodes that
    # succeed still reach a quorum (2) of the container replicas
    headers = container_update_headers(3, 0, nodes(3))
    for lost in range(3):
        reached = set()
        for i, h in enumerate(headers):
            if i != lost:
                reached.update(h['X-Container-Host'].split(','))
        assert len(reached) >= 2


def test_delete_at_rules():
    assert delete_at_header({'X-Delete-After': '10'}, now=100) == ('110',
                                                                   None)
    assert delete_at_header({'X-Delete-At': '200'}, now=100) == ('200', None)
    assert delete_at_header({'X-Delete-At': '50'}, now=100)[1] == \
        'X-Delete-At in past'
    assert delete_at_header({'X-Delete-At': 'soon'}, now=100)[1] == \
        'Non-integer X-Delete-At'
    assert delete_at_header({'X-Delete-After': '-1'}, now=100)[1]
    assert delete_at_header({}, now=100) == (None, None)


def test_expiry_times_past_swifts_largest_are_clamped():
    assert delete_at_header({'X-Delete-At': '1' * 100}, now=100) == (
        '9999999999', None)
    assert delete_at_header({'X-Delete-After': '9' * 20}, now=100) == (
        '9999999999', None)


def test_copy_is_405_from_the_proxy_app_itself(proxy_app):
    """Copies are the copy filter's; the bare proxy app answers COPY as
    Swift's proxy does without that filter."""
    req = Request.blank('/v1/AUTH_test/c/o', method='COPY',
                        headers={'Destination': 'c/o2'})
    resp = req.get_response(proxy_app)
    assert resp.status_int == 405
    assert 'COPY' not in resp.headers['Allow']
    assert 'PUT' in resp.headers['Allow']
