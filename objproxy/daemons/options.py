"""The options each daemon's section understands.

Daemons read their own section of the storage node's config with
``[DEFAULT]`` underneath (``daemon.load_section``), which checks the
section against this table with ``objproxy.common.config.check_options``:
a typo in ``[object-replicator]`` stops the daemon naming the section and
the key, as an unknown option stops the proxy.  Keys of ``[DEFAULT]``
never count (the servers and every daemon share it, as in Swift).
"""

# read by every daemon (objproxy.daemons.daemon.Daemon)
BASE = ('devices', 'mount_check', 'objproxy_dir', 'interval',
        'recon_cache_path', 'conn_timeout', 'node_timeout', 'fsync',
        'concurrency', 'nice_priority', 'ionice_class', 'ionice_priority')

DB_REPLICATOR = BASE + ('per_diff', 'max_diffs', 'reclaim_age')

BY_SECTION = {
    'object-replicator': BASE + ('batch_size', 'reclaim_age'),
    'container-replicator': DB_REPLICATOR,
    'account-replicator': DB_REPLICATOR,
    'object-auditor': BASE + ('files_per_second', 'bytes_per_second',
                              'zero_byte_files_per_second',
                              'audit_databases', 'reclaim_age'),
    'object-updater': BASE + ('objects_per_second',),
    'object-expirer': BASE + ('objects_per_second',),
    'object-rescanner': BASE + ('files_per_second', 'bytes_per_second',
                                'timeout', 'scan_timeout', 'max_scan_size',
                                'clamd_conf', 'clamd_socket', 'clamd_host',
                                'clamd_port'),
}
