"""Loggers configured from a server's conf (file, stdout or syslog).

One named logger per server/filter; ``log_file`` writes to a file,
``log_to_stdout = true`` to stdout, otherwise syslog via ``/dev/log`` when
it exists, else stderr (containers and tests usually have no syslog).
"""
import logging
import logging.handlers
import os
import sys

from objproxy.common.config import config_true_value

_configured = {}


def get_logger(conf, name=None, log_route=None):
    conf = conf or {}
    name = conf.get('log_name', name or 'objproxy')
    route = log_route or name
    logger = logging.getLogger('objproxy.' + route)
    key = (route, conf.get('log_file'), conf.get('log_to_stdout'),
           conf.get('log_level'))
    if _configured.get(route) == key:
        return logger
    _configured[route] = key
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()     # a FileHandler's file, a syslog socket
    if conf.get('log_file'):
        handler = logging.FileHandler(conf['log_file'])
    elif config_true_value(conf.get('log_to_stdout', 'false')):
        handler = logging.StreamHandler(sys.stdout)
    elif os.path.exists(conf.get('log_address', '/dev/log')):
        handler = logging.handlers.SysLogHandler(
            address=conf.get('log_address', '/dev/log'),
            facility=getattr(logging.handlers.SysLogHandler,
                             conf.get('log_facility', 'LOG_LOCAL0'),
                             logging.handlers.SysLogHandler.LOG_LOCAL0))
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        conf.get('log_format', '%(asctime)s ' + name +
                 ' %(levelname)s: %(message)s')))
    logger.addHandler(handler)
    level = str(conf.get('log_level', 'INFO')).upper()
    logger.setLevel(getattr(logging, level, logging.INFO))
    logger.propagate = False
    return logger
