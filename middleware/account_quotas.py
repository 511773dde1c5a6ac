"""account_quotas: per-account byte and object-count limits (Swift 2.38's).

An operator (a reseller admin) caps what an account may store; the
account's own users can see the caps but never change them.  The caps are
kept as account system metadata so no user can forge them:

* ``X-Account-Quota-Bytes`` / ``X-Account-Quota-Count``: overall caps,
  stored as ``X-Account-Sysmeta-Quota-Bytes`` / ``-Quota-Count``;
* ``X-Account-Quota-Bytes-Policy-<policy name>`` / ``-Count-Policy-<name>``:
  caps for one storage policy, stored as
  ``X-Account-Sysmeta-Quota-Bytes-Policy-<policy index>`` (and -Count-);
* ``X-Account-Meta-Quota-Bytes`` (legacy): kept as user metadata and also
  copied to the sysmeta byte cap, which wins when both are set.

``X-Remove-<header>`` (or an empty value) removes a cap.  Setting or
removing any of them needs a reseller admin (tempauth's ``.reseller_admin``
group marks the request ``env['reseller_request']``): anyone else gets 403,
a value that is not digits 400.  Account GET/HEAD answers show the caps
under their client names.

An object PUT (a server-side copy included, which the copy filter to our
left turns into a PUT of the source's size) that would take the account
past a cap gets ``413 Upload exceeds quota.`` (``Upload exceeds policy
quota.`` for a per-policy cap).  The 413 is given through
``swift.authorize``, so a requester who may not write there still gets
auth's 401/403 and container ACL writers are judged as usual.  Reseller
admins are not limited.  Usage comes from the cached account info, so
quotas are approximate (Swift's eventual consistency, and chunked uploads
of unknown size are let in while the account is under its cap).

Config::

    [filter:account_quotas]
    use = egg:objproxy#account_quotas
"""
from webob import Request

from objproxy.common.config import check_options
from objproxy.common.paths import PathError, split_path
from objproxy.common.registry import register_info
from objproxy.common.response import is_success, plain_error
from objproxy.proxy.controllers.container import DEFAULT_POLICY
from objproxy.proxy.info import (
    get_account_info, get_container_info, text_names)

SECTION = 'filter:account_quotas'
#: (index, name) of the storage policies: this cluster has one.
POLICIES = ((0, DEFAULT_POLICY),)
QUOTA_TYPES = ('Quota-Bytes', 'Quota-Count')
LEGACY = (('X-Account-Meta-Quota-Bytes', 'X-Account-Quota-Bytes'),
          ('X-Remove-Account-Meta-Quota-Bytes',
           'X-Remove-Account-Quota-Bytes'))



