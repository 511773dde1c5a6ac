from webob import Request

from middleware.large_object_copy import copied_from, copy_headers, \
    copy_source

PARTS = ('v1', 'AUTH_a', 'c', 'o')


def test_copy_source_reads_both_copy_forms():
    put = Request.blank('/v1/AUTH_a/c/o', method='PUT', headers={
        'X-Copy-From': 'src/obj', 'X-Copy-From-Account': 'AUTH_b'}).environ
    assert copy_source(put, PARTS) == (
        '/v1/AUTH_b/src/obj', '/v1/AUTH_a/c/o', ('AUTH_b', 'src', 'obj'))
    verb = Request.blank('/v1/AUTH_a/c/o', method='COPY', headers={
        'Destination': '/d/new'}).environ
    assert copy_source(verb, PARTS) == (
        '/v1/AUTH_a/c/o', '/v1/AUTH_a/d/new', ('AUTH_a', 'c', 'o'))


def test_copy_source_refuses_a_malformed_header():
    env = Request.blank('/v1/AUTH_a/c/o', method='PUT', headers={
        'X-Copy-From': 'no-object'}).environ
    assert copy_source(env, PARTS) is None


def test_a_copied_large_object_keeps_metadata_but_no_manifest_headers():
    env = Request.blank('/v1/AUTH_a/c/o', method='PUT', headers={
        'X-Copy-From': 'c/big', 'X-Object-Meta-Mine': 'yes'}).environ
    source = {'x-object-meta-color': 'red',
              'x-static-large-object': 'True',
              'x-object-sysmeta-slo-etag': 'abc',
              'x-object-sysmeta-container-update-override-etag': 'x',
              'content-type': 'text/plain;swift_bytes=42'}
    headers = copy_headers(env, source)
    lowered = dict((k.lower(), v) for k, v in headers.items())
    assert lowered['x-object-meta-color'] == 'red'
    assert lowered['x-object-meta-mine'] == 'yes'
    assert lowered['content-type'] == 'text/plain'
    assert not any(k.startswith(('x-static', 'x-object-sysmeta-'))
                   for k in lowered)


def test_a_copy_names_its_source():
    assert copied_from(('AUTH_a', 'c', 'o b'), {
        'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT'}) == [
        ('X-Copied-From', 'c/o%20b'), ('X-Copied-From-Account', 'AUTH_a'),
        ('X-Copied-From-Last-Modified', 'Tue, 01 Dec 2026 00:00:00 GMT')]
