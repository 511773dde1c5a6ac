"""bulk_extract: uploading a tar stream's files, driven through
extract_iter with the bulk filter's settings and test_bulk's FakeSwift."""
import io
import json
import tarfile

import pytest
from webob import Request

from middleware import bulk, bulk_extract
from objproxy.common.constraints import LIMITS
from tests.unit.middleware.test_bulk import FakeSwift, tar_bytes
from tests.unit.middleware.test_dlo import ListLogger


def settings(app, **conf):
    filt = bulk.filter_factory({}, **conf)(app)
    filt.logger = ListLogger()
    return filt


def extract(filt, body, path='/v1/AUTH_a', out_format='application/json',
            **headers):
    req = Request.blank(path, method='PUT', body=body, headers=headers)
    chunks = list(bulk_extract.extract_iter(filt, req, out_format))
    if out_format == 'application/json':
        return json.loads(chunks[-1])
    return chunks[-1]


def object_puts(fake):
    return [r for r in fake.calls if r.method == 'PUT' and
            r.path_info.count('/') > 3]


# ---------------------------------------------------------------- helpers

@pytest.mark.parametrize('key, header', [
    ('SCHILY.xattr.user.mime_type', 'Content-Type'),
    ('LIBARCHIVE.xattr.user.mime_type', 'Content-Type'),
    ('SCHILY.xattr.user.meta.color', 'X-Object-Meta-color'),
    ('SCHILY.xattr.user.meta.caf\u00e9',
     'X-Object-Meta-caf\u00c3\u00a9'),
    ('SCHILY.xattr.user.meta.', None),
    ('SCHILY.xattr.security.selinux', None),
    ('path', None),
])
def test_pax_header(key, header):
    assert bulk_extract.pax_header(key) == header


def test_valid_utf8_judges_wsgi_strings():
    assert bulk_extract.valid_utf8('caf\u00c3\u00a9')
    assert not bulk_extract.valid_utf8('caf\u00e9')       # a lone 0xe9
    assert not bulk_extract.valid_utf8('a\x00b')
    assert not bulk_extract.valid_utf8('\u20ac')          # not latin-1


def test_quoted_percent_encodes_and_truncates():
    assert bulk_extract.quoted('c/a b\u00c3\u00a9') == 'c/a%20b%C3%A9'
    limit = (LIMITS['max_object_name_length'] +
             LIMITS['max_container_name_length'] + 2)
    assert len(bulk_extract.quoted('c/' + 'x' * (limit * 2))) == limit


class FailingMember(object):
    def read(self, size=-1):
        raise tarfile.ReadError('unexpected end of data')


def test_member_input_remembers_an_archive_failure():
    source = bulk_extract.MemberInput(FailingMember())
    with pytest.raises(EOFError):
        source.readline()
    assert isinstance(source.error, tarfile.ReadError)


def test_member_input_reads_the_member():
    source = bulk_extract.MemberInput(io.BytesIO(b'line1\nline2'))
    assert source.readline() == b'line1\nline2'
    assert source.read() == b''
    assert source.error is None


# ------------------------------------------------------------ extraction

def test_account_path_first_component_is_the_container():
    fake = FakeSwift(containers={'c1'})
    result = extract(settings(fake), tar_bytes([
        ('./c1/a', b'A'), ('/c2/sub/b', b'B'), ('top', b'skipped'),
        ('c1/dir', None)]))
    assert result['Response Status'] == '201 Created'
    assert result['Number Files Created'] == 2
    assert fake.objects[('c1', 'a')][0] == b'A'
    assert fake.objects[('c2', 'sub/b')][0] == b'B'
    # c1 existed (HEAD only); c2 was created
    assert [(r.method, r.path_info) for r in fake.calls
            if r.path_info.count('/') == 3] == [
        ('HEAD', '/v1/AUTH_a/c1'), ('HEAD', '/v1/AUTH_a/c2'),
        ('PUT', '/v1/AUTH_a/c2')]


def test_container_path_takes_top_level_files():
    fake = FakeSwift(containers={'c'})
    result = extract(settings(fake), tar_bytes([('a', b'1'), ('d/b', b'2')]),
                     path='/v1/AUTH_a/c/pre/')
    assert result['Number Files Created'] == 2
    assert set(fake.objects) == {('c', 'pre/a'), ('c', 'pre/d/b')}


def test_each_upload_carries_client_headers_and_pax_metadata():
    fake = FakeSwift(containers={'c'})
    body = tar_bytes([('c/o', b'data')], pax={'c/o': {
        'SCHILY.xattr.user.mime_type': 'text/x-test',
        'SCHILY.xattr.user.meta.origin': 'tarball'}})
    extract(settings(fake), body, **{
        'X-Object-Meta-Batch': '7', 'X-Delete-After': '60',
        'X-Auth-Token': 'AUTH_tk', 'User-Agent': 'cli',
        'X-Container-Meta-Not-Copied': 'x'})
    put = object_puts(fake)[0]
    assert put.environ['swift.source'] == 'EA'
    assert put.headers['User-Agent'] == 'cli BulkExpand'
    assert put.headers['X-Auth-Token'] == 'AUTH_tk'
    assert put.headers['Content-Length'] == '4'
    stored = fake.objects[('c', 'o')][1]
    assert stored['Content-Type'] == 'text/x-test'
    assert stored['X-Object-Meta-Origin'] == 'tarball'
    assert stored['X-Object-Meta-Batch'] == '7'
    assert stored['X-Delete-After'] == '60'
    assert 'X-Container-Meta-Not-Copied' not in stored


