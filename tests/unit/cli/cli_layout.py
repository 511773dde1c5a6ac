"""A node's config for the daemon command-line tests: an all-in-one
layout (rings, hash config, devices) on free ports, nothing running."""
import configparser

from objproxy.cli.aio_layout import AioLayout
from tests.ports import free_ports


def write_layout(tmp_path):
    """The AioLayout, written; node 0's config is the one the tests run."""
    layout = AioLayout(str(tmp_path), node_ports=free_ports(4))
    layout.write_all()
    return layout


def set_options(conf_path, section, **options):
    """Set options of one section of a node config in place."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(conf_path)
    for key, value in options.items():
        parser.set(section, key, value)
    with open(conf_path, 'w') as fp:
        parser.write(fp)
