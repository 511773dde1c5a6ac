"""etag_quoter: RFC 7232 quoted ETags on object responses, by opt-in.

Swift answers object ETags as bare MD5s, which some CDNs and HTTP
libraries reject; existing Swift clients expect the bare form.  So the
choice is per account and per container (Swift's flags):

* ``X-Account-Rfc-Compliant-Etags: true`` quotes the ETags of every object
  response in the account;
* ``X-Container-Rfc-Compliant-Etags: true|false`` overrides the account's
  choice for one container;
* with neither set, ``enable_by_default`` decides.

The flags are stored as sysmeta (``X-<Type>-Sysmeta-Rfc-Compliant-Etags``)
and shown back under their client names on account/container answers; an
empty value or ``X-Remove-<Type>-Rfc-Compliant-Etags`` removes one.  Only
the ``ETag`` header of object answers is touched: one already quoted (or a
weak ``W/"..."``) is left alone, and bodies stream through untouched.

Config::

    [filter:etag_quoter]
    use = egg:objproxy#etag_quoter
    # enable_by_default = false
"""
from webob import Request

from objproxy.common.config import check_options, config_true_value, \
    get_bool
from objproxy.common.paths import PathError, split_path
from objproxy.common.registry import register_info
from objproxy.proxy.info import (
    get_account_info, get_container_info, text_names)
from objproxy.common.response import is_success

SECTION = 'filter:etag_quoter'
API_VERSIONS = ('v1', 'v1.0')


def _ok(info):
    return bool(info) and is_success(info.get('status', 0))


def quote_etag(value):
    if (value.startswith('"') or value.startswith('W/"')) and \
            value.endswith('"') and len(value) > 1:
        return value
    return '"%s"' % value



class EtagQuoterMiddleware(object):
    """Translates the flags and quotes object ETags when asked to."""

    def __init__(self, app, conf):
        self.app = app
        self.enable_by_default = get_bool(conf, 'enable_by_default', False,
                                          SECTION)

    def __call__(self, env, start_response):
        try:
            version, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 2, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        if version not in API_VERSIONS:
            return self.app(env, start_response)
        if not obj:
            return self.handle_flag(env, start_response,
                                    'Container' if container else 'Account')
        if not self.wants_quotes(env, account, container):
            return self.app(env, start_response)

        def quoting_start_response(status, headers, exc_info=None):
            headers = [(k, quote_etag(v) if k.lower() == 'etag' else v)
                       for k, v in headers]
            return start_response(status, headers, exc_info)
        return self.app(env, quoting_start_response)

    def handle_flag(self, env, start_response, kind):
        client = 'X-%s-Rfc-Compliant-Etags' % kind
        sysmeta = 'X-%s-Sysmeta-Rfc-Compliant-Etags' % kind
        req = Request(env)
        if client in req.headers:
            value = req.headers[client]
            req.headers[sysmeta] = \
                str(config_true_value(value)) if value else ''
        if req.headers.get('X-Remove-%s-Rfc-Compliant-Etags' % kind):
            req.headers[sysmeta] = ''
        lower = sysmeta.lower()

        def translating_start_response(status, headers, exc_info=None):
            headers = [(client if k.lower() == lower else k, v)
                       for k, v in headers]
            return start_response(status, headers, exc_info)
        return self.app(env, translating_start_response)

    def wants_quotes(self, env, account, container):
        cinfo = get_container_info(env, self.app, *text_names(account, container))
        if not _ok(cinfo):
            return False
        # an empty value is a removed flag
        flag = (cinfo.get('sysmeta') or {}).get('rfc-compliant-etags') or None
        if flag is None:
            ainfo = get_account_info(env, self.app, *text_names(account))
            if not _ok(ainfo):
                return False
            flag = (ainfo.get('sysmeta') or {}).get(
                'rfc-compliant-etags') or None
        if flag is None:
            return self.enable_by_default
        return config_true_value(flag)


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options(SECTION, local_conf, global_conf, ('enable_by_default',))
    enabled = get_bool(conf, 'enable_by_default', False, SECTION)
    register_info('etag_quoter', enable_by_default=enabled)

    def factory(app):
        return EtagQuoterMiddleware(app, conf)
    return factory
