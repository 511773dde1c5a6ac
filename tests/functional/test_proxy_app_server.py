"""The proxy Application in-process against the session's real storage
nodes: what needs node answers (reserved names, ACLs handed to
authorize, query strings checked by the nodes)."""
from webob import Request

from tests.functional.proxy_app import call, proxy_app  # noqa: F401


def test_internal_requests_reach_reserved_names(proxy_app):
    """A subrequest carrying X-Backend-Allow-Reserved-Names: true creates,
    writes, reads and deletes a hidden container and object."""
    internal = {'X-Backend-Allow-Reserved-Names': 'true'}
    cont = '/v1/AUTH_test/\x00versions\x00srv-reserved'
    obj = cont + '/\x00o\x009999999999.99999'

    def raw(method, path, body=None, **headers):
        req = Request.blank('/', environ={'REQUEST_METHOD': method},
                            headers=dict(internal, **headers))
        req.environ['PATH_INFO'] = path
        if body is not None:
            req.body = body
        return req.get_response(proxy_app)

    assert raw('PUT', cont).status_int in (201, 202)
    assert raw('PUT', obj, b'hidden', **{'Content-Type': 't/p'}
               ).status_int == 201
    resp = raw('GET', obj)
    assert resp.status_int == 200 and resp.body == b'hidden'
    assert raw('HEAD', cont).status_int == 204
    assert raw('DELETE', obj).status_int == 204
    assert raw('DELETE', cont).status_int == 204
    internal['X-Backend-Allow-Reserved-Names'] = 'false'
    assert raw('PUT', cont).status_int == 412


def test_container_acl_is_given_to_authorize(proxy_app):
    call(proxy_app, '/v1/AUTH_test/aclc', 'PUT',
         headers={'X-Container-Read': '.r:*', 'X-Container-Write': 'u:x'})
    acls = []

    def record(req):
        acls.append((req.method, req.acl))

    call(proxy_app, '/v1/AUTH_test/aclc/o', 'PUT', body=b'x',
         env={'swift.authorize': record})
    call(proxy_app, '/v1/AUTH_test/aclc/o', 'GET',
         env={'swift.authorize': record})
    assert acls == [('PUT', 'u:x'), ('GET', '.r:*')]


def test_container_acls_are_cleaned_by_the_auth_filter(proxy_app):
    def clean(name, value):
        if '.bad' in value:
            raise ValueError('Unknown designator')
        return value.replace(' ', '')

    resp = call(proxy_app, '/v1/AUTH_test/cleanc', 'PUT',
                headers={'X-Container-Read': '.bad'},
                env={'swift.clean_acl': clean})
    assert resp.status_int == 400 and b'Unknown designator' in resp.body
    resp = call(proxy_app, '/v1/AUTH_test/cleanc', 'PUT',
                headers={'X-Container-Read': 'a:b, c:d'},
                env={'swift.clean_acl': clean})
    assert resp.status_int in (201, 202)
    head = call(proxy_app, '/v1/AUTH_test/cleanc', 'HEAD')
    assert head.headers['X-Container-Read'] == 'a:b,c:d'


def test_bad_query_strings_are_4xx(proxy_app):
    assert call(proxy_app, '/v1/AUTH_test/c?prefix=%FF').status_int == 400
    assert call(proxy_app, '/v1/AUTH_test?limit=99999').status_int == 412
    # a limit that is not a whole number means the default (Swift)
    for limit in ('%00', '-1', 'x', '5000.0'):
        resp = call(proxy_app, '/v1/AUTH_test?limit=' + limit)
        assert resp.status_int in (200, 204), limit
    # any delimiter is accepted, several characters too: a listing (200,
    # or 204 while other tests have left the account empty), as Swift
    resp = call(proxy_app, '/v1/AUTH_test?delimiter=ab')
    assert resp.status_int in (200, 204), resp.status
