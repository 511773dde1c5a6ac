"""Each daemon refuses keys its own section does not understand, and
never keys of [DEFAULT] (shared by the servers and every daemon)."""
import os

import pytest

from objproxy.common.exceptions import ConfigError
from objproxy.daemons import options
from objproxy.daemons.daemon import load_section

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def write(tmp_path, text):
    path = tmp_path / 'node.conf'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('section', sorted(options.BY_SECTION))
def test_shipped_storage_config_loads_for_every_daemon(section):
    conf = load_section(os.path.join(ROOT, 'etc', 'storage-server.conf'),
                        section)
    assert conf['devices'] == '/srv/node'


def test_unknown_key_in_a_daemon_section_names_section_and_key(tmp_path):
    path = write(tmp_path, '[DEFAULT]\ndevices = /d\n\n'
                           '[object-replicator]\nconcurency = 4\n')
    with pytest.raises(ConfigError) as err:
        load_section(path, 'object-replicator')
    assert str(err.value) == \
        '[object-replicator] unknown option concurency'


def test_default_keys_of_other_servers_are_not_unknown(tmp_path):
    path = write(tmp_path, '[DEFAULT]\ndevices = /d\ndisk_tpool = false\n'
                           'account_report_interval = 2\n\n'
                           '[object-updater]\nobjects_per_second = 5\n')
    conf = load_section(path, 'object-updater')
    assert conf['objects_per_second'] == '5'
    assert conf['disk_tpool'] == 'false'


def test_every_daemon_option_is_accepted(tmp_path):
    for section, known in options.BY_SECTION.items():
        path = write(tmp_path, '[%s]\n%s' % (section, ''.join(
            '%s = 1\n' % key for key in known)))
        assert set(known) <= set(load_section(path, section))


def test_sections_that_are_no_daemons_are_not_checked(tmp_path):
    path = write(tmp_path, '[app:storage-server]\nwhatever = 1\n')
    assert load_section(path, 'app:storage-server')['whatever'] == '1'