class QuotaRequestError(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


class AccountQuotaMiddleware(object):
    """Guards the quota headers and refuses uploads over quota."""

    def __init__(self, app):
        self.app = app

    def __call__(self, env, start_response):
        try:
            _v, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 2, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        if not container:
            return self.handle_account(env, start_response)
        if env.get('REQUEST_METHOD') == 'PUT' and obj and \
                env.get('reseller_request') is not True:
            answer = self.check_upload(env, account)
            if answer is not None:
                return answer(env, start_response)
        return self.app(env, start_response)

    # -- account requests: setting and showing quotas --------------------
    def handle_account(self, env, start_response):
        req = Request(env)
        if req.method in ('PUT', 'POST'):
            for legacy, current in LEGACY:
                value = req.headers.get(legacy)
                if value is not None and not req.headers.get(current):
                    req.headers[current] = value
            # the proxy turns any X-Remove-Account-<x> into an empty
            # X-Account-<x>, sysmeta included: never let that reach ours
            if any(k.lower().startswith('x-remove-account-sysmeta-quota-')
                   for k in req.headers):
                return plain_error(403, '')(env, start_response)
            try:
                for quota_type in QUOTA_TYPES:
                    self.translate(req, quota_type)
            except QuotaRequestError as err:
                return plain_error(err.status, '')(env, start_response)

        def showing_start_response(status, headers, exc_info=None):
            return start_response(status, show_quotas(headers), exc_info)
        return self.app(env, showing_start_response)

    @staticmethod
    def translate(req, quota_type):
        """Client quota headers of one type to sysmeta (resellers only)."""
        wanted = {}           # sysmeta header -> new value ('' removes)
        overall = req.headers.get('X-Account-' + quota_type)
        if req.headers.get('X-Remove-Account-' + quota_type):
            overall = ''
        wanted['X-Account-Sysmeta-' + quota_type] = overall
        for index, name in POLICIES:
            tail = 'Account-%s-Policy-%s' % (quota_type, name)
            value = req.headers.pop('X-' + tail, None)
            if req.headers.get('X-Remove-' + tail):
                value = ''
            wanted['X-Account-Sysmeta-%s-Policy-%d'
                   % (quota_type, index)] = value
        if req.environ.get('reseller_request') is True:
            if any(v and not v.isdigit() for v in wanted.values()):
                raise QuotaRequestError(400)
            for header, value in wanted.items():
                if value is not None:
                    req.headers[header] = value
        elif any(v is not None for v in wanted.values()):
            raise QuotaRequestError(403)

    # -- object PUTs: enforcing quotas ------------------------------------
    def check_upload(self, env, account):
        info = get_account_info(env, self.app, *text_names(account))
        if not info or not is_success(info.get('status', 0)):
            return None
        sysmeta = info.get('sysmeta') or {}
        meta = info.get('meta') or {}
        length = Request(env).content_length or 0

        quota = _int(sysmeta.get('quota-bytes', meta.get('quota-bytes')))
        if 0 <= quota < int(info.get('bytes') or 0) + length:
            return self.exceeded(env, b'Upload exceeds quota.')
        quota = _int(sysmeta.get('quota-count'))
        count = info.get('total_object_count', info.get('object_count'))
        if 0 <= quota < int(count or 0) + 1:
            return self.exceeded(env, b'Upload exceeds quota.')

        policy_keys = ('quota-bytes-policy-', 'quota-count-policy-')
        if not any(k.startswith(policy_keys) for k in sysmeta):
            return None
        _v, _a, container, _o = split_path(env['PATH_INFO'], 4, 4, True)
        cinfo = get_container_info(env, self.app, *text_names(account, container))
        if not cinfo or not is_success(cinfo.get('status', 0)):
            return None
        index = str(cinfo.get('storage_policy', '0'))
        stats = policy_stats(info, index)
        quota = _int(sysmeta.get('quota-bytes-policy-' + index))
        if 0 <= quota < int(stats.get('bytes') or 0) + length:
            return self.exceeded(env, b'Upload exceeds policy quota.')
        quota = _int(sysmeta.get('quota-count-policy-' + index))
        if 0 <= quota < int(stats.get('object_count') or 0) + 1:
            return self.exceeded(env, b'Upload exceeds policy quota.')
        return None

    def exceeded(self, env, body):
        """The 413, given after auth so unauthorised writers get 401/403
        and ACL writers are still judged (Swift wraps swift.authorize)."""
        resp = plain_error(413, body)
        authorize = env.get('swift.authorize')
        if authorize is None:
            return resp

        def reject_authorize(*args, **kwargs):
            denial = authorize(*args, **kwargs)
            return denial if denial is not None else resp
        env['swift.authorize'] = reject_authorize
        return None


def policy_stats(account_info, index):
    """Usage of one policy; with a single policy that is the account's."""
    per_policy = account_info.get('storage_policies')
    if isinstance(per_policy, dict) and index in per_policy:
        return per_policy[index]
    if len(POLICIES) == 1 and index == str(POLICIES[0][0]):
        return {'bytes': account_info.get('bytes'),
                'object_count': account_info.get('object_count')}
    return {}


def show_quotas(headers):
    """Add the client names of the quota sysmeta an answer carries."""
    by_name = dict((k.lower(), v) for k, v in headers)
    extra = []
    for quota_type in QUOTA_TYPES:
        value = by_name.get('x-account-sysmeta-' + quota_type.lower())
        if value:
            extra.append(('X-Account-' + quota_type, value))
        for index, name in POLICIES:
            value = by_name.get('x-account-sysmeta-%s-policy-%d'
                                % (quota_type.lower(), index))
            if value:
                extra.append(('X-Account-%s-Policy-%s'
                              % (quota_type, name), value))
    if not extra:
        return headers
    names = set(name.lower() for name, _v in extra)
    return [(k, v) for k, v in headers if k.lower() not in names] + extra


def filter_factory(global_conf, **local_conf):
    check_options(SECTION, local_conf, global_conf, ())
    register_info('account_quotas')

    def factory(app):
        return AccountQuotaMiddleware(app)
    return factory
