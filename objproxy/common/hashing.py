"""Cluster-wide path hashing with the secret prefix/suffix of objproxy.conf.

Every node must hash names identically, so the prefix and suffix come from
one ``[objproxy-hash]`` section; both empty is refused, as Swift refuses it.
"""
import hashlib
import os

from objproxy.common.config import read_conf_file
from objproxy.common.exceptions import ConfigError

DEFAULT_OBJPROXY_DIR = '/etc/objproxy'
_hash_config = {'prefix': None, 'suffix': None}


def load_hash_config(objproxy_dir=None, conf_path=None):
    """Read hash prefix/suffix from ``<objproxy_dir>/objproxy.conf``."""
    if conf_path is None:
        objproxy_dir = (objproxy_dir or os.environ.get('OBJPROXY_DIR')
                        or DEFAULT_OBJPROXY_DIR)
        conf_path = os.path.join(objproxy_dir, 'objproxy.conf')
    parser = read_conf_file(conf_path)
    if not parser.has_section('objproxy-hash'):
        raise ConfigError('%s has no [objproxy-hash] section' % conf_path)
    prefix = parser.get('objproxy-hash', 'hash_path_prefix', fallback='')
    suffix = parser.get('objproxy-hash', 'hash_path_suffix', fallback='')
    set_hash_config(prefix, suffix)
    return prefix, suffix


def set_hash_config(prefix, suffix):
    if not prefix and not suffix:
        raise ConfigError('hash_path_prefix and hash_path_suffix are both '
                          'empty in [objproxy-hash]; set at least one')
    _hash_config['prefix'] = prefix
    _hash_config['suffix'] = suffix


def _ensure_loaded():
    if _hash_config['prefix'] is None:
        load_hash_config()


def hash_path(account, container=None, obj=None, raw_digest=False):
    """MD5 of prefix + /account[/container[/object]] + suffix.

    On every ring lookup's path, so it avoids needless work: one string
    concatenation and one encode.
    """
    prefix = _hash_config['prefix']
    if prefix is None:
        _ensure_loaded()
        prefix = _hash_config['prefix']
    if container:
        if obj:
            path = '/' + account + '/' + container + '/' + obj
        else:
            path = '/' + account + '/' + container
    elif obj:
        raise ValueError('container is required if object is given')
    else:
        path = '/' + account
    digest = hashlib.md5((prefix + path + _hash_config['suffix']).encode(
        'utf-8', 'surrogateescape'))
    return digest.digest() if raw_digest else digest.hexdigest()