def test_names_not_utf8_are_412_and_oversized_files_413(monkeypatch):
    monkeypatch.setitem(LIMITS, 'max_file_size', 3)
    fake = FakeSwift(containers={'c'})
    raw_name = b'c/caf\xe9'.decode('utf-8', 'surrogateescape')
    result = extract(settings(fake), tar_bytes([
        ('c/big', b'four'), ('c/ok', b'abc')]))
    assert result['Errors'] == [['c/big', '413 Request Entity Too Large']]
    assert result['Response Status'] == '400 Bad Request'
    assert result['Number Files Created'] == 1
    # a name that is not UTF-8 (written raw into a ustar header)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.USTAR_FORMAT,
                      encoding='utf-8', errors='surrogateescape') as tar:
        info = tarfile.TarInfo(raw_name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b'x'))
    result = extract(settings(fake), out.getvalue())
    assert result['Errors'] == [['c/caf%E9', '412 Precondition Failed']]


def test_refused_member_is_listed_and_the_rest_carries_on():
    fake = FakeSwift(containers={'c'})
    fake.status['/v1/AUTH_a/c/bad'] = 403
    result = extract(settings(fake), tar_bytes([
        ('c/bad', b'x'), ('c/good', b'y')]))
    assert result['Errors'] == [['c/bad', '403 Forbidden']]
    assert result['Response Status'] == '400 Bad Request'
    assert result['Number Files Created'] == 1


def test_server_error_makes_the_answer_502():
    fake = FakeSwift(containers={'c'})
    fake.status['/v1/AUTH_a/c/o'] = 503
    result = extract(settings(fake), tar_bytes([('c/o', b'x')]))
    assert result['Response Status'] == '502 Bad Gateway'


def test_unauthorized_upload_ends_the_extraction():
    fake = FakeSwift(containers={'c'})
    fake.status['/v1/AUTH_a/c/a'] = 401
    result = extract(settings(fake), tar_bytes([('c/a', b'x'),
                                                ('c/b', b'y')]))
    assert result['Response Status'] == '401 Unauthorized'
    assert result['Errors'] == [['c/a', '401 Unauthorized']]
    assert ('c', 'b') not in fake.objects


def test_unauthorized_container_head_ends_the_extraction():
    fake = FakeSwift()
    fake.status['/v1/AUTH_a/c'] = 401
    result = extract(settings(fake), tar_bytes([('c/a', b'x')]))
    assert result['Response Status'] == '401 Unauthorized'
    assert object_puts(fake) == []


def test_failed_container_creation_is_reported_with_the_upload():
    fake = FakeSwift()
    fake.status['/v1/AUTH_a/c'] = 403
    result = extract(settings(fake), tar_bytes([('c/a', b'x')]))
    assert result['Errors'] == [['/v1/AUTH_a/c', '403 Forbidden'],
                                ['c/a', '404 Not Found']]


def test_too_many_new_containers_is_400():
    fake = FakeSwift()
    result = extract(settings(fake, max_containers_per_extraction='1'),
                     tar_bytes([('c1/a', b'x'), ('c2/b', b'y')]))
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == \
        'More than 1 containers to create from tar.'
    assert set(fake.objects) == {('c1', 'a')}


def test_max_failed_extractions_stops_reading():
    fake = FakeSwift(containers={'c'})
    for name in 'abcd':
        fake.status['/v1/AUTH_a/c/' + name] = 403
    result = extract(settings(fake, max_failed_extractions='2'),
                     tar_bytes([('c/' + n, b'x') for n in 'abcd']))
    assert len(result['Errors']) == 2
    assert len(object_puts(fake)) == 2


def test_archive_truncated_inside_a_member_is_invalid_tar_file():
    fake = FakeSwift(containers={'c'})
    body = tar_bytes([('c/a', b'x' * 5000)])[:512 + 1000]
    result = extract(settings(fake), body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File: ')
    assert ('c', 'a') not in fake.objects


@pytest.mark.parametrize('body', [b'not a tar archive at all' * 40,
                                  b'\x1f\x8b' + b'\x00' * 600])
def test_unreadable_archive_is_invalid_tar_file(body):
    result = extract(settings(FakeSwift()), body)
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'].startswith('Invalid Tar File: ')


def test_archive_without_files_is_400_no_valid_files():
    result = extract(settings(FakeSwift()),
                     tar_bytes([('top', b'x'), ('dir', None)]))
    assert result['Response Status'] == '400 Bad Request'
    assert result['Response Body'] == 'Invalid Tar File: No Valid Files'


def test_refusals_before_reading():
    body = tar_bytes([('c/a', b'x')])
    assert b'406 Not Acceptable' in extract(
        settings(FakeSwift()), body, out_format=None)
    assert extract(settings(FakeSwift()), body, path='/v1')[
        'Response Status'] == '404 Not Found'
    req = Request.blank('/v1/AUTH_a', method='PUT', body=body)
    del req.environ['CONTENT_LENGTH']
    last = list(bulk_extract.extract_iter(
        settings(FakeSwift()), req, 'application/json'))[-1]
    assert json.loads(last)['Response Status'] == '411 Length Required'


def test_a_failing_pipeline_is_logged_and_answered_500():
    def broken(env, start_response):
        raise RuntimeError('proxy exploded')
    filt = settings(broken)
    result = extract(filt, tar_bytes([('c/a', b'x')]))
    assert result['Response Status'] == '500 Internal Error'
    assert filt.logger.lines == ['Error in extract archive.']
