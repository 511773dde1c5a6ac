"""The ring/builder file container: round trips, atomic writes, and a clear
RingError for every kind of bad file."""
import array
import gzip
import json
import os
import stat

import pytest

from objproxy.common.exceptions import RingError
from objproxy.ring.ringfile import (
    BUILDER_MAGIC, FORMAT_VERSION, RING_MAGIC, _PREFIX, dump, load)

HEADER = {'part_shift': 24, 'devs': [{'id': 0, 'ip': '10.0.0.1'}],
          'name': 'caf\u00e9'}


def tables():
    return [array.array('H', [0, 1, 2, 0xFFFF]), array.array('I', [7, 8]),
            array.array('d', [0.5]), array.array('B')]


def raw_file(path, payload, magic=RING_MAGIC, version=FORMAT_VERSION,
             header_len=None):
    """Write a gzip stream of prefix + payload, crafted by hand."""
    if header_len is None:
        header_len = len(payload)
    with open(path, 'wb') as fp:
        fp.write(gzip.compress(_PREFIX.pack(magic, version, header_len) +
                               payload))
    return str(path)


def header_blob(header):
    return json.dumps(header).encode('utf-8')


# -- good files ---------------------------------------------------------------
def test_header_and_arrays_round_trip(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, HEADER, tables())
    header, arrays = load(path, RING_MAGIC)
    assert header == HEADER
    assert [(a.typecode, a.tolist()) for a in arrays] == [
        (a.typecode, a.tolist()) for a in tables()]


def test_dump_does_not_change_the_callers_header(tmp_path):
    header = dict(HEADER)
    dump(str(tmp_path / 'r.gz'), RING_MAGIC, header, tables())
    assert header == HEADER


def test_same_content_gives_byte_identical_files(tmp_path):
    first, second = str(tmp_path / 'a.gz'), str(tmp_path / 'b.gz')
    dump(first, BUILDER_MAGIC, HEADER, tables())
    dump(second, BUILDER_MAGIC, dict(reversed(list(HEADER.items()))),
         tables())
    with open(first, 'rb') as a, open(second, 'rb') as b:
        assert a.read() == b.read()


def test_written_file_is_world_readable_and_no_temp_file_remains(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, HEADER, tables())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(str(tmp_path)) == ['object.ring.gz']


def test_dump_replaces_an_existing_file(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, {'v': 1}, [])
    dump(path, RING_MAGIC, {'v': 2}, [array.array('H', [3])])
    header, arrays = load(path, RING_MAGIC)
    assert header == {'v': 2} and arrays[0].tolist() == [3]


class Unwritable(object):
    """Looks like an array to the header code, fails when written."""
    typecode = 'H'

    def __len__(self):
        return 1


def test_failed_write_leaves_the_previous_file_intact(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, {'v': 1}, [array.array('H', [1])])
    with pytest.raises(TypeError):
        dump(path, RING_MAGIC, {'v': 2}, [Unwritable()])
    assert load(path, RING_MAGIC)[0] == {'v': 1}
    assert os.listdir(str(tmp_path)) == ['object.ring.gz']


# -- bad files: each a RingError naming the file ------------------------------
def assert_ring_error(path, words, magic=RING_MAGIC):
    with pytest.raises(RingError) as info:
        load(path, magic)
    message = str(info.value)
    assert str(path) in message
    assert words in message
    return message


def test_missing_file(tmp_path):
    assert_ring_error(str(tmp_path / 'nope.ring.gz'), 'does not exist')


def test_directory_instead_of_file(tmp_path):
    assert_ring_error(str(tmp_path), 'is a directory')


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.ring.gz'
    path.write_bytes(b'')
    assert_ring_error(str(path), 'is empty')


def test_file_that_is_not_gzip(tmp_path):
    path = tmp_path / 'plain.ring.gz'
    path.write_bytes(b'this is a text file\n')
    assert_ring_error(str(path), 'corrupt or truncated')


