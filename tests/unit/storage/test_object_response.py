"""object_response: the object server's headers, conditional answers and
body iterators, over real DiskFiles written to a temporary device."""
import hashlib
import os

import pytest

from objproxy.common.hashing import set_hash_config
from objproxy.common.timestamp import Timestamp
from objproxy.storage import object_response as orsp
from objproxy.storage.diskfile import DiskFile
from objproxy.storage.object_request import HTTPError
from tests.unit.middleware.test_dlo import ListLogger
from tests.unit.storage.test_object_server import corrupt

BODY = bytes(range(256)) * 20        # 5120 bytes


@pytest.fixture
def dev(tmp_path):
    set_hash_config('prefix', 'suffix')
    (tmp_path / 'sda').mkdir()
    return str(tmp_path / 'sda')


def stored(dev, body=BODY, block_size=1024, damage_at=None, **meta):
    """An object written and opened; ``damage_at`` flips one byte of the
    file before it is opened (an open file keeps its tail in memory)."""
    df = DiskFile(dev, 1, 'a', 'c', 'o', fsync=False, use_tpool=False,
                  write_block_size=block_size)
    writer = df.writer().open(len(body))
    try:
        writer.write(body)
        metadata = {'name': df.name, 'X-Timestamp': '1700000000.12345',
                    'ETag': writer.etag, 'Content-Length': str(len(body)),
                    'Content-Type': 'text/plain'}
        metadata.update(meta)
        writer.commit(metadata, '1700000000.12345')
    finally:
        writer.abort()
    if damage_at is not None:
        df.open()
        path = os.path.join(df.hash_dir, df.data_file)
        df.close()
        corrupt(path, damage_at)
    metadata = df.open()
    return df, metadata, os.path.join(df.hash_dir, df.data_file)


def quarantined(dev, df):
    return os.path.isdir(os.path.join(dev, 'quarantined', 'objects',
                                      df.name_hash))


class Recorder(object):
    def __init__(self):
        self.status = self.headers = None

    def __call__(self, status, headers, exc_info=None):
        self.status, self.headers = status, list(headers)


# ------------------------------------------------------------ small parts

def test_respond_sends_a_plain_text_body():
    start = Recorder()
    body = orsp.respond(start, 507, [('X-Extra', '1')], 'Insufficient')
    assert start.status.startswith('507 ')
    assert ('X-Extra', '1') in start.headers
    assert dict(start.headers)['Content-Type'] == 'text/plain; charset=UTF-8'
    assert b''.join(body) == b'Insufficient'


@pytest.mark.parametrize('timestamp, seconds', [
    ('1700000000.00000', 1700000000), ('1700000000.00001', 1700000001),
    ('1700000000.99999', 1700000001)])
def test_whole_seconds_rounds_up(timestamp, seconds):
    assert orsp.whole_seconds(timestamp) == seconds


def test_backend_timestamp_error_names_the_newest_timestamp():
    err = orsp.backend_timestamp_error(404, Timestamp('1700000000.5'))
    assert isinstance(err, HTTPError)
    assert (err.status, err.body) == (404, '')
    assert err.headers == [('X-Backend-Timestamp', '1700000000.50000')]


def test_object_headers_show_stored_metadata_and_timestamps(dev):
    df, metadata, _ = stored(dev, **{
        'X-Object-Meta-Color': 'blue', 'X-Object-Sysmeta-Slo-Etag': 'e',
        'X-Object-Transient-Sysmeta-Crypto': 't',
        'Content-Disposition': 'inline', 'X-Delete-At': '1800000000',
        'X-Backend-Private': 'never shown'})
    headers = orsp.object_headers(df, metadata)
    df.close()
    as_dict = dict(headers)
    assert as_dict['Content-Type'] == 'text/plain'
    assert as_dict['ETag'] == hashlib.md5(BODY).hexdigest()
    assert as_dict['Last-Modified'] == 'Tue, 14 Nov 2023 22:13:21 GMT'
    assert as_dict['X-Timestamp'] == '1700000000.12345'
    assert as_dict['X-Backend-Timestamp'] == '1700000000.12345'
    assert as_dict['X-Backend-Data-Timestamp'] == '1700000000.12345'
    assert as_dict['Accept-Ranges'] == 'bytes'
    for key in ('X-Object-Meta-Color', 'X-Object-Sysmeta-Slo-Etag',
                'X-Object-Transient-Sysmeta-Crypto', 'Content-Disposition',
                'X-Delete-At'):
        assert key in as_dict
    assert 'X-Backend-Private' not in as_dict
    assert 'Content-Length' not in as_dict


def test_object_without_content_type_is_octet_stream(dev):
    df, metadata, _ = stored(dev)
    metadata.pop('Content-Type')
    assert dict(orsp.object_headers(df, metadata))['Content-Type'] == \
        'application/octet-stream'
    df.close()


