"""aio's data dir belongs to the user: written once, then edited in place."""
import os

import pytest

from objproxy.cli.aio_layout import (
    AioLayout, read_text, remove_option, set_option)
from objproxy.common.exceptions import ConfigError
from objproxy.ring.builder import RingBuilder

PORTS = [16010, 16020, 16030, 16040]


def layout(tmp_path, **kwargs):
    result = AioLayout(str(tmp_path), **kwargs)
    result.write_all()
    return result


def conf(path):
    with open(path) as fp:
        return fp.read()


def tables(etc_dir, name='object'):
    builder = RingBuilder.load(os.path.join(etc_dir, name + '.builder'))
    return [list(t) for t in builder._replica2part2dev], builder


def test_first_run_writes_every_file_with_a_header(tmp_path):
    aio = layout(tmp_path, proxy_port=18080, node_ports=PORTS)
    for name in ('objproxy.conf', 'proxy-server.conf', 'node1.conf',
                 'node4.conf'):
        text = conf(os.path.join(aio.etc_dir, name))
        assert text.startswith('# objproxy-aio wrote this file once')
        assert 'yours to edit' in text and '--reset' in text
    proxy = read_text(conf(aio.proxy_conf))
    assert proxy.get('DEFAULT', 'bind_port') == '18080'
    assert proxy.get('DEFAULT', 'objproxy_dir') == aio.etc_dir
    node = read_text(conf(aio.node_conf(2)))
    assert node.get('DEFAULT', 'bind_port') == '16030'
    for name in ('account', 'container', 'object'):
        assert os.path.exists(os.path.join(aio.etc_dir, name + '.ring.gz'))