def test_truncated_gzip_stream(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, HEADER, tables())
    with open(path, 'rb') as fp:
        data = fp.read()
    with open(path, 'wb') as fp:
        fp.write(data[:len(data) // 2])
    assert_ring_error(path, 'corrupt or truncated')


def test_flipped_bit_is_detected(tmp_path):
    path = str(tmp_path / 'object.ring.gz')
    dump(path, RING_MAGIC, HEADER, [array.array('H', range(500))])
    with open(path, 'rb') as fp:
        data = bytearray(fp.read())
    data[len(data) // 2] ^= 0x10
    with open(path, 'wb') as fp:
        fp.write(bytes(data))
    assert_ring_error(path, 'corrupt or truncated')


def test_gzip_of_a_stream_shorter_than_the_prefix(tmp_path):
    path = tmp_path / 'short.ring.gz'
    path.write_bytes(gzip.compress(b'OPX'))
    assert_ring_error(str(path), 'is truncated')


def test_builder_file_loaded_as_a_ring_says_so(tmp_path):
    path = str(tmp_path / 'object.builder')
    dump(path, BUILDER_MAGIC, HEADER, [])
    message = assert_ring_error(path, 'is a builder file, not a ring file')
    assert message == '%s is a builder file, not a ring file' % path
    ring = str(tmp_path / 'object.ring.gz')
    dump(ring, RING_MAGIC, HEADER, [])
    assert_ring_error(ring, 'is a ring file, not a builder file',
                      magic=BUILDER_MAGIC)


def test_foreign_gzip_file(tmp_path):
    path = tmp_path / 'other.gz'
    path.write_bytes(gzip.compress(b'\x80\x02}q\x00(U\x04' * 10))
    assert_ring_error(str(path), 'is not an objproxy ring file')


def test_newer_format_version_is_refused(tmp_path):
    blob = header_blob({'arrays': []})
    path = raw_file(tmp_path / 'new.ring.gz', blob,
                    version=FORMAT_VERSION + 1)
    assert_ring_error(path, 'has format version %d; this objproxy reads '
                      'version %d' % (FORMAT_VERSION + 1, FORMAT_VERSION))


def test_header_length_beyond_the_data(tmp_path):
    blob = header_blob({'arrays': []})
    path = raw_file(tmp_path / 'r.gz', blob, header_len=len(blob) + 1)
    assert_ring_error(path, 'is truncated')


@pytest.mark.parametrize('payload', [
    b'{not json',
    b'[1, 2]',                            # not an object
    b'"text"',
    b'{"devs": []}',                      # no array descriptions
    b'{"arrays": {"typecode": "H"}}',     # descriptions not a list
    b'\xff\xfe',                          # not UTF-8
])
def test_corrupt_header(tmp_path, payload):
    assert_ring_error(raw_file(tmp_path / 'r.gz', payload),
                      'has a corrupt header')


@pytest.mark.parametrize('spec', [
    {'typecode': 'Z', 'length': 1},       # not an array type
    {'typecode': 7, 'length': 1},
    {'typecode': 'H', 'length': 'many'},
    {'typecode': 'H'},                    # length missing
    'H',                                  # not a description
])
def test_corrupt_table_description(tmp_path, spec):
    blob = header_blob({'arrays': [spec]})
    path = raw_file(tmp_path / 'r.gz', blob + b'\x00' * 8,
                    header_len=len(blob))
    assert_ring_error(path, 'has a corrupt table')


def test_table_shorter_than_described(tmp_path):
    blob = header_blob({'arrays': [{'typecode': 'H', 'length': 10}]})
    path = raw_file(tmp_path / 'r.gz', blob + b'\x00' * 19,
                    header_len=len(blob))
    assert_ring_error(path, 'is truncated')


def test_negative_table_length(tmp_path):
    blob = header_blob({'arrays': [{'typecode': 'H', 'length': -1}]})
    path = raw_file(tmp_path / 'r.gz', blob, header_len=len(blob))
    assert_ring_error(path, 'is truncated')


def test_trailing_garbage_after_the_tables(tmp_path):
    blob = header_blob({'arrays': [{'typecode': 'H', 'length': 1}]})
    path = raw_file(tmp_path / 'r.gz', blob + b'\x01\x00extra',
                    header_len=len(blob))
    assert_ring_error(path, 'has trailing garbage')
