"""Reading paste-deploy option values with clear errors for bad ones.

Paste hands every factory a flat dict of strings; these helpers turn them
into typed values and name the option (and section) when a value is wrong,
so an operator sees ``ratelimit: max_sleep_time_seconds must be a number``
instead of a traceback.
"""
import configparser
import re

from objproxy.common.exceptions import ConfigError

TRUE_VALUES = frozenset(('true', '1', 'yes', 'on', 't', 'y'))
FALSE_VALUES = frozenset(('false', '0', 'no', 'off', 'f', 'n', ''))

# Options paste/our servers put in every section; never "unknown".
COMMON_OPTIONS = (
    'use', 'paste.app_factory', 'paste.filter_factory', 'set log_level',
    'here', '__file__', 'log_name', 'log_level', 'log_facility',
    'log_address', 'log_file', 'log_to_stdout', 'log_format',
    'log_headers', 'objproxy_dir', 'workers', 'bind_ip', 'bind_port',
    'backlog', 'user', 'memcache_servers', 'client_timeout',
    'max_clients', 'eventlet_debug', 'log_statsd_host', 'log_statsd_port',
    'log_statsd_metric_prefix', 'log_statsd_default_sample_rate',
    'log_statsd_sample_rate_factor', 'trans_id_suffix', 'devices',
    'mount_check', 'conn_timeout', 'node_timeout', 'keepalive_timeout',
    'log_requests',
)


def read_conf_file(conf_path, raw=True):
    """A parsed ini file, or ConfigError saying why it could not be read."""
    parser = (configparser.RawConfigParser() if raw
              else configparser.ConfigParser())
    try:
        with open(conf_path) as fp:
            parser.read_file(fp)
    except OSError as err:
        raise ConfigError('cannot read %s: %s' % (conf_path, err.strerror))
    except configparser.Error as err:
        raise ConfigError('cannot parse %s: %s' % (conf_path, err))
    return parser


def config_true_value(value):
    return value is True or (isinstance(value, str) and
                             value.strip().lower() in TRUE_VALUES)


def get_bool(conf, key, default, section=''):
    value = conf.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise ConfigError('%s%s must be true or false, not %r'
                      % (_where(section), key, value))


def get_int(conf, key, default, section='', minimum=None, maximum=None):
    value = conf.get(key)
    if value is None or value == '':
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError('%s%s must be a whole number, not %r'
                          % (_where(section), key, value))
    return _bounded(number, key, section, minimum, maximum)


def get_float(conf, key, default, section='', minimum=None, maximum=None):
    value = conf.get(key)
    if value is None or value == '':
        return default
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError('%s%s must be a number, not %r'
                          % (_where(section), key, value))
    if number != number:
        raise ConfigError('%s%s must be a number' % (_where(section), key))
    return _bounded(number, key, section, minimum, maximum)


def get_choice(conf, key, default, choices, section=''):
    value = conf.get(key, default)
    value = str(value).strip().lower()
    if value not in choices:
        raise ConfigError('%s%s must be one of %s, not %r'
                          % (_where(section), key,
                             ', '.join(sorted(choices)), value))
    return value


def get_list(conf, key, default=(), sep=','):
    value = conf.get(key)
    if value is None:
        return list(default)
    return [item.strip() for item in str(value).split(sep) if item.strip()]


def check_options(section, local_conf, global_conf, known, patterns=()):
    """Refuse options a section does not understand (typos are silent bugs).

    ``local_conf`` from paste also carries [DEFAULT]'s keys, so those are
    not checked here; ``patterns`` are regexes for families such as
    ``user_<account>_<user>``.
    """
    global_conf = global_conf or {}
    compiled = [re.compile(p) for p in patterns]
    unknown = []
    for key in local_conf:
        if key in known or key in COMMON_OPTIONS or key in global_conf:
            continue
        if key.startswith('set '):
            continue
        if any(p.match(key) for p in compiled):
            continue
        unknown.append(key)
    if unknown:
        raise ConfigError('%sunknown option%s %s' % (
            _where(section), 's' if len(unknown) > 1 else '',
            ', '.join(sorted(unknown))))


def _bounded(number, key, section, minimum, maximum):
    if minimum is not None and number < minimum:
        raise ConfigError('%s%s must be at least %s, not %s'
                          % (_where(section), key, minimum, number))
    if maximum is not None and number > maximum:
        raise ConfigError('%s%s must be at most %s, not %s'
                          % (_where(section), key, maximum, number))
    return number


def _where(section):
    return '[%s] ' % section if section else ''
