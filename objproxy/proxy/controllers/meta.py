"""Client metadata headers to backend headers for accounts and containers.

Swift's conventions: ``X-Remove-<Type>-Meta-Foo`` (and
``X-Remove-Container-Read`` etc.) become the header with an empty value,
which the servers treat as "delete"; the account ACL header is validated
and stored as sysmeta.
"""
import json

from objproxy.common.acl import parse_account_acl

PASSED = {
    'container': ('x-container-read', 'x-container-write',
                  'x-container-sync-key', 'x-container-sync-to',
                  'x-versions-location', 'x-history-location',
                  'x-container-meta-', 'x-container-sysmeta-'),
    'account': ('x-account-meta-', 'x-account-sysmeta-'),
}
REMOVABLE = ('x-container-read', 'x-container-write',
             'x-container-sync-key', 'x-container-sync-to')
ACCOUNT_ACL = 'x-account-access-control'
ACCOUNT_ACL_SYSMETA = 'X-Account-Sysmeta-Core-Access-Control'


class MetadataError(ValueError):
    pass


def backend_meta(req_headers, server_type):
    """The metadata headers to forward; MetadataError on bad input."""
    passed = PASSED[server_type]
    remove = 'x-remove-%s-' % server_type
    out = {}
    for key, value in req_headers.items():
        lkey = key.lower()
        if lkey.startswith(remove):
            target = 'x-%s-%s' % (server_type, lkey[len(remove):])
            # as Swift: user metadata and the listed headers only, never
            # the sysmeta a filter keeps (quotas, ACLs, versioning)
            if target.startswith('x-%s-meta-' % server_type) or \
                    target in REMOVABLE:
                out[target] = ''
        elif lkey.startswith(passed) or lkey in passed:
            out[key] = value
    if server_type == 'account':
        for key, value in req_headers.items():
            if key.lower() != ACCOUNT_ACL:
                continue
            if value.strip():
                try:
                    acl = parse_account_acl(value)
                except ValueError:
                    raise MetadataError('Invalid X-Account-Access-Control')
                # an empty ACL ("{}") removes it, as in Swift
                out[ACCOUNT_ACL_SYSMETA] = json.dumps(
                    acl, separators=(',', ':'), sort_keys=True) if acl else ''

            else:
                out[ACCOUNT_ACL_SYSMETA] = ''
    return out


def is_owner(env):
    """May this request see ACLs? (owners, or no auth filter at all)."""
    return bool(env.get('swift_owner')) or 'swift.authorize' not in env


def strip_owner_headers(resp, names):
    """Drop the headers only an account's owners may see (Swift's
    ``swift_owner_headers``: ACLs, sync keys, TempURL keys)."""
    for name in names:
        resp.del_header(name)
