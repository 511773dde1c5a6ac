"""bulk: ?bulk-delete and ?extract-archive turned into subrequests down the
pipeline, with Swift's answer formats, limits and heartbeats."""
import bz2
import gzip
import io
import json
import tarfile
from xml.dom import minidom

import eventlet
import pytest
from webob import Request, Response

from middleware import bulk
from objproxy.common.exceptions import ConfigError
from objproxy.common.registry import clear_info, get_info

EICAR = (b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!'
         b'$H+H*')


class FakeSwift(object):
    """A tiny object store: containers and objects in dicts.

    DELETE of a container holding objects is 409; a PUT body containing
    the EICAR string is refused 403 as the virus scanner would; ``status``
    forces an answer for a path.
    """

    def __init__(self, containers=(), objects=None, delay=0):
        self.containers = set(containers)
        self.objects = dict(objects or {})
        self.status = {}
        self.calls = []
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0

    def __call__(self, env, start_response):
        req = Request(env)
        self.calls.append(req)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                eventlet.sleep(self.delay)
            status = self.status.get(req.path_info) or self.handle(req)
        finally:
            self.in_flight -= 1
        return Response(status=status, body=b'')(env, start_response)

    def handle(self, req):
        parts = req.path_info.split('/', 4)[3:]
        container = parts[0]
        if len(parts) == 1:
            if req.method == 'HEAD':
                return 204 if container in self.containers else 404
            if req.method == 'PUT':
                self.containers.add(container)
                return 201
            if req.method == 'DELETE':
                if container not in self.containers:
                    return 404
                if any(k[0] == container for k in self.objects):
                    return 409
                self.containers.discard(container)
                return 204
        key = (container, parts[1])
        if req.method == 'DELETE':
            return 204 if self.objects.pop(key, None) is not None else 404
        if req.method == 'PUT':
            if container not in self.containers:
                return 404
            body = []
            while True:
                chunk = req.environ['wsgi.input'].read(65536)
                if not chunk:
                    break
                body.append(chunk)
            body = b''.join(body)
            if EICAR in body:
                return 403
            self.objects[key] = (body, dict(req.headers))
            return 201
        return 405


def make(fake, **conf):
    return bulk.filter_factory({}, **conf)(fake)


def delete(mw, body, accept=None, **headers):
    if accept:
        headers['Accept'] = accept
    req = Request.blank('/v1/AUTH_a?bulk-delete', method='POST',
                        body=body, headers=headers)
    req.headers['Content-Type'] = 'text/plain'
    resp = req.get_response(mw)
    assert resp.status_int == 200
    resp.body                  # the work happens as the body is sent
    return resp


def parse_plain(body):
    results = {}
    lines = body.decode('utf-8').strip().splitlines()
    at = lines.index('Errors:')
    for line in lines[:at]:
        key, value = line.split(': ', 1)
        results[key] = value
    results['Errors'] = [line.rsplit(', ', 1) for line in lines[at + 1:]]
    return results


# -- bulk delete -------------------------------------------------------------

def test_bulk_delete_removes_objects_then_their_containers():
    fake = FakeSwift({'c', 'd'}, {('c', 'o1'): b'', ('c', 'o 2'): b''})
    body = b'/c\n/c/o1\nc/o%202\n/d\n/c/missing\n'
    resp = delete(make(fake), body, accept='application/json')
    result = json.loads(resp.body)
    assert result == {'Number Deleted': 4, 'Number Not Found': 1,
                      'Response Status': '200 OK', 'Response Body': '',
                      'Errors': []}
    assert fake.containers == set() and fake.objects == {}
    paths = [r.path_info for r in fake.calls]
    assert paths.index('/v1/AUTH_a/c') > paths.index('/v1/AUTH_a/c/o1')
    assert '/v1/AUTH_a/c/o 2' in paths


def test_each_delete_is_a_subrequest_as_the_client():
    fake = FakeSwift({'c'}, {('c', 'o'): b''})
    delete(make(fake), b'/c/o', **{'X-Auth-Token': 'AUTH_tk1'})
    sub = fake.calls[0]
    assert sub.method == 'DELETE'
    assert sub.headers['X-Auth-Token'] == 'AUTH_tk1'
    assert sub.environ['swift.source'] == 'BD'


