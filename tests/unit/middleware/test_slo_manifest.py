"""slo_manifest: validating uploaded manifests and reading stored ones."""
import base64
import hashlib
import io
import json
import socket

import pytest

from middleware import slo_manifest as sm
from middleware.large_objects import SubResponse

OWN = '/c/manifest'


def md5(data):
    return hashlib.md5(data).hexdigest()


def parse(segments, own=OWN):
    return sm.parse_manifest(json.dumps(segments), own)


def problems_of(segments):
    with pytest.raises(sm.BadManifest) as err:
        parse(segments)
    assert err.value.status == 400
    return err.value.message


def head(status='200 OK', **headers):
    header_list = [(k.replace('_', '-'), v) for k, v in headers.items()]
    return SubResponse(status, header_list, iter([]), None)


# ------------------------------------------------------ reading the body

class BrokenInput(object):
    def __init__(self, error):
        self.error = error

    def read(self, size):
        raise self.error


def env_with(body=b'', **extra):
    env = {'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body))}
    env.update(extra)
    return env


def test_read_manifest_body_returns_the_whole_body():
    body = b'x' * (sm.READ_CHUNK * 2 + 5)
    assert sm.read_manifest_body(env_with(body), len(body)) == body


def test_read_manifest_body_declared_too_large_is_413():
    with pytest.raises(sm.BadManifest) as err:
        sm.read_manifest_body(env_with(b'abcdef'), 5)
    assert (err.value.status, err.value.message) == (
        413, 'Manifest File > 5 bytes')


def test_read_manifest_body_chunked_too_large_is_413():
    env = env_with(b'abcdef', HTTP_TRANSFER_ENCODING='chunked')
    del env['CONTENT_LENGTH']
    with pytest.raises(sm.BadManifest) as err:
        sm.read_manifest_body(env, 5)
    assert err.value.status == 413


def test_read_manifest_body_chunked_within_limit():
    env = env_with(b'[1]', HTTP_TRANSFER_ENCODING='Chunked')
    env['CONTENT_LENGTH'] = ''
    assert sm.read_manifest_body(env, 5) == b'[1]'


def test_read_manifest_body_needs_a_length_or_chunked():
    env = env_with(b'[]')
    del env['CONTENT_LENGTH']
    with pytest.raises(sm.BadManifest) as err:
        sm.read_manifest_body(env, 100)
    assert (err.value.status, err.value.message) == (411, 'Length Required')


def test_read_manifest_body_bad_content_length_is_400():
    with pytest.raises(sm.BadManifest) as err:
        sm.read_manifest_body(env_with(CONTENT_LENGTH='ten'), 100)
    assert err.value.status == 400


@pytest.mark.parametrize('error, status', [
    (socket.timeout('slow'), 408),
    (ValueError('bad chunk size'), 400),
    (OSError('reset'), 499),
    (EOFError(), 499),
])
def test_broken_client_body_is_the_clients_error(error, status):
    env = {'wsgi.input': BrokenInput(error), 'CONTENT_LENGTH': '10'}
    with pytest.raises(sm.BadManifest) as err:
        sm.read_manifest_body(env, 100)
    assert err.value.status == status


# -------------------------------------------------------- inline data

@pytest.mark.parametrize('text, raw', [
    ('YWJj', b'abc'), ('YWI', b'ab'), ('Y W\nI=', b'ab'), ('', b'')])
def test_decode_data_tolerates_whitespace_and_missing_padding(text, raw):
    assert sm.decode_data(text) == raw


@pytest.mark.parametrize('value', ['a*b=', 'caf\u00e9', 5, None])
def test_decode_data_rejects_non_base64(value):
    with pytest.raises(ValueError):
        sm.decode_data(value)


# ------------------------------------------------------ parse_manifest

def test_valid_manifest_keeps_object_keys_and_normalises_data():
    segs = parse([{'data': 'YWI'},
                  {'path': '/c/s1', 'etag': 'e', 'size_bytes': '5',
                   'range': ''},
                  {'path': 'c/s2', 'range': '1-2', 'size_bytes': 3}])
    assert segs == [{'data': 'YWI='},
                    {'path': '/c/s1', 'etag': 'e', 'size_bytes': 5},
                    {'path': 'c/s2', 'range': '1-2', 'size_bytes': 3}]


@pytest.mark.parametrize('body, message', [
    ('not json', 'Manifest must be valid JSON.\n'),
    ('{"path": "/c/o"}', 'Manifest must be a list.\n'),
    ('[]', 'Manifest must have at least one segment.\n'),
    ('[' * 100000 + ']' * 100000, 'Manifest must be valid JSON.\n'),
])
def test_malformed_manifest_documents(body, message):
    with pytest.raises(sm.BadManifest) as err:
        sm.parse_manifest(body, OWN)
    assert (err.value.status, err.value.message) == (400, message)


def test_every_bad_segment_is_reported_by_index():
    message = problems_of([
        'text',
        {'etag': 'x'},
        {'path': '/c/o', 'extra': 1, 'more': 2},
        {'data': 'YQ==', 'path': '/c/o'},
        {'data': '!!'},
        {'data': ''},
        {'path': 5},
        {'path': '/c/o', 'etag': 5},
        {'path': '/c/o'},
    ])
    assert message.splitlines() == [
        'Index 0: not a JSON object',
        "Index 1: expected keys to include one of 'data' or 'path'",
        'Index 2: extraneous keys "extra", "more"',
        'Index 3: extraneous keys "path"',
        'Index 4: data must be valid base64',
        'Index 5: too small; each segment must be at least 1 byte.',
        'Index 6: "path" must be a string',
        'Index 7: "etag" must be a string or null (if provided)',
    ]


@pytest.mark.parametrize('path', ['/c', 'c', '/c/', '/c/o\x00x', '/'])
def test_segment_path_must_name_an_object(path):
    assert 'path does not refer to an object' in problems_of(
        [{'path': path}])


def test_manifest_may_not_name_itself():
    for path in ('/c/manifest', 'c/manifest', '//c/manifest'):
        assert problems_of([{'path': path}]) == (
            'Index 0: manifest must not include itself as a segment\n')


@pytest.mark.parametrize('size', [True, 1.5, 'x1', '-1', -1, [1], {}])
def test_invalid_size_bytes(size):
    assert problems_of([{'path': '/c/o', 'size_bytes': size}]) == \
        'Index 0: invalid size_bytes\n'


def test_zero_size_is_allowed_only_for_the_last_segment():
    assert parse([{'path': '/c/a'}, {'path': '/c/b', 'size_bytes': 0}])
    assert problems_of([{'path': '/c/a', 'size_bytes': 0},
                        {'path': '/c/b'}]) == (
        'Index 0: too small; each segment must be at least 1 byte.\n')


@pytest.mark.parametrize('seg, message', [
    ({'range': 5}, 'invalid range'),
    ({'range': 'abc'}, 'invalid range'),
    ({'range': '0-1,3-4'}, 'multiple ranges (only one allowed)'),
    ({'range': '10-20', 'size_bytes': 5}, 'unsatisfiable range'),
])
def test_bad_ranges(seg, message):
    seg = dict(seg, path='/c/o')
    assert problems_of([seg]) == 'Index 0: %s\n' % message


def test_range_within_a_known_size_is_kept():
    assert parse([{'path': '/c/o', 'range': '-3', 'size_bytes': 10}])[0][
        'range'] == '-3'


def test_inline_data_alone_is_refused():
    assert problems_of([{'data': 'YQ=='}, {'data': 'Yg=='}]) == (
        'Inline data segments require at least one object-backed '
        'segment.\n')


# --------------------------------------------------- check_against_head

def test_check_against_head_describes_the_segment():
    entry, problems = sm.check_against_head(
        {'path': 'c/s', 'etag': '"%s"' % md5(b'abc'), 'size_bytes': 3},
        head(content_length='3', etag=md5(b'abc'),
             content_type='text/x; swift_bytes=99',
             last_modified='Wed, 01 Jan 2025 00:00:00 GMT'), False)
    assert problems == []
    assert entry == {'name': '/c/s', 'bytes': 3, 'hash': md5(b'abc'),
                     'content_type': 'text/x',
                     'last_modified': '2025-01-01T00:00:00.000000'}


def test_check_against_head_without_length_is_unknown_size():
    assert sm.check_against_head({'path': '/c/s'}, head(), False) == (
        None, ['Unknown size'])


def test_check_against_head_reports_size_and_etag_mismatch():
    _, problems = sm.check_against_head(
        {'path': '/c/s', 'etag': 'other', 'size_bytes': 4},
        head(content_length='3', etag='e'), False)
    assert problems == ['Size Mismatch', 'Etag Mismatch']


def test_check_against_head_records_a_partial_range_normalised():
    entry, problems = sm.check_against_head(
        {'path': '/c/s', 'range': '-3'},
        head(content_length='10', etag='e'), False)
    assert problems == []
    assert entry['range'] == '7-9'


def test_check_against_head_drops_a_range_covering_everything():
    entry, _ = sm.check_against_head(
        {'path': '/c/s', 'range': '0-'},
        head(content_length='10', etag='e'), False)
    assert 'range' not in entry


def test_check_against_head_unsatisfiable_range():
    _, problems = sm.check_against_head(
        {'path': '/c/s', 'range': '20-30'},
        head(content_length='10', etag='e'), False)
    assert 'Unsatisfiable Range' in problems


def test_check_against_head_empty_segment_only_when_allowed():
    seg = {'path': '/c/s'}
    empty = head(content_length='0', etag=md5(b''))
    assert sm.check_against_head(seg, empty, True)[1] == []
    assert sm.check_against_head(seg, empty, False)[1] == [
        'Too small; each segment must be at least 1 byte.']


def test_check_against_head_marks_nested_slo():
    entry, _ = sm.check_against_head(
        {'path': '/c/s'}, head(content_length='5', etag='e',
                               x_static_large_object='True'), False)
    assert entry['sub_slo'] is True


# ------------------------------------------------------ stored manifests

ENTRIES = [
    {'data': base64.b64encode(b'head').decode('ascii')},
    {'name': '/c/a', 'bytes': 10, 'hash': 'h1'},
    {'name': '/c/b', 'bytes': 10, 'hash': 'h2', 'range': '2-5'},
]


def test_entry_lengths_and_slo_size():
    assert [sm.entry_length(e) for e in ENTRIES] == [4, 10, 4]
    assert sm.segment_span(ENTRIES[2]) == (2, 6)
    assert sm.slo_size(ENTRIES) == 18


def test_slo_etag_folds_in_ranges_and_inline_data():
    expected = md5((md5(b'head') + 'h1' + 'h2:2-5;').encode('ascii'))
    assert sm.slo_etag(ENTRIES) == expected


def test_load_manifest_accepts_stored_entries():
    assert sm.load_manifest(json.dumps(ENTRIES)) == ENTRIES


@pytest.mark.parametrize('data', [
    '{}', '[1]', '[{"name": "/c/o"}]', '[{"hash": "h", "bytes": 1}]',
    '[{"name": "/c/o", "hash": "h"}]', '[{"data": 5}]',
    '[' * 100000 + ']' * 100000])
def test_load_manifest_rejects_corrupt_entries(data):
    with pytest.raises(ValueError):
        sm.load_manifest(data)


def test_raw_manifest_is_a_valid_upload_again():
    raw = sm.raw_manifest(ENTRIES)
    assert json.loads(raw) == [
        {'data': ENTRIES[0]['data']},
        {'path': '/c/a', 'etag': 'h1', 'size_bytes': 10},
        {'path': '/c/b', 'etag': 'h2', 'size_bytes': 10, 'range': '2-5'}]
    assert len(sm.parse_manifest(raw, OWN)) == 3


# ---------------------------------------------------------------- helpers

@pytest.mark.parametrize('accept, fmt', [
    (None, 'text/plain'),
    ('application/json', 'application/json'),
    ('application/xml;q=0.5, application/json;q=0.9', 'application/json'),
    ('text/xml', 'text/xml'),
    ('application/*', 'application/json'),
    ('*/*', 'text/plain'),
    ('image/png', 'text/plain'),
    ('application/json;q=0', 'text/plain'),
    ('application/json;q=high', 'text/plain'),
])
def test_best_format(accept, fmt):
    assert sm.best_format(accept) == fmt


def test_iso_last_modified_falls_back_to_the_epoch():
    assert sm.iso_last_modified('Thu, 01 Jan 1970 00:00:10 GMT') == \
        '1970-01-01T00:00:10.000000'
    assert sm.iso_last_modified(None) == '1970-01-01T00:00:00.000000'
    assert sm.iso_last_modified('garbage') == '1970-01-01T00:00:00.000000'
