"""The object file format: version-2 block checksums beside version 1."""
import os
import struct

import pytest

from objproxy.common.hashing import set_hash_config
from objproxy.storage.diskfile import DiskFile
from objproxy.storage.object_format import (
    CHECKSUM, CHECKSUM_SIZE, TRAILER, TRAILER_SIZE, CorruptBlock,
    CorruptFile, block_count, checksum, decode_tail, encode_metadata,
    encode_v2_tail, first_bad_block, read_info_fd)


def v2_file(body, block_size, metadata=None):
    table = b''.join(CHECKSUM.pack(checksum(body[at:at + block_size]))
                     for at in range(0, len(body), block_size))
    return body + encode_v2_tail(metadata or {'k': 'v'}, table, block_size)


def info_of(data):
    info = decode_tail(data, len(data))
    assert not isinstance(info, tuple)
    return info


@pytest.mark.parametrize('size', [0, 1, 511, 512, 513, 1024, 5000])
def test_v2_body_size_and_blocks_follow_from_the_trailer(size):
    body = os.urandom(size)
    data = v2_file(body, 512)
    info = info_of(data)
    assert info.metadata == {'k': 'v'}
    assert info.block_size == 512
    assert info.body_size == size
    assert info.blocks == block_count(size, 512) == -(-size // 512)
    table = data[size:size + info.blocks * CHECKSUM_SIZE]
    assert first_bad_block(body, 512, table) is None


def test_v2_trailer_names_version_and_block_size():
    data = v2_file(b'x' * 100, 65536)
    magic, version, shift, length, _crc = TRAILER.unpack(
        data[-TRAILER_SIZE:])
    assert (magic, version, shift) == (b'OPXM', 2, 16)


def test_v1_files_still_read():
    body = b'old bytes'
    data = body + encode_metadata({'a': 'b'})
    info = info_of(data)
    assert (info.metadata, info.body_size, info.block_size) == (
        {'a': 'b'}, len(body), 0)
    # tombstones and .meta files stay version 1
    assert TRAILER.unpack(encode_metadata({})[-TRAILER_SIZE:])[1] == 1


@pytest.mark.parametrize('block_size', [0, 256, 1000, 1 << 27])
def test_bad_block_sizes_are_refused(block_size):
    with pytest.raises(ValueError):
        encode_v2_tail({}, b'', block_size)


def test_unknown_version_or_block_shift_is_corrupt():
    data = bytearray(v2_file(b'abc', 512))
    data[-TRAILER_SIZE + 4] = 3          # version 3
    with pytest.raises(CorruptFile):
        decode_tail(bytes(data), len(data))
    data = bytearray(v2_file(b'abc', 512))
    data[-TRAILER_SIZE + 5] = 40         # 2**40 byte blocks
    with pytest.raises(CorruptFile):
        decode_tail(bytes(data), len(data))


def test_bytes_that_cannot_be_body_and_table_are_corrupt():
    # 3 bytes before the metadata: too few for even one block's checksum
    # (a truncation the split can still explain is caught by comparing
    # the body size with Content-Length, as for version 1)
    broken = b'abc' + v2_file(b'', 512)
    with pytest.raises(CorruptFile):
        decode_tail(broken, len(broken))


def test_first_bad_block():
    body = os.urandom(1300)
    table = b''.join(CHECKSUM.pack(checksum(body[at:at + 512]))
                     for at in range(0, 1300, 512))
    assert first_bad_block(body, 512, table) is None
    for at, index in ((0, 0), (700, 1), (1299, 2)):
        bad = bytearray(body)
        bad[at] ^= 0x80
        assert first_bad_block(bytes(bad), 512, table) == index
    # a table that does not cover the data does not pass
    assert first_bad_block(body, 512, table[:4]) == 0


# ------------------------------------------------------ DiskFile reading
@pytest.fixture
def dev(tmp_path):
    set_hash_config('prefix', 'suffix')
    (tmp_path / 'sda').mkdir()
    return str(tmp_path / 'sda')


def stored(dev, body, write_block_size=1024):
    df = DiskFile(dev, 1, 'a', 'c', 'o', fsync=False, use_tpool=False,
                  write_block_size=write_block_size)
    writer = df.writer().open(len(body))
    try:
        for at in range(0, len(body), 777):   # writes across blocks
            writer.write(body[at:at + 777])
        writer.commit({'name': df.name, 'X-Timestamp': '1.00000',
                       'ETag': writer.etag,
                       'Content-Length': str(len(body))}, '1.00000')
    finally:
        writer.abort()
    df.open()
    return df, os.path.join(df.hash_dir, df.data_file)


def test_writer_stores_one_checksum_per_block(dev):
    body = os.urandom(70000)     # big enough that the body is not in tail
    df, path = stored(dev, body)
    df.close()
    with open(path, 'rb') as fp:
        data = fp.read()
    fd = os.open(path, os.O_RDONLY)
    try:
        info = read_info_fd(fd)
    finally:
        os.close(fd)
    assert info.block_size == 1024 and info.body_size == 70000
    want = [checksum(body[at:at + 1024]) for at in range(0, 70000, 1024)]
    table = data[70000:70000 + len(want) * 4]
    assert list(struct.unpack('>%dI' % len(want), table)) == want


@pytest.mark.parametrize('size', [100, 70000, 300000])
@pytest.mark.parametrize('start, stop', [
    (0, None), (0, 1), (1023, 1025), (5000, 9000), (-10, None)])
def test_verified_ranges_read_the_right_bytes(dev, size, start, stop):
    body = os.urandom(size)
    df, _path = stored(dev, body)
    start = start % size if start < 0 else min(start, size - 1)
    stop = size if stop is None else min(stop, size)
    try:
        got = b''.join(df.read_verified_range(start, stop, 4096))
    finally:
        df.close()
    assert got == body[start:stop]


def test_verified_read_stops_before_a_bad_block(dev):
    body = os.urandom(300000)
    df, path = stored(dev, body)
    with open(path, 'r+b') as fp:
        fp.seek(150000)
        fp.write(bytes([body[150000] ^ 1]))
    sent = []
    with pytest.raises(CorruptBlock) as caught:
        for chunk in df.read_verified_range(100, 300000, 8192):
            sent.append(chunk)
    df.close()
    assert caught.value.offset == 150000 // 1024 * 1024
    assert b''.join(sent) == body[100:caught.value.offset]
    # a range that ends before the bad block does not see it
    df.open()
    try:
        assert b''.join(df.read_verified_range(0, 149000, 8192)) == \
            body[:149000]
    finally:
        df.close()


def test_a_bad_checksum_table_entry_is_a_bad_block(dev):
    body = os.urandom(100000)
    df, path = stored(dev, body)
    with open(path, 'r+b') as fp:
        fp.seek(100000 + 4 * 50)         # the CRC of block 50
        crc = fp.read(1)
        fp.seek(100000 + 4 * 50)
        fp.write(bytes([crc[0] ^ 1]))
    df.close()
    df.open()       # the table is in the tail read when the file opens
    with pytest.raises(CorruptBlock) as caught:
        b''.join(df.read_verified_range(0, 100000, 65536))
    df.close()
    assert caught.value.offset == 50 * 1024


def test_small_file_is_checked_in_memory(dev):
    body = b'tiny object'
    df, path = stored(dev, body)
    df.check_body(df.tail[:len(body)])
    with pytest.raises(CorruptBlock):
        df.check_body(b'tinY object')
    df.close()


def test_write_block_size_zero_writes_version1(dev):
    df, path = stored(dev, b'old style', write_block_size=0)
    df.close()
    assert df.block_size == 0
    with open(path, 'rb') as fp:
        assert TRAILER.unpack(fp.read()[-TRAILER_SIZE:])[1] == 1