def test_the_template_pipeline_line_is_what_runs(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    template = read_text(conf(os.path.join(aio.templates,
                                           'proxy-server.conf')))
    assert aio.pipeline == ' '.join(
        template.get('pipeline:main', 'pipeline').split())
    assert aio.proxy_conf == aio.user_proxy_conf


def test_versioning_is_switched_on_when_the_template_has_it(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    proxy = read_text(conf(aio.proxy_conf))
    if not proxy.has_section('filter:versioned_writes'):
        pytest.skip('the template has no [filter:versioned_writes]')
    section = proxy['filter:versioned_writes']
    assert section['allow_versioned_writes'] == 'true'
    assert section['allow_object_versioning'] == 'true'


def test_a_restart_keeps_the_users_edits(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    edited = conf(aio.proxy_conf).replace(
        '[filter:healthcheck]',
        '[filter:hello]\n# my own filter\npaste.filter_factory = '
        'hello:filter_factory\n\n[filter:healthcheck]')
    with open(aio.proxy_conf, 'w') as fp:
        fp.write(edited)
    node = conf(aio.node_conf(0)) + '\n# a note of mine\n'
    with open(aio.node_conf(0), 'w') as fp:
        fp.write(node)
    again = layout(tmp_path)
    assert conf(again.proxy_conf) == edited
    assert conf(again.node_conf(0)) == node
    assert again.node_ports == PORTS


def test_new_ports_are_written_in_place_and_rings_follow(tmp_path):
    aio = layout(tmp_path, proxy_port=18080, node_ports=PORTS,
                 memcache_port=11999)
    before, _ = tables(aio.etc_dir)
    with open(aio.proxy_conf, 'a') as fp:
        fp.write('\n# kept\n')
    moved = [p + 1 for p in PORTS]
    again = layout(tmp_path, proxy_port=18081, node_ports=moved,
                   memcache_port=11998)
    text = conf(again.proxy_conf)
    assert text.endswith('\n# kept\n')
    proxy = read_text(text)
    assert proxy.get('DEFAULT', 'bind_port') == '18081'
    assert proxy.get('DEFAULT', 'memcache_servers') == '127.0.0.1:11998'
    assert read_text(conf(again.node_conf(3))).get(
        'DEFAULT', 'bind_port') == str(moved[3])
    after, builder = tables(again.etc_dir)
    assert after == before  # every partition stays on its device
    assert [d['port'] for d in builder.devs] == moved
    from objproxy.common.hashing import load_hash_config
    from objproxy.ring.ring import Ring
    load_hash_config(again.etc_dir)
    ring = Ring(again.etc_dir, ring_name='object')
    assert sorted(d['port'] for d in ring.devs) == moved


def backed_up(aio, name):
    folder = os.path.join(aio.etc_dir, 'backups')
    return [open(os.path.join(folder, n), 'rb').read()
            for n in os.listdir(folder) if n.endswith('.' + name)]


def test_rings_moved_to_new_ports_keep_their_old_state_in_backups(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    before = {name: open(os.path.join(aio.etc_dir, name), 'rb').read()
              for name in ('object.builder', 'object.ring.gz')}
    again = layout(tmp_path, node_ports=[p + 1 for p in PORTS])
    for name, old in before.items():
        now = open(os.path.join(again.etc_dir, name), 'rb').read()
        assert now != old
        assert old in backed_up(again, name), name
        assert now in backed_up(again, name), name


def test_reset_keeps_the_users_ring_changes_in_backups(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    path = os.path.join(aio.etc_dir, 'container.builder')
    builder = RingBuilder.load(path)
    builder.set_dev_weight(0, 50)
    builder.save(path)                 # edited without a backup
    edited = open(path, 'rb').read()
    again = layout(tmp_path, reset=True)
    assert open(path, 'rb').read() != edited
    assert edited in backed_up(again, 'container.builder')


def test_a_hand_edited_node_port_moves_the_rings_too(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    path = aio.node_conf(1)
    with open(path, 'w') as fp:
        fp.write(set_option(conf(path), 'DEFAULT', 'bind_port', '16999'))
    again = layout(tmp_path)
    assert again.node_ports[1] == 16999
    _, builder = tables(again.etc_dir, 'container')
    assert builder.devs[1]['port'] == 16999


def test_pipeline_option_runs_a_copy_and_leaves_the_users_file(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    original = conf(aio.user_proxy_conf)
    once = layout(tmp_path, pipeline='catch_errors tempauth proxy_server')
    assert once.proxy_conf != once.user_proxy_conf
    assert once.pipeline == 'catch_errors tempauth proxy_server'
    assert conf(once.user_proxy_conf) == original


def test_reset_rewrites_configs_but_keeps_the_hash_of_stored_data(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    hash_before = conf(aio.hash_conf)
    with open(aio.proxy_conf, 'a') as fp:
        fp.write('\n# mine\n')
    data = os.path.join(aio.node_devices(0), 'sdb1', 'objects', '1')
    os.makedirs(data)
    open(os.path.join(data, 'x.data'), 'w').close()
    again = layout(tmp_path, reset=True)
    assert '# mine' not in conf(again.proxy_conf)
    old, new = (read_text(t)['objproxy-hash'] for t in
                (hash_before, conf(again.hash_conf)))
    assert dict(old) == dict(new)


def test_reset_of_an_empty_cluster_makes_a_new_secret(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    before = dict(read_text(conf(aio.hash_conf))['objproxy-hash'])
    again = layout(tmp_path, reset=True)
    assert dict(read_text(conf(again.hash_conf))['objproxy-hash']) != before


def store_something(aio):
    data = os.path.join(aio.node_devices(2), 'sdb3', 'objects', '7', 'abc')
    os.makedirs(data)
    open(os.path.join(data, '1.data'), 'w').close()


@pytest.mark.parametrize('reset', [False, True])
def test_a_lost_hash_conf_is_never_replaced_while_data_is_stored(
        tmp_path, reset):
    aio = layout(tmp_path, node_ports=PORTS)
    store_something(aio)
    os.unlink(aio.hash_conf)
    with pytest.raises(ConfigError) as err:
        layout(tmp_path, reset=reset)
    message = str(err.value)
    assert '%s is missing' % aio.hash_conf in message
    assert 'Restore the file' in message
    assert 'hash_path_prefix' in message and 'hash_path_suffix' in message
    assert 'remove %s' % os.path.join(str(tmp_path), 'srv') in message
    assert not os.path.exists(aio.hash_conf)


def test_a_lost_hash_conf_of_an_empty_cluster_is_made_again(tmp_path):
    aio = layout(tmp_path, node_ports=PORTS)
    with open(os.path.join(aio.node_devices(0), 'sdb1', 'object.recon'),
              'w') as fp:
        fp.write('{}')       # daemons' stats are not stored data
    os.unlink(aio.hash_conf)
    again = layout(tmp_path)
    assert read_text(conf(again.hash_conf))['objproxy-hash'][
        'hash_path_suffix']


def test_set_option_replaces_in_place_with_continuation_lines():
    text = ('[a]\nx = 1\n[pipeline:main]\n# keep me\npipeline = one\n'
            '    two\nnext = 3\n')
    out = set_option(text, 'pipeline:main', 'pipeline', 'three')
    assert out == ('[a]\nx = 1\n[pipeline:main]\n# keep me\n'
                   'pipeline = three\nnext = 3\n')
    assert set_option(out, 'a', 'y', '2').startswith('[a]\ny = 2\nx = 1\n')
    assert set_option('[a]\n', 'b', 'z', '0') == '[a]\n\n[b]\nz = 0\n'
    assert remove_option(text, 'pipeline:main', 'pipeline') == (
        '[a]\nx = 1\n[pipeline:main]\n# keep me\nnext = 3\n')
