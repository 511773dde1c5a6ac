"""Auditor: corrupt object files and databases are quarantined."""
import os
import sqlite3

from objproxy.common.timestamp import Timestamp
from objproxy.daemons.auditor import ObjectAuditor, audit_file
from objproxy.storage.layout import INVALID_FILE
from objproxy.storage.suffix_hashes import get_hashes
from objproxy.storage.container_broker import ContainerBroker
from tests.unit.daemons.conftest import write_object


def test_audit_file_checks_md5_and_size(tmp_path):
    dev = str(tmp_path / 'sda')
    good = write_object(dev, 1, 'good', b'x' * 1000)
    bad = write_object(dev, 1, 'bad', b'y' * 1000)
    with open(bad, 'r+b') as fp:
        fp.write(b'z')
    assert audit_file(good) is None
    assert 'MD5' in audit_file(bad)
    # the zero-byte fast pass does not read bodies
    assert audit_file(bad, zero_byte_only=True) is None


def test_audit_file_checks_block_checksums_of_version2(tmp_path):
    dev = str(tmp_path / 'sda')
    body = os.urandom(5000)
    good = write_object(dev, 1, 'good', body, block_size=1024)
    bad = write_object(dev, 1, 'bad', body, block_size=1024)
    with open(bad, 'r+b') as fp:
        fp.seek(4100)                       # the last (short) block
        fp.write(b'\0' if body[4100:4101] != b'\0' else b'\1')
    assert audit_file(good) is None
    assert audit_file(bad) == 'block checksum mismatch at byte 4096'
    assert audit_file(bad, zero_byte_only=True) is None


def test_audit_file_catches_a_bad_checksum_table(tmp_path):
    dev = str(tmp_path / 'sda')
    body = os.urandom(3000)
    path = write_object(dev, 1, 'o', body, block_size=1024)
    with open(path, 'r+b') as fp:
        fp.seek(3000 + 4)                   # the second block's CRC
        crc = fp.read(1)
        fp.seek(3000 + 4)
        fp.write(bytes([crc[0] ^ 1]))
    assert audit_file(path) == 'block checksum mismatch at byte 1024'


def test_audit_file_passes_empty_version2_object(tmp_path):
    path = write_object(str(tmp_path / 'sda'), 1, 'o', b'', block_size=1024)
    assert audit_file(path) is None


def test_run_once_quarantines_and_invalidates(tmp_path):
    dev = str(tmp_path / 'sda')
    write_object(dev, 3, 'good', b'fine')
    bad = write_object(dev, 3, 'bad', b'fine too')
    get_hashes(dev, 3)
    with open(bad, 'r+b') as fp:
        fp.write(b'F')
    # a corrupt container database beside them
    db_dir = os.path.join(dev, 'containers', '9', 'abc', 'f' * 29 + 'abc')
    os.makedirs(db_dir)
    db = os.path.join(db_dir, 'f' * 29 + 'abc.db')
    broker = ContainerBroker(db, account='a', container='c', fsync=False)
    broker.initialize(Timestamp.now().internal)
    broker.close()
    with open(db, 'r+b') as fp:
        fp.seek(100)
        fp.write(b'\xde\xad' * 2000)
    auditor = ObjectAuditor({'devices': str(tmp_path),
                             'files_per_second': '0'})
    stats = auditor.run_once()
    assert stats['quarantined'] == 1
    assert stats['files_checked'] == 2
    assert not os.path.exists(bad)
    qdir = os.path.join(dev, 'quarantined', 'objects',
                        os.path.basename(os.path.dirname(bad)))
    assert os.path.isdir(qdir)
    # the suffix was invalidated so replication notices
    assert os.path.exists(os.path.join(dev, 'objects', '3',
                                       INVALID_FILE))
    assert stats['dbs_quarantined'] == 1
    assert os.path.isdir(os.path.join(dev, 'quarantined', 'containers',
                                      'f' * 29 + 'abc'))
    assert not os.path.exists(db)


def test_integrity_check_passes_good_db(tmp_path):
    from objproxy.daemons.auditor import check_database
    db = str(tmp_path / 'x.db')
    conn = sqlite3.connect(db)
    conn.execute('CREATE TABLE t (a)')
    conn.close()
    assert check_database(db) is None
