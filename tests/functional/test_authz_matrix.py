"""Who may do what: identities x methods x account/container/object x ACLs.

Every expected status below is written out by hand from Swift's documented
tempauth rules (``swift/common/middleware/tempauth.py`` ``authorize`` and
the "Access Control Lists" overview), never computed from the code under
test.  The rules, as Swift applies them:

* a token's groups are ``<account>``, ``<account>:<user>``, plus, for an
  ``.admin`` user, the storage account ``AUTH_<account>``; the reseller admin
  also has ``.reseller_admin``.  test:tester -> ``test,test:tester,AUTH_test``;
  test:tester3 -> ``test,test:tester3``; test2:tester2 ->
  ``test2,test2:tester2,AUTH_test2``;
* the reseller admin may do anything on any ``AUTH_`` account; the owner
  (``AUTH_test`` in its groups) anything in its account except PUT/DELETE
  of the account itself;
* anyone else only through ACLs.  A container ACL entry admits a user only
  when it is *exactly* one of the user's groups: tempauth has no wildcards,
  so ``*``, ``*:*``, ``test:*`` and ``*:tester3`` admit nobody;
* ``.r:*`` lets anyone (no token needed) read objects, but lists the
  container only together with ``.rlistings``;
* the read ACL governs object GET/HEAD and container GET/HEAD, the write ACL
  object PUT/POST/DELETE; neither grants container PUT/POST/DELETE;
* the account ACL (``X-Account-Access-Control``): ``read-only`` reads
  everything, ``read-write`` also writes containers and objects (not the
  account), ``admin`` is the owner;
* a denial is 401 without a valid identity, 403 with one; an invalid
  token is refused outright (401), whatever the ACLs say;
* account PUT/DELETE are not allowed at all (405) without
  ``allow_account_management``;
* a server-side copy reads its source as the caller: the source container's
  read ACL must admit the caller as well as the destination's write ACL;
* an SLO whose first segment the caller cannot read answers 409; a DLO
  whose segment container the caller cannot list answers with that
  listing's denial (403, or 401 anonymously).

Each cell is its own test id: ``<target>-<container>-<identity>-<method>``.
The cluster (full default pipeline: tempauth, clamav with a real clamd,
slo/dlo) is this module's own, so the account ACLs set here touch no other
suite.
"""
import http.client
import json
import uuid
from urllib.parse import urlparse

import pytest

from tests.cluster import Cluster

USERS = {
    'owner': ('test:tester', 'testing'),
    'tester3': ('test:tester3', 'testing3'),
    'tester2': ('test2:tester2', 'testing2'),
    'radmin': ('admin:admin', 'admin'),
    'tester5': ('test5:tester5', 'testing5'),
}
BAD_TOKEN = 'AUTH_tk' + '0123456789abcdef' * 2
BODY = b'hello authz matrix\n'

# Containers of AUTH_test: name -> (X-Container-Read, X-Container-Write).
CONTAINERS = {
    'none': ('', ''),
    'r-t3': ('test:tester3', ''),
    'r-t2': ('test2:tester2', ''),
    'r-acct': ('test', ''),
    'r-storage': ('AUTH_test2', ''),
    'ref': ('.r:*', ''),
    'reflist': ('.r:*,.rlistings', ''),
    'w-t3': ('', 'test:tester3'),
    'w-t2': ('', 'test2:tester2'),
    'rw-t3': ('test:tester3', 'test:tester3'),
    'wc-star': ('*', '*'),
    'wc-starstar': ('*:*', '*:*'),
    'wc-acct': ('test:*', 'test:*'),
    'wc-user': ('*:tester3', '*:tester3'),
}

OBJ_METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY')
CONT_METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')
ACCT_METHODS = ('GET', 'HEAD', 'POST', 'PUT', 'DELETE')

