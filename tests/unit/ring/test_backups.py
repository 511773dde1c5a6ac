"""Every state a builder or ring file had is kept once in backups/."""
import os

import pytest

from objproxy.ring import backups


def write(text):
    def writer(path):
        with open(path, 'w') as fp:
            fp.write(text)
    return writer


def contents(path):
    return [open(p).read() for p in backups.backups_of(path)]


def test_replace_keeps_the_state_before_and_after_once_each(tmp_path):
    path = str(tmp_path / 'object.builder')
    write('made elsewhere')(path)
    backups.replace(path, write('one'))
    backups.replace(path, write('two'))
    backups.replace(path, write('two'))
    assert contents(path) == ['made elsewhere', 'one', 'two']
    names = [os.path.basename(p) for p in backups.backups_of(path)]
    assert all(n.endswith('.object.builder') for n in names)
    assert len(set(n.split('.')[0] for n in names)) == 3  # -N within 1 s


def test_backups_of_another_file_do_not_count(tmp_path):
    ring = str(tmp_path / 'object.ring.gz')
    builder = str(tmp_path / 'object.builder')
    backups.replace(builder, write('same'))
    backups.replace(ring, write('same'))
    assert contents(ring) == ['same'] and contents(builder) == ['same']


def test_nothing_is_written_when_the_old_state_cannot_be_kept(tmp_path):
    path = str(tmp_path / 'object.builder')
    write('precious')(path)
    (tmp_path / 'backups').write_text('a file, not a directory')
    with pytest.raises(OSError):
        backups.replace(path, write('new'))
    assert open(path).read() == 'precious'
