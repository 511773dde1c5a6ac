"""The options each storage app understands, checked when it is loaded.

Why a table here rather than in each server: the node app
(``storage_server``) runs all layers and both replication apps on one
port with one config section, so it must accept exactly the union of
what they read; listing every app's options in one place keeps that
union right when an option is added.  The checking itself is
``objproxy.common.config.check_options``, as for the proxy and its
filters: an unknown key in an app's own section stops the server,
naming the section and the key; keys of ``[DEFAULT]`` never count as
unknown (several servers share one DEFAULT, as in Swift).
"""
from objproxy.common.config import check_options

# what every storage app reads (besides COMMON_OPTIONS)
BASE = ('devices', 'mount_check', 'fsync', 'objproxy_dir')

# DbReplicationServer
DB_REPLICATION = BASE + ('db_lock_timeout',)
# ObjectReplicationServer
OBJECT_REPLICATION = BASE + ('reclaim_age',)
# DBServer (account and container servers)
DB_SERVER = BASE + ('node_timeout', 'conn_timeout', 'db_pending_cap',
                    'db_pending_interval', 'db_threadpool',
                    'db_lock_timeout')
ACCOUNT_SERVER = DB_SERVER
# the container server reports to accounts (AccountReporter)
CONTAINER_SERVER = DB_SERVER + ('account_report_interval',)
OBJECT_SERVER = BASE + (
    'node_timeout', 'conn_timeout', 'client_timeout',
    'container_update_timeout', 'network_chunk_size', 'disk_chunk_size',
    'checksum_block_size', 'disk_tpool', 'reclaim_age', 'tmp_max_age',
    'keep_cache_size')
STORAGE_NODE = tuple(sorted(set(
    ACCOUNT_SERVER + CONTAINER_SERVER + OBJECT_SERVER + DB_REPLICATION +
    OBJECT_REPLICATION)))


def checked_conf(section, global_conf, local_conf, known):
    """The merged conf of a paste app factory, after refusing the keys of
    its own section that none of ``known`` names."""
    check_options(section, local_conf, global_conf, known)
    conf = dict(global_conf or {})
    conf.update(local_conf)
    return conf