# Literal rows.  Object columns: GET HEAD PUT POST DELETE COPY (COPY of the
# container's object ``o`` to a new name in the same container).  Container
# columns: GET HEAD PUT POST DELETE (PUT on the existing container: 202;
# DELETE of the non-empty container: 409 once authorised).
OWNER_OBJ = (200, 200, 201, 202, 204, 201)
OWNER_CONT = (200, 204, 202, 204, 409)
NO_OBJ_403 = (403, 403, 403, 403, 403, 403)
NO_CONT_403 = (403, 403, 403, 403, 403)
NO_OBJ_401 = (401, 401, 401, 401, 401, 401)
NO_CONT_401 = (401, 401, 401, 401, 401)
READ_OBJ = (200, 200, 403, 403, 403, 403)
READ_CONT = (200, 204, 403, 403, 403)
WRITE_OBJ = (403, 403, 201, 202, 204, 403)
RW_OBJ = (200, 200, 201, 202, 204, 201)
REF_OBJ_AUTHED = (200, 200, 403, 403, 403, 403)
REF_OBJ_ANON = (200, 200, 401, 401, 401, 401)
REFLIST_CONT_ANON = (200, 204, 401, 401, 401)

# (container, identity, object row, container row)
CONTAINER_TABLE = [
    ('none', 'owner', OWNER_OBJ, OWNER_CONT),
    ('none', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('none', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('none', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('none', 'anon', NO_OBJ_401, NO_CONT_401),
    ('none', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('r-t3', 'owner', OWNER_OBJ, OWNER_CONT),
    ('r-t3', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('r-t3', 'tester3', READ_OBJ, READ_CONT),
    ('r-t3', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('r-t3', 'anon', NO_OBJ_401, NO_CONT_401),
    ('r-t3', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('r-t2', 'owner', OWNER_OBJ, OWNER_CONT),
    ('r-t2', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('r-t2', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('r-t2', 'tester2', READ_OBJ, READ_CONT),
    ('r-t2', 'anon', NO_OBJ_401, NO_CONT_401),
    ('r-t2', 'badtoken', NO_OBJ_401, NO_CONT_401),

    # "test" is a group of every user of account test, of no one else
    ('r-acct', 'owner', OWNER_OBJ, OWNER_CONT),
    ('r-acct', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('r-acct', 'tester3', READ_OBJ, READ_CONT),
    ('r-acct', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('r-acct', 'anon', NO_OBJ_401, NO_CONT_401),
    ('r-acct', 'badtoken', NO_OBJ_401, NO_CONT_401),

    # "AUTH_test2" is a group of test2's admin (tester2) only
    ('r-storage', 'owner', OWNER_OBJ, OWNER_CONT),
    ('r-storage', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('r-storage', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('r-storage', 'tester2', READ_OBJ, READ_CONT),
    ('r-storage', 'anon', NO_OBJ_401, NO_CONT_401),
    ('r-storage', 'badtoken', NO_OBJ_401, NO_CONT_401),

    # .r:* reads objects for anyone, lists for no one
    ('ref', 'owner', OWNER_OBJ, OWNER_CONT),
    ('ref', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('ref', 'tester3', REF_OBJ_AUTHED, NO_CONT_403),
    ('ref', 'tester2', REF_OBJ_AUTHED, NO_CONT_403),
    ('ref', 'anon', REF_OBJ_ANON, NO_CONT_401),
    ('ref', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('reflist', 'owner', OWNER_OBJ, OWNER_CONT),
    ('reflist', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('reflist', 'tester3', REF_OBJ_AUTHED, READ_CONT),
    ('reflist', 'tester2', REF_OBJ_AUTHED, READ_CONT),
    ('reflist', 'anon', REF_OBJ_ANON, REFLIST_CONT_ANON),
    ('reflist', 'badtoken', NO_OBJ_401, NO_CONT_401),

    # a write ACL grants object writes only: no reads, no container ops
    ('w-t3', 'owner', OWNER_OBJ, OWNER_CONT),
    ('w-t3', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('w-t3', 'tester3', WRITE_OBJ, NO_CONT_403),
    ('w-t3', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('w-t3', 'anon', NO_OBJ_401, NO_CONT_401),
    ('w-t3', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('w-t2', 'owner', OWNER_OBJ, OWNER_CONT),
    ('w-t2', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('w-t2', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('w-t2', 'tester2', WRITE_OBJ, NO_CONT_403),
    ('w-t2', 'anon', NO_OBJ_401, NO_CONT_401),
    ('w-t2', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('rw-t3', 'owner', OWNER_OBJ, OWNER_CONT),
    ('rw-t3', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('rw-t3', 'tester3', RW_OBJ, READ_CONT),
    ('rw-t3', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('rw-t3', 'anon', NO_OBJ_401, NO_CONT_401),
    ('rw-t3', 'badtoken', NO_OBJ_401, NO_CONT_401),

    # wildcards: tempauth matches exact groups only, so these admit nobody
    ('wc-star', 'owner', OWNER_OBJ, OWNER_CONT),
    ('wc-star', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('wc-star', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('wc-star', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('wc-star', 'anon', NO_OBJ_401, NO_CONT_401),
    ('wc-star', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('wc-starstar', 'owner', OWNER_OBJ, OWNER_CONT),
    ('wc-starstar', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('wc-starstar', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('wc-starstar', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('wc-starstar', 'anon', NO_OBJ_401, NO_CONT_401),
    ('wc-starstar', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('wc-acct', 'owner', OWNER_OBJ, OWNER_CONT),
    ('wc-acct', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('wc-acct', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('wc-acct', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('wc-acct', 'anon', NO_OBJ_401, NO_CONT_401),
    ('wc-acct', 'badtoken', NO_OBJ_401, NO_CONT_401),

    ('wc-user', 'owner', OWNER_OBJ, OWNER_CONT),
    ('wc-user', 'radmin', OWNER_OBJ, OWNER_CONT),
    ('wc-user', 'tester3', NO_OBJ_403, NO_CONT_403),
    ('wc-user', 'tester2', NO_OBJ_403, NO_CONT_403),
    ('wc-user', 'anon', NO_OBJ_401, NO_CONT_401),
    ('wc-user', 'badtoken', NO_OBJ_401, NO_CONT_401),
]

# AUTH_test itself (no account ACL).  Columns: GET HEAD POST PUT DELETE.
ACCOUNT_TABLE = [
    ('owner', (200, 204, 204, 405, 405)),
    ('radmin', (200, 204, 204, 405, 405)),
    ('tester3', (403, 403, 403, 405, 405)),
    ('tester2', (403, 403, 403, 405, 405)),
    ('anon', (401, 401, 401, 405, 405)),
    ('badtoken', (401, 401, 401, 401, 401)),
]

# AUTH_acl, owned by no user: the reseller admin creates it and sets
# X-Account-Access-Control = ACCOUNT_ACL.  test:tester owns AUTH_test, not
# this account.  Rows: identity, account row (GET HEAD POST PUT DELETE),
# container row, object row (container "c", object "o").
ACCOUNT_ACL = {'read-only': ['test:tester3'],
               'read-write': ['test2:tester2'],
               'admin': ['test5:tester5']}
ACCOUNT_ACL_TABLE = [
    ('tester3', (200, 204, 403, 405, 405), READ_CONT, READ_OBJ),
    ('tester2', (200, 204, 403, 405, 405), OWNER_CONT, RW_OBJ),
    ('tester5', (200, 204, 204, 405, 405), OWNER_CONT, RW_OBJ),
    ('owner', (403, 403, 403, 405, 405), NO_CONT_403, NO_OBJ_403),
    ('radmin', (200, 204, 204, 405, 405), OWNER_CONT, OWNER_OBJ),
    ('anon', (401, 401, 401, 405, 405), NO_CONT_401, NO_OBJ_401),
    ('badtoken', (401, 401, 401, 401, 401), NO_CONT_401, NO_OBJ_401),
]

# Server-side copies.  Setup: AUTH_test/priv/secret (no ACL),
# AUTH_test/dropbox (write ACL test:tester3), AUTH_test2/inbox2 (tester2's,
# no ACL), AUTH_test2/t2drop (write ACL test:tester), plus the containers
# above.  (case id, identity, method, path, headers, expected, destination
# that must not exist afterwards when the copy is refused)
COPY_TABLE = [
    # in-account: write on dropbox does not make priv readable
    ('t3-put-xcopyfrom-priv-into-dropbox', 'tester3', 'PUT',
     '/v1/AUTH_test/dropbox/cp1', {'X-Copy-From': 'priv/secret'}, 403,
     '/v1/AUTH_test/dropbox/cp1'),
    ('t3-copy-priv-to-dropbox', 'tester3', 'COPY',
     '/v1/AUTH_test/priv/secret', {'Destination': 'dropbox/cp2'}, 403,
     '/v1/AUTH_test/dropbox/cp2'),
    ('t3-copy-priv-to-dropbox-explicit-account', 'tester3', 'COPY',
     '/v1/AUTH_test/priv/secret',
     {'Destination': 'dropbox/cp3', 'Destination-Account': 'AUTH_test'},
     403, '/v1/AUTH_test/dropbox/cp3'),
    ('t3-put-xcopyfrom-wildcard-acl-into-dropbox', 'tester3', 'PUT',
     '/v1/AUTH_test/dropbox/cp4', {'X-Copy-From': 'wc-acct/o'}, 403,
     '/v1/AUTH_test/dropbox/cp4'),
    ('t3-put-xcopyfrom-star-user-acl-into-dropbox', 'tester3', 'PUT',
     '/v1/AUTH_test/dropbox/cp5', {'X-Copy-From': 'wc-user/o'}, 403,
     '/v1/AUTH_test/dropbox/cp5'),
    ('t3-put-xcopyfrom-readable-into-dropbox', 'tester3', 'PUT',
     '/v1/AUTH_test/dropbox/cp6', {'X-Copy-From': 'r-t3/o'}, 201, None),
    ('t3-copy-readable-to-dropbox', 'tester3', 'COPY',
     '/v1/AUTH_test/r-t3/o', {'Destination': 'dropbox/cp7'}, 201, None),
    ('t3-copy-readable-to-unwritable', 'tester3', 'COPY',
     '/v1/AUTH_test/r-t3/o', {'Destination': 'none/cp8'}, 403,
     '/v1/AUTH_test/none/cp8'),
    # across accounts
    ('t2-put-xcopyfrom-account-priv', 'tester2', 'PUT',
     '/v1/AUTH_test2/inbox2/cp10',
     {'X-Copy-From': 'priv/secret', 'X-Copy-From-Account': 'AUTH_test'},
     403, '/v1/AUTH_test2/inbox2/cp10'),
    ('t2-copy-destination-account-priv', 'tester2', 'COPY',
     '/v1/AUTH_test/priv/secret',
     {'Destination': 'inbox2/cp11', 'Destination-Account': 'AUTH_test2'},
     403, '/v1/AUTH_test2/inbox2/cp11'),
    ('t2-put-xcopyfrom-account-wildcard-acl', 'tester2', 'PUT',
     '/v1/AUTH_test2/inbox2/cp12',
     {'X-Copy-From': 'wc-starstar/o', 'X-Copy-From-Account': 'AUTH_test'},
     403, '/v1/AUTH_test2/inbox2/cp12'),
    ('t2-put-xcopyfrom-account-readable', 'tester2', 'PUT',
     '/v1/AUTH_test2/inbox2/cp13',
     {'X-Copy-From': 'r-t2/o', 'X-Copy-From-Account': 'AUTH_test'}, 201,
     None),
    ('t2-copy-destination-account-readable', 'tester2', 'COPY',
     '/v1/AUTH_test/r-t2/o',
     {'Destination': 'inbox2/cp14', 'Destination-Account': 'AUTH_test2'},
     201, None),
    ('t2-put-xcopyfrom-account-referrer-public', 'tester2', 'PUT',
     '/v1/AUTH_test2/inbox2/cp15',
     {'X-Copy-From': 'ref/o', 'X-Copy-From-Account': 'AUTH_test'}, 201,
     None),
    ('owner-put-into-foreign-account', 'owner', 'PUT',
     '/v1/AUTH_test2/inbox2/cp16',
     {'X-Copy-From': 'priv/secret', 'X-Copy-From-Account': 'AUTH_test'},
     403, '/v1/AUTH_test2/inbox2/cp16'),
    ('owner-copy-into-foreign-account', 'owner', 'COPY',
     '/v1/AUTH_test/priv/secret',
     {'Destination': 'inbox2/cp17', 'Destination-Account': 'AUTH_test2'},
     403, '/v1/AUTH_test2/inbox2/cp17'),
    ('owner-copy-into-foreign-writable', 'owner', 'COPY',
     '/v1/AUTH_test/priv/secret',
     {'Destination': 't2drop/cp18', 'Destination-Account': 'AUTH_test2'},
     201, None),
    ('t3-put-xcopyfrom-foreign-account-into-dropbox', 'tester3', 'PUT',
     '/v1/AUTH_test/dropbox/cp19',
     {'X-Copy-From': 'inbox2/seed', 'X-Copy-From-Account': 'AUTH_test2'},
     403, '/v1/AUTH_test/dropbox/cp19'),
    ('radmin-put-xcopyfrom-any-account', 'radmin', 'PUT',
     '/v1/AUTH_test2/inbox2/cp20',
     {'X-Copy-From': 'priv/secret', 'X-Copy-From-Account': 'AUTH_test'},
     201, None),
    ('anon-put-xcopyfrom-public', 'anon', 'PUT',
     '/v1/AUTH_test/dropbox/cp21', {'X-Copy-From': 'ref/o'}, 401,
     '/v1/AUTH_test/dropbox/cp21'),
    ('anon-copy-public-within-container', 'anon', 'COPY',
     '/v1/AUTH_test/ref/o', {'Destination': 'ref/cp22'}, 401,
     '/v1/AUTH_test/ref/cp22'),
    ('badtoken-copy-public', 'badtoken', 'COPY',
     '/v1/AUTH_test/ref/o', {'Destination': 'dropbox/cp23'}, 401,
     '/v1/AUTH_test/dropbox/cp23'),
    ('anon-copy-public-across-accounts', 'anon', 'COPY',
     '/v1/AUTH_test/ref/o',
     {'Destination': 'inbox2/cp24', 'Destination-Account': 'AUTH_test2'},
     401, '/v1/AUTH_test2/inbox2/cp24'),
]

# Large objects whose segments live in AUTH_test/segs-priv (no ACL) or
# AUTH_test/segs-open (read ACL test:tester3).  lo-shared has read ACL
# test:tester3; lo-pub has .r:*.  (case id, identity, method, path,
# expected)
LARGE_OBJECT_TABLE = [
    ('owner-get-slo-private-segments', 'owner', 'GET',
     '/v1/AUTH_test/lo-shared/slo-priv', 200),
    ('owner-get-dlo-private-segments', 'owner', 'GET',
     '/v1/AUTH_test/lo-shared/dlo-priv', 200),
    ('t3-get-slo-unreadable-first-segment', 'tester3', 'GET',
     '/v1/AUTH_test/lo-shared/slo-priv', 409),
    ('t3-get-dlo-unlistable-segments', 'tester3', 'GET',
     '/v1/AUTH_test/lo-shared/dlo-priv', 403),
    ('t3-get-slo-readable-segments', 'tester3', 'GET',
     '/v1/AUTH_test/lo-shared/slo-open', 200),
    ('t3-get-dlo-readable-segments', 'tester3', 'GET',
     '/v1/AUTH_test/lo-shared/dlo-open', 200),
    ('t2-get-slo-unreadable-manifest', 'tester2', 'GET',
     '/v1/AUTH_test/lo-shared/slo-priv', 403),
    ('t2-get-dlo-unreadable-manifest', 'tester2', 'GET',
     '/v1/AUTH_test/lo-shared/dlo-priv', 403),
    ('anon-get-public-slo-private-segments', 'anon', 'GET',
     '/v1/AUTH_test/lo-pub/slo-priv', 409),
    ('anon-get-public-dlo-private-segments', 'anon', 'GET',
     '/v1/AUTH_test/lo-pub/dlo-priv', 401),
    ('t2-get-public-slo-private-segments', 'tester2', 'GET',
     '/v1/AUTH_test/lo-pub/slo-priv', 409),
    ('t2-get-public-dlo-private-segments', 'tester2', 'GET',
     '/v1/AUTH_test/lo-pub/dlo-priv', 403),
]

# ACL updates themselves.  (case id, identity, method, path, headers,
# expected)
ACL_UPDATE_TABLE = [
    ('owner-referrer-in-write-acl', 'owner', 'POST', '/v1/AUTH_test/none',
     {'X-Container-Write': '.r:*'}, 400),
    ('owner-rlistings-in-write-acl', 'owner', 'POST', '/v1/AUTH_test/none',
     {'X-Container-Write': '.rlistings'}, 400),
    ('owner-unknown-designator', 'owner', 'POST', '/v1/AUTH_test/none',
     {'X-Container-Read': '.bogus'}, 400),
    ('owner-account-acl-not-json', 'owner', 'POST', '/v1/AUTH_test',
     {'X-Account-Access-Control': 'not json'}, 400),
    ('owner-account-acl-unknown-key', 'owner', 'POST', '/v1/AUTH_test',
     {'X-Account-Access-Control': '{"superuser": ["test:tester3"]}'}, 400),
    ('t3-grants-itself-read', 'tester3', 'POST', '/v1/AUTH_test/r-t3',
     {'X-Container-Read': 'test:tester3,test2:tester2'}, 403),
    ('t3-write-acl-cannot-change-acl', 'tester3', 'POST',
     '/v1/AUTH_test/w-t3', {'X-Container-Read': 'test:tester3'}, 403),
    ('t3-grants-itself-account-admin', 'tester3', 'POST', '/v1/AUTH_test',
     {'X-Account-Access-Control': '{"admin": ["test:tester3"]}'}, 403),
    ('t2-grants-itself-account-admin', 'tester2', 'POST', '/v1/AUTH_test',
     {'X-Account-Access-Control': '{"admin": ["test2:tester2"]}'}, 403),
    ('anon-sets-public-read', 'anon', 'POST', '/v1/AUTH_test/none',
     {'X-Container-Read': '.r:*,.rlistings'}, 401),
    ('readonly-acl-user-cannot-set-account-acl', 'tester3', 'POST',
     '/v1/AUTH_acl', {'X-Account-Access-Control':
                      '{"admin": ["test:tester3"]}'}, 403),
    ('readwrite-acl-user-cannot-set-account-acl', 'tester2', 'POST',
     '/v1/AUTH_acl', {'X-Account-Access-Control':
                      '{"admin": ["test2:tester2"]}'}, 403),
]


# -- plumbing ----------------------------------------------------------------

class Session(object):
    """One cluster, tokens for every identity, raw calls."""

    def __init__(self, cluster):
        self.cluster = cluster
        parsed = urlparse(cluster.proxy_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.tokens = {'anon': None, 'badtoken': BAD_TOKEN}
        for name, (user, key) in USERS.items():
            self.tokens[name] = cluster.token(user, key)[1]

    def call(self, identity, method, path, headers=None, body=None):
        hdrs = {}
        token = self.tokens[identity]
        if token:
            hdrs['X-Auth-Token'] = token
        hdrs.update(headers or {})
        if body is None and method in ('PUT', 'POST'):
            body = b''
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, data
        finally:
            conn.close()

    def must(self, identity, method, path, headers=None, body=None,
             ok=(200, 201, 202, 204)):
        status, _, data = self.call(identity, method, path, headers, body)
        assert status in ok, ('setup %s %s as %s -> %s %r'
                              % (method, path, identity, status, data[:200]))
        return data


def _segment_manifest(container):
    import hashlib
    return json.dumps([
        {'path': '/%s/s1' % container,
         'etag': hashlib.md5(b'segment-one|').hexdigest(),
         'size_bytes': len(b'segment-one|')},
        {'path': '/%s/s2' % container,
         'etag': hashlib.md5(b'segment-two').hexdigest(),
         'size_bytes': len(b'segment-two')},
    ]).encode()


@pytest.fixture(scope='module')
def authz(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp('authz'))
    try:
        cluster.start()
        yield _setup(Session(cluster))
    finally:
        cluster.stop()


def _setup(s):
    for name, (read, write) in CONTAINERS.items():
        s.must('owner', 'PUT', '/v1/AUTH_test/%s' % name,
               {'X-Container-Read': read, 'X-Container-Write': write})
        s.must('owner', 'PUT', '/v1/AUTH_test/%s/o' % name, body=BODY)
    # copies
    s.must('owner', 'PUT', '/v1/AUTH_test/priv')
    s.must('owner', 'PUT', '/v1/AUTH_test/priv/secret', body=b'top secret')
    s.must('owner', 'PUT', '/v1/AUTH_test/dropbox',
           {'X-Container-Write': 'test:tester3'})
    s.must('tester2', 'PUT', '/v1/AUTH_test2/inbox2')
    s.must('tester2', 'PUT', '/v1/AUTH_test2/inbox2/seed', body=b'seed')
    s.must('tester2', 'PUT', '/v1/AUTH_test2/t2drop',
           {'X-Container-Write': 'test:tester'})
    # large objects
    s.must('owner', 'PUT', '/v1/AUTH_test/segs-priv')
    s.must('owner', 'PUT', '/v1/AUTH_test/segs-open',
           {'X-Container-Read': 'test:tester3'})
    s.must('owner', 'PUT', '/v1/AUTH_test/lo-shared',
           {'X-Container-Read': 'test:tester3'})
    s.must('owner', 'PUT', '/v1/AUTH_test/lo-pub',
           {'X-Container-Read': '.r:*'})
    for seg_container in ('segs-priv', 'segs-open'):
        s.must('owner', 'PUT', '/v1/AUTH_test/%s/s1' % seg_container,
               body=b'segment-one|')
        s.must('owner', 'PUT', '/v1/AUTH_test/%s/s2' % seg_container,
               body=b'segment-two')
    for lo_container in ('lo-shared', 'lo-pub'):
        for kind in ('priv', 'open'):
            s.must('owner', 'PUT', '/v1/AUTH_test/%s/slo-%s?multipart-'
                   'manifest=put' % (lo_container, kind),
                   body=_segment_manifest('segs-' + kind))
            s.must('owner', 'PUT', '/v1/AUTH_test/%s/dlo-%s'
                   % (lo_container, kind),
                   {'X-Object-Manifest': 'segs-%s/s' % kind})
    # the account whose access is granted by its account ACL
    s.must('radmin', 'PUT', '/v1/AUTH_acl/c')
    s.must('radmin', 'PUT', '/v1/AUTH_acl/c/o', body=BODY)
    s.must('radmin', 'POST', '/v1/AUTH_acl',
           {'X-Account-Access-Control': json.dumps(ACCOUNT_ACL)})
    return s


def _cells():
    for container, identity, obj_row, cont_row in CONTAINER_TABLE:
        for method, expected in zip(OBJ_METHODS, obj_row):
            yield pytest.param(
                'AUTH_test', container, identity, method, 'object', expected,
                id='object-%s-%s-%s' % (container, identity, method))
        for method, expected in zip(CONT_METHODS, cont_row):
            yield pytest.param(
                'AUTH_test', container, identity, method, 'container',
                expected,
                id='container-%s-%s-%s' % (container, identity, method))
    for identity, acct_row, cont_row, obj_row in ACCOUNT_ACL_TABLE:
        for method, expected in zip(ACCT_METHODS, acct_row):
            yield pytest.param(
                'AUTH_acl', None, identity, method, 'account', expected,
                id='account-acl-%s-%s' % (identity, method))
        for method, expected in zip(CONT_METHODS, cont_row):
            yield pytest.param(
                'AUTH_acl', 'c', identity, method, 'container', expected,
                id='acl-container-%s-%s' % (identity, method))
        for method, expected in zip(OBJ_METHODS, obj_row):
            yield pytest.param(
                'AUTH_acl', 'c', identity, method, 'object', expected,
                id='acl-object-%s-%s' % (identity, method))
    for identity, row in ACCOUNT_TABLE:
        for method, expected in zip(ACCT_METHODS, row):
            yield pytest.param(
                'AUTH_test', None, identity, method, 'account', expected,
                id='account-%s-%s' % (identity, method))


@pytest.mark.parametrize('account,container,identity,method,target,expected',
                         list(_cells()))
def test_access_cell(authz, account, container, identity, method, target,
                     expected):
    """One identity, one method, one target, one ACL: the status Swift's
    tempauth gives, and a refused write leaves nothing behind."""
    cell = uuid.uuid4().hex[:10]
    base = '/v1/%s' % account
    headers = {}
    body = None
    if target == 'account':
        path = base
        if method == 'POST':
            headers['X-Account-Meta-Cell'] = cell
    elif target == 'container':
        path = '%s/%s' % (base, container)
        if method == 'POST':
            headers['X-Container-Meta-Cell'] = cell
    else:
        path = '%s/%s/o' % (base, container)
        if method == 'PUT':
            path = '%s/%s/put-%s' % (base, container, cell)
            body = b'written by ' + identity.encode()
        elif method == 'POST':
            headers['X-Object-Meta-Cell'] = cell
        elif method == 'DELETE':
            path = '%s/%s/del-%s' % (base, container, cell)
            owner = 'owner' if account == 'AUTH_test' else 'radmin'
            authz.must(owner, 'PUT', path, body=b'victim')
        elif method == 'COPY':
            headers['Destination'] = '%s/copy-%s' % (container, cell)
    status, _, data = authz.call(identity, method, path, headers, body)
    assert status == expected, (
        '%s %s as %s: got %s, Swift/tempauth gives %s (body %r)'
        % (method, path, identity, status, expected, data[:200]))
    if method == 'GET' and target == 'object' and status == 200:
        assert data == BODY
    admin = 'radmin'
    if target == 'object' and status in (401, 403):
        if method == 'PUT':
            assert authz.call(admin, 'HEAD', path)[0] == 404, \
                'refused PUT %s still created the object' % path
        elif method == 'DELETE':
            assert authz.call(admin, 'HEAD', path)[0] == 200, \
                'refused DELETE %s still removed the object' % path
        elif method == 'COPY':
            dest = '%s/%s' % (base, headers['Destination'])
            assert authz.call(admin, 'HEAD', dest)[0] == 404, \
                'refused COPY still created %s' % dest
        elif method == 'POST':
            meta = authz.call(admin, 'HEAD', path)[1]
            assert meta.get('x-object-meta-cell') != cell, \
                'refused POST %s still changed the metadata' % path


@pytest.mark.parametrize(
    'identity,method,path,headers,expected,forbidden_dest',
    [pytest.param(*row[1:], id=row[0]) for row in COPY_TABLE])
def test_copy_reads_source_as_the_caller(authz, identity, method, path,
                                         headers, expected, forbidden_dest):
    """A server-side copy needs read on the source (its container's read
    ACL, in whatever account) and write on the destination; a refused copy
    creates nothing."""
    status, _, data = authz.call(identity, method, path, headers)
    assert status == expected, (
        '%s %s %r as %s: got %s, Swift gives %s (body %r)'
        % (method, path, headers, identity, status, expected, data[:200]))
    if forbidden_dest:
        status, _, data = authz.call('radmin', 'GET', forbidden_dest)
        assert status == 404, ('refused copy still wrote %s (%s, %r)'
                               % (forbidden_dest, status, data[:100]))


@pytest.mark.parametrize(
    'identity,method,path,expected',
    [pytest.param(*row[1:], id=row[0]) for row in LARGE_OBJECT_TABLE])
def test_large_object_segments_read_as_the_caller(authz, identity, method,
                                                  path, expected):
    """SLO/DLO segments are fetched as the caller: an unreadable first SLO
    segment is a 409, an unlistable DLO segment container is its denial,
    and no segment byte leaks either way."""
    status, _, data = authz.call(identity, method, path)
    assert status == expected, (
        '%s %s as %s: got %s, Swift gives %s (body %r)'
        % (method, path, identity, status, expected, data[:200]))
    if status == 200:
        assert data == b'segment-one|segment-two'
    else:
        assert b'segment-' not in data, 'segment bytes leaked: %r' % data


def test_slo_put_refuses_segments_the_caller_cannot_read(authz):
    """Uploading an SLO manifest validates each segment as the uploader:
    tester3 may write into dropbox but not read segs-priv, so Swift answers
    400 (the segment HEAD was forbidden) and stores nothing."""
    path = '/v1/AUTH_test/dropbox/slo-steal'
    status, _, data = authz.call(
        'tester3', 'PUT', path + '?multipart-manifest=put',
        body=_segment_manifest('segs-priv'))
    assert status == 400, (status, data[:300])
    assert authz.call('radmin', 'HEAD', path)[0] == 404


@pytest.mark.parametrize(
    'identity,method,path,headers,expected',
    [pytest.param(*row[1:], id=row[0]) for row in ACL_UPDATE_TABLE])
def test_acl_updates(authz, identity, method, path, headers, expected):
    """Malformed ACLs are refused with 400; only owners change ACLs."""
    status, _, data = authz.call(identity, method, path, headers)
    assert status == expected, (
        '%s %s %r as %s: got %s, Swift gives %s (body %r)'
        % (method, path, headers, identity, status, expected, data[:200]))


def test_account_acl_is_shown_only_to_owners(authz):
    """X-Account-Access-Control is visible to the account's admins, never
    to read-only or read-write grantees."""
    expected = {'radmin': True, 'tester5': True, 'tester3': False,
                'tester2': False}
    seen = {}
    for identity in expected:
        status, headers, _ = authz.call(identity, 'HEAD', '/v1/AUTH_acl')
        assert status == 204, (identity, status)
        seen[identity] = 'x-account-access-control' in headers
    assert seen == expected
