"""Storage apps loaded through paste refuse keys of their own section
that they do not read, naming section and key; [DEFAULT] keys (shared by
several servers and the daemons) never count as unknown."""
import os

import pytest

from objproxy.common.exceptions import ConfigError
from objproxy.common.pipeline import load_app
from objproxy.storage import options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

CONF = '''[DEFAULT]
devices = %(devices)s
mount_check = false
objproxy_dir = %(dir)s
log_file = %(dir)s/log
%(defaults)s

[pipeline:main]
pipeline = main-app

[app:main-app]
use = egg:objproxy#%(entry)s
%(local)s
'''

APPS = [('storage_server', 'app:storage-server', options.STORAGE_NODE),
        ('object_server', 'app:object-server', options.OBJECT_SERVER),
        ('container_server', 'app:container-server',
         options.CONTAINER_SERVER),
        ('account_server', 'app:account-server', options.ACCOUNT_SERVER)]


def load(tmp_path, entry, local='', defaults=''):
    (tmp_path / 'objproxy.conf').write_text(
        '[objproxy-hash]\nhash_path_prefix = p\nhash_path_suffix = s\n')
    path = tmp_path / 'server.conf'
    path.write_text(CONF % {'devices': str(tmp_path / 'srv'),
                            'dir': str(tmp_path), 'entry': entry,
                            'local': local, 'defaults': defaults})
    return load_app(str(path))


@pytest.mark.parametrize('entry,section,known', APPS)
def test_unknown_option_stops_the_app(tmp_path, entry, section, known):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, entry, local='fsync = false\nfsynk = false\n')
    assert str(err.value).endswith(
        '[%s] unknown option fsynk' % section)


@pytest.mark.parametrize('entry,section,known', APPS)
def test_every_option_it_reads_is_accepted(tmp_path, entry, section,
                                           known):
    values = {'devices': str(tmp_path / 'srv'), 'objproxy_dir':
              str(tmp_path), 'mount_check': 'false', 'fsync': 'false',
              'disk_tpool': 'false', 'db_threadpool': 'false',
              'checksum_block_size': '65536'}
    local = ''.join('%s = %s\n' % (key, values.get(key, '5'))
                    for key in known)
    assert load(tmp_path, entry, local=local) is not None


def test_other_servers_options_in_default_are_not_unknown(tmp_path):
    app = load(tmp_path, 'object_server',
               defaults='account_report_interval = 2\nper_diff = 10\n')
    assert app is not None


def test_shipped_storage_config_loads(tmp_path):
    text = open(os.path.join(ROOT, 'etc', 'storage-server.conf')).read()
    text = text.replace('/srv/node', str(tmp_path / 'srv')).replace(
        '/etc/objproxy', str(tmp_path))
    path = tmp_path / 'storage-server.conf'
    path.write_text(text)
    (tmp_path / 'objproxy.conf').write_text(
        '[objproxy-hash]\nhash_path_prefix = p\nhash_path_suffix = s\n')
    assert load_app(str(path)) is not None
