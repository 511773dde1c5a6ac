"""Swift's ACLs: container ACL strings and account JSON ACLs.

Why it is its own module: the ACL formats (what ``X-Container-Read`` and
``X-Account-Access-Control`` may hold, how referrers and ``account:user``
entries match) are Swift's API, independent of any one auth system; an
auth filter parses and checks them here and decides who the user is.
"""
import json
from urllib.parse import urlparse

ACCOUNT_ACL_KEYS = ('admin', 'read-write', 'read-only')
REFERRER_PREFIXES = ('.r:', '.ref:', '.referer:', '.referrer:')


def clean_acl(name, value):
    """Validate and normalise a container ACL header; ValueError when bad.

    The proxy calls this (``env['swift.clean_acl']``) for X-Container-Read
    and X-Container-Write on container PUT/POST and answers 400 with the
    message on ValueError.
    """
    name = name.lower()
    is_write = name in ('write', 'x-container-write')
    result = []
    for item in (value or '').split(','):
        item = item.strip()
        if not item:
            continue
        if not item.startswith('.'):
            result.append(item)
            continue
        if item == '.rlistings':
            if is_write:
                raise ValueError('.rlistings is not allowed in a write ACL')
            result.append(item)
            continue
        prefix = next((p for p in REFERRER_PREFIXES if item.startswith(p)),
                      None)
        if prefix is None:
            raise ValueError('Unknown designator %r in ACL' % item)
        if is_write:
            raise ValueError('Referrers not allowed in write ACL: %r' % item)
        host = item[len(prefix):].strip()
        negate = host.startswith('-')
        if negate:
            host = host[1:].strip()
        if not host or host in ('-',):
            raise ValueError('No host/domain value after referrer '
                             'designation in ACL: %r' % item)
        if host.startswith('*.'):
            host = host[1:]       # "*.example.com" means ".example.com"
        if '://' in host:
            host = urlparse(host).hostname or ''
            if not host:
                raise ValueError('Bad referrer in ACL: %r' % item)
        result.append('.r:%s%s' % ('-' if negate else '', host))
    return ','.join(result)


def parse_acl(acl):
    """ACL string -> (referrers, groups)."""
    referrers, groups = [], []
    for item in (acl or '').split(','):
        item = item.strip()
        if not item:
            continue
        prefix = next((p for p in REFERRER_PREFIXES if item.startswith(p)),
                      None)
        if prefix:
            referrers.append(item[len(prefix):].strip())
        else:
            groups.append(item)
    return referrers, groups


def referrer_allowed(referer, referrers):
    """Swift's referrer rules: ``*``, ``host``, ``.domain`` (any host under
    it), and a leading ``-`` denies."""
    allowed = False
    host = None
    if referer:
        try:
            host = urlparse(referer).hostname
        except ValueError:
            host = None
    for rule in referrers:
        negate = rule.startswith('-')
        target = rule[1:] if negate else rule
        if target.startswith('*.'):
            target = target[1:]
        if target == '*':
            matches = True
        elif not host:
            matches = False
        elif target.startswith('.'):
            matches = host.endswith(target)     # its hosts, not itself
        else:
            matches = host == target
        if matches:
            allowed = not negate
    return allowed


def parse_account_acl(text):
    """JSON account ACL -> dict, or raise ValueError with a readable reason."""
    if text is None or text.strip() == '':
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):     # RecursionError: deep nesting
        raise ValueError('Syntax error in input (%r)' % text)
    if not isinstance(data, dict):
        raise ValueError('Syntax error in input (%r)' % text)
    for key, value in data.items():
        if key not in ACCOUNT_ACL_KEYS:
            raise ValueError('Key %r not recognized' % key)
        if not isinstance(value, list):
            raise ValueError('Value for key %r must be a list' % key)
        if not all(isinstance(v, str) for v in value):
            raise ValueError('Elements of %r list must be strings' % key)
    return data


def acl_grants(acl_groups, user_groups):
    """Whether an ACL's entries admit a user with ``user_groups``.

    tempauth's rule: an entry must be exactly one of the user's groups
    (``account``, ``account:user``, or for owners the storage account
    name).  Wildcards such as ``*``, ``*:*``, ``acct:*`` or ``*:user`` are
    Keystone's syntax and grant nothing here, as in Swift's tempauth.
    """
    return not set(acl_groups).isdisjoint(user_groups)