def test_a_container_that_is_not_empty_is_a_409_error():
    fake = FakeSwift({'c'}, {('c', 'keep'): b''})
    result = parse_plain(delete(make(fake), b'/c').body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Errors'] == [['/c', '409 Conflict']]
    assert result['Number Deleted'] == '0'


def test_server_errors_make_the_status_502():
    fake = FakeSwift({'c'}, {('c', 'o'): b''})
    fake.status['/v1/AUTH_a/c/o'] = 503
    result = json.loads(delete(make(fake), b'/c/o',
                               accept='application/json').body)
    assert result['Response Status'] == '502 Bad Gateway'
    assert result['Errors'] == [['/c/o', '503 Service Unavailable']]


def test_xml_answer_has_swifts_layout():
    fake = FakeSwift({'c'}, {('c', 'o'): b''})
    body = delete(make(fake), b'/c/o', accept='application/xml').body
    tree = minidom.parseString(body)
    assert tree.documentElement.tagName == 'delete'
    status = tree.getElementsByTagName('response_status')[0]
    assert status.childNodes[0].data == '200 OK'
    assert tree.getElementsByTagName('number_deleted')[0] \
        .childNodes[0].data == '1'
    assert tree.getElementsByTagName('object') == []


def test_too_many_names_is_413_before_anything_is_deleted():
    fake = FakeSwift({'c'}, {('c', 'o%d' % i): b'' for i in range(4)})
    body = b'\n'.join(b'/c/o%d' % i for i in range(4))
    result = parse_plain(delete(make(fake, max_deletes_per_request='3'),
                                body).body)
    assert result['Response Status'] == '413 Request Entity Too Large'
    assert result['Response Body'] == 'Maximum Bulk Deletes: 3 per request'
    assert fake.calls == []


def test_too_many_failures_abandons_the_rest():
    fake = FakeSwift({'c'})
    for i in range(6):
        fake.status['/v1/AUTH_a/c/o%d' % i] = 403
    body = b'\n'.join(b'/c/o%d' % i for i in range(6))
    result = parse_plain(delete(make(fake, max_failed_deletes='2',
                                     delete_concurrency='1'), body).body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'Max delete failures exceeded'
    assert len(result['Errors']) == 2
    assert len(fake.calls) == 2


def test_deletes_run_delete_concurrency_at_a_time():
    fake = FakeSwift({'c'}, {('c', 'o%d' % i): b'' for i in range(8)},
                     delay=0.01)
    body = b'\n'.join(b'/c/o%d' % i for i in range(8))
    result = parse_plain(delete(make(fake, delete_concurrency='3'),
                                body).body)
    assert result['Number Deleted'] == '8'
    assert fake.most_in_flight == 3


def test_heartbeats_while_working_then_the_result():
    fake = FakeSwift({'c'}, {('c', 'o%d' % i): b'' for i in range(3)})
    mw = make(fake, yield_frequency='1')
    ticks = iter(range(0, 1000, 5))
    mw.clock = lambda: next(ticks)
    body = delete(mw, b'/c/o0\n/c/o1\n/c/o2').body
    head, _sep, rest = body.partition(b'\r\n\r\n')
    assert head.strip() == b'' and head
    assert parse_plain(rest)['Number Deleted'] == '3'


def test_no_length_and_not_chunked_is_411():
    mw = make(FakeSwift())
    req = Request.blank('/v1/AUTH_a?bulk-delete', method='DELETE')
    req.environ.pop('CONTENT_LENGTH', None)
    req.environ['wsgi.input'] = io.BytesIO(b'/c/o')
    result = parse_plain(req.get_response(mw).body)
    assert result['Response Status'] == '411 Length Required'


def test_an_unacceptable_accept_or_body_type_is_406():
    fake = FakeSwift({'c'}, {('c', 'o'): b''})
    resp = delete(make(fake), b'/c/o', accept='image/png')
    assert b'406 Not Acceptable' in resp.body
    req = Request.blank('/v1/AUTH_a?bulk-delete', method='POST', body=b'x',
                        headers={'Content-Type': 'application/json'})
    assert b'406 Not Acceptable' in req.get_response(make(fake)).body
    assert fake.calls == []


def test_an_empty_list_is_an_invalid_bulk_delete():
    result = parse_plain(delete(make(FakeSwift()), b'\n\n').body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'Invalid bulk delete.'


def test_a_name_that_is_not_utf8_is_412():
    fake = FakeSwift({'c'})
    result = parse_plain(delete(make(fake), b'/c/%FF').body)
    assert result['Errors'] == [['/c/%FF', '412 Precondition Failed']]
    assert fake.calls == []


def test_other_requests_pass_through():
    fake = FakeSwift({'c'}, {('c', 'o'): b''})
    mw = make(fake)
    resp = Request.blank('/v1/AUTH_a/c/o?bulk-delete',
                         method='GET').get_response(mw)
    assert resp.status_int == 405 and fake.calls[0].method == 'GET'


# -- extract archive ---------------------------------------------------------

def tar_bytes(members, compress=None, pax=None):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                t.addfile(info)
                continue
            info.size = len(data)
            if pax and name in pax:
                info.pax_headers = pax[name]
            t.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    if compress == 'gz':
        return gzip.compress(raw)
    if compress == 'bz2':
        return bz2.compress(raw)
    return raw


def extract(mw, path, body, kind='tar', accept='application/json',
            **headers):
    req = Request.blank('%s?extract-archive=%s' % (path, kind), method='PUT',
                        body=body, headers=dict(headers, Accept=accept))
    resp = req.get_response(mw)
    assert resp.status_int == 200
    return json.loads(resp.body)


@pytest.mark.parametrize('kind,compress', [('tar', None), ('tar.gz', 'gz'),
                                           ('tar.bz2', 'bz2')])
def test_extract_creates_containers_and_objects(kind, compress):
    fake = FakeSwift()
    body = tar_bytes([('c1/a', b'aaa'), ('c1/dir', None), ('c2/x/y', b'yy'),
                      ('top', b'skipped')], compress)
    result = extract(make(fake), '/v1/AUTH_a', body, kind)
    assert result == {'Number Files Created': 2, 'Errors': [],
                      'Response Status': '201 Created', 'Response Body': ''}
    assert fake.containers == {'c1', 'c2'}
    assert fake.objects[('c1', 'a')][0] == b'aaa'
    assert fake.objects[('c2', 'x/y')][0] == b'yy'
    puts = [r for r in fake.calls if r.method == 'PUT' and
            r.path_info.count('/') > 3]
    assert all(r.environ['swift.source'] == 'EA' for r in puts)


def test_extract_into_a_container_path():
    fake = FakeSwift({'c'})
    result = extract(make(fake), '/v1/AUTH_a/c/pre/',
                     tar_bytes([('./f', b'1'), ('d/g', b'2')]))
    assert result['Number Files Created'] == 2
    assert set(fake.objects) == {('c', 'pre/f'), ('c', 'pre/d/g')}


def test_an_infected_member_is_reported_and_not_stored():
    fake = FakeSwift()
    body = tar_bytes([('c/clean', b'ok'), ('c/virus.com', EICAR),
                      ('c/after', b'ok too')])
    result = extract(make(fake), '/v1/AUTH_a', body)
    assert result['Number Files Created'] == 2
    assert result['Errors'] == [['c/virus.com', '403 Forbidden']]
    assert result['Response Status'] == '400 Bad Request'
    assert ('c', 'virus.com') not in fake.objects
    assert ('c', 'after') in fake.objects


def test_request_metadata_and_pax_attributes_reach_the_objects():
    fake = FakeSwift()
    pax = {'c/o': {'SCHILY.xattr.user.mime_type': 'text/x-test',
                   'LIBARCHIVE.xattr.user.meta.colour': 'blue',
                   'SCHILY.xattr.user.other': 'ignored'}}
    extract(make(fake), '/v1/AUTH_a', tar_bytes([('c/o', b'x')], pax=pax),
            **{'X-Object-Meta-Batch': '7', 'X-Delete-After': '600',
               'X-Auth-Token': 'AUTH_tk2'})
    headers = fake.objects[('c', 'o')][1]
    assert headers['Content-Type'] == 'text/x-test'
    assert headers['X-Object-Meta-Colour'] == 'blue'
    assert headers['X-Object-Meta-Batch'] == '7'
    assert headers['X-Delete-After'] == '600'
    assert headers['X-Auth-Token'] == 'AUTH_tk2'
    assert 'X-Object-Meta-Other' not in headers


@pytest.mark.parametrize('body', [
    b'this is not a tar archive at all' * 40,
    gzip.compress(b'not a tar inside gzip' * 50),
    b'\x1f\x8b\x08\x00garbage-gzip' * 10,
    b'BZh91AY&SY' + b'\x00' * 100,
])
def test_a_malformed_archive_is_400_invalid_tar_file(body):
    result = extract(make(FakeSwift()), '/v1/AUTH_a', body, 'tar.gz')
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File')


def test_an_archive_truncated_inside_a_member_is_400():
    fake = FakeSwift()
    body = tar_bytes([('c/one', b'1'), ('c/big', b'z' * 50000)])[:5000]
    result = extract(make(fake), '/v1/AUTH_a', body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File')
    assert ('c', 'big') not in fake.objects


def test_an_archive_without_files_is_invalid():
    result = extract(make(FakeSwift()), '/v1/AUTH_a',
                     tar_bytes([('c/d', None), ('top', b'x')]))
    assert result['Response Body'] == 'Invalid Tar File: No Valid Files'


def test_container_creation_is_limited():
    fake = FakeSwift()
    body = tar_bytes([('c%d/o' % i, b'x') for i in range(3)])
    result = extract(make(fake, max_containers_per_extraction='2'),
                     '/v1/AUTH_a', body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == \
        'More than 2 containers to create from tar.'


def test_extraction_stops_after_max_failed_extractions():
    fake = FakeSwift({'c'})
    for i in range(5):
        fake.status['/v1/AUTH_a/c/o%d' % i] = 403
    body = tar_bytes([('c/o%d' % i, b'x') for i in range(5)])
    result = extract(make(fake, max_failed_extractions='2'), '/v1/AUTH_a',
                     body)
    assert len(result['Errors']) == 2
    assert len([r for r in fake.calls if r.method == 'PUT']) == 2


def test_members_stream_out_of_the_request_body():
    """The first upload starts long before the whole archive is read."""
    size = 1024 * 1024
    body = tar_bytes([('c/o%d' % i, b'x' * size) for i in range(4)])
    seen = []
    fake = FakeSwift({'c'})
    inner = fake.handle

    def handle(req):
        if req.method == 'PUT':
            seen.append(source.tell())
        return inner(req)
    fake.handle = handle
    source = io.BytesIO(body)
    req = Request.blank('/v1/AUTH_a?extract-archive=tar', method='PUT',
                        headers={'Accept': 'application/json'})
    req.environ['wsgi.input'] = source
    req.environ['CONTENT_LENGTH'] = str(len(body))
    result = json.loads(req.get_response(make(fake)).body)
    assert result['Number Files Created'] == 4
    assert seen[0] < 2 * size


def test_an_unknown_archive_format_is_400():
    resp = Request.blank('/v1/AUTH_a?extract-archive=zip', method='PUT',
                         body=b'x').get_response(make(FakeSwift()))
    assert resp.status_int == 400
    assert resp.body == b'Unsupported archive format'


# -- config ------------------------------------------------------------------

def test_info_sections_and_bad_config():
    clear_info()
    bulk.filter_factory({}, max_deletes_per_request='5')
    info = get_info()
    assert info['bulk_delete'] == {'max_deletes_per_request': 5,
                                   'max_failed_deletes': 1000}
    assert info['bulk_upload'] == {'max_containers_per_extraction': 10000,
                                   'max_failed_extractions': 1000}
    with pytest.raises(ConfigError):
        bulk.filter_factory({}, yield_frequency='often')
    with pytest.raises(ConfigError):
        bulk.filter_factory({}, delete_concurency='2')