HEADERS = [('Content-Type', 'text/plain'), ('ETag', 'abc'),
           ('Last-Modified', 'Tue, 14 Nov 2023 22:13:21 GMT'),
           ('X-Timestamp', '1700000000.12345'),
           ('X-Backend-Timestamp', '1700000000.12345'),
           ('X-Object-Meta-Color', 'blue'),
           ('X-Object-Sysmeta-Symlink-Target', 'c/t')]


def test_304_keeps_the_headers_but_the_type_and_has_no_body():
    start = Recorder()
    body = orsp.conditional_response(start, 304, HEADERS)
    assert start.status.startswith('304 ')
    names = [k for k, _ in start.headers]
    assert 'Content-Type' not in names
    assert ('X-Object-Meta-Color', 'blue') in start.headers
    assert ('Content-Length', '0') in start.headers
    assert b''.join(body) == b''


def test_412_carries_only_validators_and_sysmeta():
    start = Recorder()
    body = orsp.conditional_response(start, 412, HEADERS)
    assert start.status.startswith('412 ')
    names = [k for k, _ in start.headers]
    for name in ('ETag', 'Last-Modified', 'X-Timestamp',
                 'X-Backend-Timestamp', 'X-Object-Sysmeta-Symlink-Target'):
        assert name in names
    assert 'X-Object-Meta-Color' not in names
    assert b''.join(body) == b'Precondition Failed'


# ------------------------------------------------------------ BodyIter

def test_body_iter_streams_ranges_of_a_checksummed_file(dev):
    df, _, _ = stored(dev)
    parts = [(b'--b\r\nhead1\r\n\r\n', 10, 20), (b'--b\r\nhead2\r\n\r\n',
                                                   3000, 5120)]
    out = b''.join(orsp.BodyIter(df, parts, b'--b--', 512))
    assert out == (b'--b\r\nhead1\r\n\r\n' + BODY[10:20] + b'\r\n' +
                   b'--b\r\nhead2\r\n\r\n' + BODY[3000:] + b'\r\n--b--')
    assert df.fd is None        # closed once done


def test_body_iter_of_a_version_1_file_sends_the_bytes_as_read(dev):
    df, _, _ = stored(dev, block_size=0, damage_at=100)
    assert df.block_size == 0
    out = b''.join(orsp.BodyIter(df, [(b'', 0, len(BODY))], b'', 4096))
    assert len(out) == len(BODY) and out != BODY
    assert not quarantined(dev, df)


def test_corrupt_block_quarantines_and_aborts_after_the_good_bytes(dev):
    df, _, _ = stored(dev, damage_at=2500)   # the third 1024-byte block
    logger = ListLogger()
    sent = []
    with pytest.raises(orsp.CorruptBodyAbort):
        for chunk in orsp.BodyIter(df, [(b'', 0, len(BODY))], b'', 1024,
                                   logger):
            sent.append(chunk)
    assert b''.join(sent) == BODY[:2048]
    assert quarantined(dev, df)
    assert len(logger.lines) == 1
    assert logger.lines[0].startswith('quarantined /a/c/o: ')


def test_body_iter_close_closes_the_file(dev):
    df, _, _ = stored(dev)
    body = orsp.BodyIter(df, [(b'', 0, 10)], b'', 1024)
    body.close()
    assert df.fd is None


def test_quarantine_corrupt_tolerates_a_file_already_gone(dev):
    df, _, _ = stored(dev)
    logger = ListLogger()
    orsp.quarantine_corrupt(df, ValueError('bad'), logger)
    assert quarantined(dev, df)
    orsp.quarantine_corrupt(df, ValueError('again'), None)
    assert logger.lines == ['quarantined /a/c/o: bad']


# ---------------------------------------------------- VerifyingBodyIter

def test_verifying_body_iter_sends_a_good_body_and_keeps_it(dev):
    df, metadata, _ = stored(dev, block_size=0)
    logger = ListLogger()
    out = b''.join(orsp.VerifyingBodyIter(df, len(BODY), metadata['ETag'],
                                          1000, logger))
    assert out == BODY
    assert logger.lines == []
    assert not quarantined(dev, df)
    assert df.fd is None


def test_verifying_body_iter_quarantines_a_body_not_matching_its_etag(dev):
    df, metadata, _ = stored(dev, block_size=0, damage_at=4000)
    logger = ListLogger()
    out = b''.join(orsp.VerifyingBodyIter(df, len(BODY), metadata['ETag'],
                                          1000, logger))
    assert len(out) == len(BODY)    # sent before the mismatch was known
    assert logger.lines == ['quarantined /a/c/o: content does not match '
                            'its ETag']
    assert quarantined(dev, df)


def test_verifying_body_iter_quarantines_a_file_ending_early(dev):
    df, metadata, _ = stored(dev, block_size=0)
    logger = ListLogger()
    out = b''.join(orsp.VerifyingBodyIter(df, df.file_size + 10,
                                          metadata['ETag'], 1000, logger))
    assert len(out) == df.file_size and out.startswith(BODY)
    assert len(logger.lines) == 1
    assert quarantined(dev, df)
