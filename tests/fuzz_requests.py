"""Hostile HTTP requests against an objproxy (or Swift) proxy, reproducibly.

Every request is built as raw bytes and sent over a plain socket (so
nothing a client library would refuse -- raw NULs, invalid UTF-8, bare CR/LF,
broken chunking, HTTP/0.9 -- is off limits) and is a pure function of
``(seed, index)``: the same pair always gives the same bytes, apart from the
auth tokens, which the run fetches first.

Input families (``index % len(FAMILIES)`` picks the family; each family
first replays its fixed corpus of known-nasty requests, then draws random
ones):

* ``path``   -- ``..``, ``.``, ``//``, empty segments, NUL (``%00`` and raw),
  invalid UTF-8 (raw and percent-encoded), very long names, non-Latin-1
  account names (``/v1/AUTH_%E4%B8%AD/c/o``), CR/LF as ``%0d%0a``;
* ``query``  -- raw non-ASCII bytes, invalid UTF-8, huge values, repeated
  keys, junk prefix/delimiter/marker/limit/format;
* ``header`` -- huge, too many, CR/LF, non-ASCII, bad/negative/duplicate
  Content-Length, bad X-Copy-From / Destination / X-Copy-From-Account,
  bad Range, bad X-Delete-At, bad metadata and ACLs;
* ``body``   -- Content-Length longer/shorter than the body, bad chunked
  encodings (bad hex sizes, truncated, no final chunk, huge chunk size);
* ``slo``    -- malformed, deeply nested and wrongly typed SLO manifests,
  junk ``multipart-manifest`` and ``X-Object-Manifest``;
* ``raw``    -- garbage request lines, bad versions, HTTP/0.9, no Host.

Identities vary per request: anonymous, an invalid token, the account
owner (test:tester) and the reseller admin (admin:admin).

A request fails when the proxy answers 5xx (except what HTTP itself
prescribes: 505 to a version other than HTTP/1.x, 501 to an unknown method
or a Transfer-Encoding other than chunked), sends nothing at all before
closing (unless the request itself was cut short by the client, where
HTTP lets the server give up), does not answer within the timeout, or
echoes an injected header (``X-Fuzz-Injected``) into its response.

On demand, outside CI, against any running cluster (e.g. ``scripts/run``
on :8080, which must have SAIO users test:tester/testing and admin:admin)::

    .venv/bin/python -m tests.fuzz_requests --seed 7 --count 20000 \\
        --url http://127.0.0.1:8080
    # replay one request (printed by a failing run) and show the answer:
    .venv/bin/python -m tests.fuzz_requests --seed 7 --index 1234 \\
        --url http://127.0.0.1:8080 --show

It prints a table family -> count -> status histogram and every failure
with its minimal reproduction (family, seed, index, raw bytes) and exits 1
if any request failed.  Only loopback URLs are accepted.
"""
import argparse
import collections
import json
import random
import re
import socket
import sys
import time
import urllib.request
from urllib.parse import urlparse

FAMILIES = ('path', 'query', 'header', 'body', 'slo', 'raw')
IDENTITIES = ('anon', 'badtoken', 'owner', 'radmin')
BAD_TOKEN = 'AUTH_tk' + 'badc0ffee' * 3 + 'bad00'
ACCOUNT = b'AUTH_test'
CONTAINER = b'fzmark'          # exists, holds OBJECT, SEG1, SEG2 and SLO
OBJECT = b'obj'
MARK = b'fzmark'              # every name the fuzzer invents contains it
INJECT = b'X-Fuzz-Injected'
CRLF_INJECT = b'%0d%0aX-Fuzz-Injected:%20yes'
OBJ_BODY = b'0123456789abcdef' * 64
SEG_BODY = b'segment-data'


class Case(object):
    """One request: raw bytes plus how the client sends them."""

    def __init__(self, family, seed, index, identity, method, raw,
                 half_close=False, may_close=False, note=''):
        self.family = family
        self.seed = seed
        self.index = index
        self.identity = identity
        self.method = method
        self.raw = raw
        # the client shuts down its sending side after the bytes
        # (SHUT_WR); may_close: the bytes were not a whole request (cut
        # short, or not HTTP at all), so HTTP lets the server close
        # without answering
        self.half_close = half_close
        self.may_close = may_close
        self.note = note

    def repro(self, limit=800):
        raw = self.raw if len(self.raw) <= limit else (
            self.raw[:limit] + b'...<%d more bytes>' % (len(self.raw) - limit))
        return ('family=%s seed=%s index=%s identity=%s note=%s '
                'half_close=%s len=%d\n  raw=%r\n  replay: python -m '
                'tests.fuzz_requests --seed %s --index %s --url URL --show'
                % (self.family, self.seed, self.index, self.identity,
                   self.note, self.half_close, len(self.raw), raw,
                   self.seed, self.index))


class Result(object):
    def __init__(self):
        self.status = None       # int, or None without a status line
        self.nbytes = 0
        self.head = b''
        self.error = None        # 'timeout', 'reset', 'send', ...
        self.elapsed = 0.0


# -- request building -------------------------------------------------------

def request(ctx, method, path, headers=(), body=b'', identity='owner',
            version=b'HTTP/1.1', length='auto', host=True, close=True):
    """Raw request bytes.  ``length``: 'auto' (Content-Length of body when
    there is a body or the method is PUT/POST), None (no header) or bytes."""
    if isinstance(method, str):
        method = method.encode()
    lines = [method + b' ' + path + b' ' + version]
    if host:
        lines.append(b'Host: ' + ctx['host'])
    token = ctx['tokens'].get(identity)
    if token:
        lines.append(b'X-Auth-Token: ' + token.encode())
    for name, value in headers:
        lines.append(name + b': ' + value)
    if length == 'auto':
        if body or method in (b'PUT', b'POST'):
            lines.append(b'Content-Length: %d' % len(body))
    elif length is not None:
        lines.append(b'Content-Length: ' + length)
    if close:
        lines.append(b'Connection: close')
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def obj_path(*rest):
    return b'/v1/' + ACCOUNT + b'/' + CONTAINER + b'/' + b'/'.join(rest)


# -- families -----------------------------------------------------------------
# Each generator returns (method, raw, options) for a given rng; options
# may set half_close/may_close/note.  ``fixed`` lists come first, in order.

NAME_JUNK = [
    b'..', b'.', b'', b'%00', b'\x00', b'a%00b', b'\xff', b'%ff', b'%c3%28',
    b'\xc3\x28', b'%e4%b8%ad', b'\xe4\xb8\xad', b'%ed%a0%80', b'%f4%90%80%80',
    b'%2e%2e', b'%2e', b'%2f', b'..%2f..%2f..%2ftmp%2f' + MARK,
    CRLF_INJECT, b'%0d', b'%0a', b'%09', b'%20', b'%', b'%zz', b'%4', b';x',
    b'~', b'*', b'%25', b'%C0%AE%C0%AE', b'\x7f', b'%7f', b'\x80',
    MARK + b'-' + b'a' * 255, MARK + b'-' + b'a' * 1100,
    MARK + b'-' + b'b' * 5000, b'%E4%B8%AD' * 90, b'\xe4\xb8\xad' * 90,
]
ACCOUNT_JUNK = [
    ACCOUNT, b'AUTH_%E4%B8%AD', b'AUTH_\xe4\xb8\xad', b'AUTH_%ff', b'AUTH_\xff',
    b'AUTH_te' + CRLF_INJECT, b'AUTH_' + b'a' * 300, b'AUTH_', b'AUTH_..',
    b'AUTH_.', b'..', b'.', b'', b'AUTH_test2', b'AUTH_%00', b'AUTH_te%2fst',
    b'%41UTH_test', b'AUTH_\xc3\xa9', b'AUTH_%F0%9F%98%80', b'auth_test',
    b'AUTH_test%0d%0a',
]
VERSIONS = [b'v1', b'v1.0', b'v2', b'', b'V1', b'v1%00', b'..', b'info',
            b'auth', b'healthcheck']
METHODS = [b'GET', b'HEAD', b'PUT', b'POST', b'DELETE', b'COPY', b'OPTIONS']


def path_fixed(ctx):
    a = b'/v1/' + ACCOUNT
    cases = []
    for method in (b'GET', b'HEAD', b'PUT', b'POST', b'DELETE'):
        for cont in (b'.', b'..', MARK + b'x' * 251, b'c' * 257):
            cases.append((method, a + b'/' + cont, 'owner'))
    for method in (b'GET', b'HEAD', b'PUT', b'DELETE'):
        cases.append((method, a + b'//o', 'owner'))
        cases.append((method, a + b'//', 'owner'))
    for ident in ('anon', 'badtoken', 'owner', 'radmin'):
        cases.append((b'GET', b'/v1/AUTH_%E4%B8%AD/c/o', ident))
        cases.append((b'HEAD', b'/v1/AUTH_%E4%B8%AD', ident))
        cases.append((b'GET', b'/v1/AUTH_\xe4\xb8\xad/c', ident))
        cases.append((b'GET', b'/v1/AUTH_te' + CRLF_INJECT + b'/c/o', ident))
        cases.append((b'GET', b'/v1/AUTH_test/c' + CRLF_INJECT, ident))
        cases.append((b'PUT', obj_path(b'%00'), ident))
        cases.append((b'GET', obj_path(b'a\x00b'), ident))
        cases.append((b'GET', obj_path(b'%ff'), ident))
        cases.append((b'PUT', obj_path(b'\xff\xfe'), ident))
        cases.append((b'GET', b'/v1/AUTH_%ff/c', ident))
    cases.append((b'PUT', obj_path(b'..%2f..%2f..%2f..%2ftmp%2f' + MARK),
                  'owner'))
    cases.append((b'PUT', b'/v1/AUTH_test/../../../../tmp/' + MARK, 'owner'))
    cases.append((b'PUT', obj_path(MARK + b'-' + b'z' * 1025), 'owner'))
    cases.append((b'GET', b'/v1/' + b'A' * 300, 'radmin'))
    return cases


def path_random(ctx, rng):
    method = rng.choice(METHODS)
    version = rng.choice(VERSIONS) if rng.random() < 0.2 else b'v1'
    account = rng.choice(ACCOUNT_JUNK) if rng.random() < 0.5 else ACCOUNT
    segs = [b'', version, account]
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.6:
            segs.append(rng.choice(NAME_JUNK))
        else:
            segs.append(MARK + b'-' + rng.choice(NAME_JUNK))
    path = b'/'.join(segs)
    if rng.random() < 0.15:
        path += b'/'
    if rng.random() < 0.1:
        path = path.replace(b'/', b'//', 1)
    return method, path, rng.choice(IDENTITIES)


def gen_path(ctx, rng, n):
    fixed = path_fixed(ctx)
    if n < len(fixed):
        method, path, ident = fixed[n]
    else:
        method, path, ident = path_random(ctx, rng)
    body = b'fuzz' if method == b'PUT' else b''
    headers = []
    if method == b'COPY':
        headers.append((b'Destination', CONTAINER + b'/' + MARK + b'-copy'))
    return ident, method, request(ctx, method, path, headers, body,
                                  identity=ident), {}


QUERY_JUNK = [
    b'prefix=\xff', b'prefix=\x80', b'prefix=\xe4\xb8\xad', b'prefix=%ff',
    b'prefix=%c3%28', b'delimiter=\xff', b'marker=\xff', b'end_marker=\xfe',
    b'delimiter=%00', b'delimiter=ab', b'delimiter=', b'prefix=%00',
    b'marker=%ed%a0%80', b'limit=-1', b'limit=0', b'limit=10001',
    b'limit=abc', b'limit=', b'limit=1e3', b'limit=99999999999999999999999',
    b'limit=%00', b'format=junk', b'format=json&format=xml', b'format=\xff',
    b'path=', b'path=\xff', b'reverse=junk', b'reverse=\xff',
    b'multipart-manifest=junk', b'multipart-manifest=\xff', b'symlink=junk',
    b'prefix=a&prefix=b&prefix=c', b'limit=1&limit=2', b'&&&', b'=', b'a=%',
    b'%', b'%zz=1', b'=\xff', b'\xff', b'?', b'a' * 9000,
    b'prefix=' + b'p' * 9000, b'prefix=' + b'p' * 1100,
    b'marker=' + b'm' * 2000, b'prefix=' + CRLF_INJECT, b'bytes=0-1',
    b'temp_url_sig=x&temp_url_expires=\xff', b'states=listing&\xff',
    b'includes=\xff', b'end_marker=%ff%fe',
]


def gen_query(ctx, rng, n):
    targets = [b'/v1/' + ACCOUNT, b'/v1/' + ACCOUNT + b'/' + CONTAINER,
               obj_path(OBJECT), b'/v1/AUTH_%E4%B8%AD', b'/info',
               b'/v1/AUTH_test2']
    if n < len(QUERY_JUNK) * 2:
        query = QUERY_JUNK[n // 2]
        target = targets[n % 2]
        method, ident = b'GET', 'owner'
    else:
        parts = [rng.choice(QUERY_JUNK) for _ in range(rng.randint(1, 4))]
        query = b'&'.join(parts)
        target = rng.choice(targets)
        method = rng.choice([b'GET', b'GET', b'HEAD', b'DELETE', b'PUT',
                             b'POST'])
        ident = rng.choice(IDENTITIES)
        if method in (b'PUT', b'DELETE', b'POST') and target == obj_path(
                OBJECT):
            target = obj_path(MARK + b'-q')
    return ident, method, request(ctx, method, target + b'?' + query,
                                  identity=ident), {}


def _meta_headers(rng):
    kinds = [
        [(b'X-Object-Meta-', b'v')],
        [(b'X-Object-Meta-' + b'n' * 129, b'v')],
        [(b'X-Object-Meta-A', b'v' * 257)],
        [(b'X-Object-Meta-K%d' % i, b'v') for i in range(91)],
        [(b'X-Object-Meta-K%d' % i, b'v' * 250) for i in range(20)],
        [(b'X-Object-Meta-A', b'\xff\xfe')],
        [(b'X-Object-Meta-\xe4\xb8\xad', b'v')],
        [(b'X-Object-Meta-A', b'\xe4\xb8\xad')],
        [(b'X-Object-Sysmeta-Evil', b'1')],
        [(b'X-Backend-Storage-Policy-Index', b'7')],
        [(b'X-Timestamp', b'junk')],
        [(b'X-Timestamp', b'99999999999.99999')],
        [(b'Content-Type', b'\xff/\xfe')],
        [(b'Content-Type', b'text/plain;swift_bytes=-1')],
        [(b'Content-Type', b'a' * 2000)],
        [(b'ETag', b'not-hex')],
        [(b'ETag', b'"' + b'0' * 32 + b'"')],
        [(b'If-Match', b'\xff')],
        [(b'If-None-Match', b'*, junk')],
        [(b'If-Modified-Since', b'yesterday')],
        [(b'If-Unmodified-Since', b'\xff')],
        [(b'X-Container-Read', b'.r:')],
        [(b'X-Container-Read', b'.bogus')],
        [(b'X-Container-Read', b'a' * 9000)],
        [(b'X-Container-Write', b'.r:*')],
        [(b'X-Container-Read', b'.r:\xff')],
        [(b'X-Account-Access-Control', b'{')],
        [(b'X-Account-Access-Control', b'[' * 5000 + b']' * 5000)],
        [(b'X-Account-Access-Control', b'{"admin": "x"}')],
        [(b'X-Versions-Location', b'\xff')],
        [(b'X-Versions-Location', b'../x')],
        [(b'X-Object-Manifest', b'\xff/\xfe')],
        [(b'X-Static-Large-Object', b'true')],
        [(b'X-Symlink-Target', b'..%2f..')],
        [(b'X-Container-Meta-Quota-Bytes', b'-5')],
        [(b'X-Container-Meta-' + b'q' * 200, b'v')],
        [(b'X-Account-Meta-A', b'v' * 5000)],
        [(b'X-Auth-Token', b'\xff\xfe')],
        [(b'X-Auth-Token', b'AUTH_tk' + b'\x00' * 32)],
        [(b'X-Auth-Token', b'A' * 9000)],
        [(b'X-Service-Token', b'junk')],
        [(b'Transfer-Encoding', b'gzip')],
        [(b'Transfer-Encoding', b'chunked, chunked')],
        [(b'Expect', b'junk')],
        [(b'X-Trans-Id-Extra', b'\xff' * 64)],
        [(b'Referer', b'http://\xff')],
        [(b'Referer', b'http://[::1')],
        [(b'Origin', b'\xff')],
        [(b'User-Agent', b'\xe4\xb8\xad' * 100)],
    ]
    return rng.choice(kinds)


HEADER_FIXED = [
    # (method, path, headers, body)
    (b'GET', b'obj', [(b'X-Huge', b'h' * 8193)], b''),
    (b'GET', b'obj', [(b'X-Huge', b'h' * 70000)], b''),
    (b'PUT', b'new', [(b'X-Object-Meta-Big', b'h' * 16000)], b'x'),
    (b'GET', b'obj', [(b'X-H%d' % i, b'v') for i in range(101)], b''),
    (b'GET', b'obj', [(b'X-H%d' % i, b'v') for i in range(500)], b''),
    (b'PUT', b'new', [(b'X-Object-Meta-H%d' % i, b'v') for i in range(95)],
     b'x'),
    (b'GET', b'obj', [(b'X-Bad', b'a\rb')], b''),
    (b'GET', b'obj', [(b'X-Bad', b'a\nb')], b''),
    (b'GET', b'obj', [(b'X-Bad', b'a\r\n folded')], b''),
    (b'GET', b'obj', [(b'X-Bad', b'a\r\n\tfolded')], b''),
    (b'GET', b'obj', [(b'X-\xff\xfe', b'v')], b''),
    (b'GET', b'obj', [(b'X-Latin', b'\xe9t\xe9')], b''),
    (b'GET', b'obj', [(b'X-Ok', b'\xe4\xb8\xad\xe6\x96\x87')], b''),
    (b'GET', b'obj', [(b'', b'empty-name')], b''),
    (b'GET', b'obj', [(b'X Space', b'v')], b''),
    (b'GET', b'obj', [(b'X-Nul', b'a\x00b')], b''),
    (b'PUT', b'new', [(b'Content-Length', b'abc')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'-1')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'1e3')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'+1')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'0x1')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b' 1 ')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'99999999999999999999999')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'1'), (b'Content-Length', b'2')],
     b'xy'),
    (b'PUT', b'new', [(b'Content-Length', b'1'), (b'Content-Length', b'1')],
     b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'1, 1')], b'x'),
    (b'PUT', b'new', [(b'Content-Length', b'\xff')], b'x'),
    (b'POST', b'obj', [(b'Content-Length', b'-5')], b''),
    (b'GET', b'obj', [(b'Content-Length', b'-1')], b''),
    (b'PUT', b'new', [(b'Content-Length', b'1'),
                      (b'Transfer-Encoding', b'chunked')], b'1\r\nx\r\n0\r\n\r\n'),
    (b'PUT', b'new', [(b'X-Copy-From', b'')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'/')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'noslash')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'/fzmark/')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'%ff/%fe')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'\xff/\xfe')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/%00')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'../../../etc/passwd')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj'),
                      (b'X-Copy-From-Account', b'')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj'),
                      (b'X-Copy-From-Account', b'AUTH_%E4%B8%AD')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj'),
                      (b'X-Copy-From-Account', b'\xff')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj'),
                      (b'X-Copy-From-Account', b'..')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj'),
                      (b'X-Copy-From-Account', b'AUTH_a/b')], b''),
    (b'PUT', b'new', [(b'X-Copy-From', b'fzmark/obj')], b'not empty'),
    (b'COPY', b'obj', [], b''),
    (b'COPY', b'obj', [(b'Destination', b'')], b''),
    (b'COPY', b'obj', [(b'Destination', b'/')], b''),
    (b'COPY', b'obj', [(b'Destination', b'noslash')], b''),
    (b'COPY', b'obj', [(b'Destination', b'\xff/\xfe')], b''),
    (b'COPY', b'obj', [(b'Destination', b'%ff/%00')], b''),
    (b'COPY', b'obj', [(b'Destination', b'fzmark/' + b'd' * 1100)], b''),
    (b'COPY', b'obj', [(b'Destination', b'fzmark/x'),
                       (b'Destination-Account', b'\xff')], b''),
    (b'COPY', b'obj', [(b'Destination', b'fzmark/x'),
                       (b'Destination-Account', b'AUTH_%E4%B8%AD')], b''),
    (b'COPY', b'obj', [(b'Destination', b'fzmark/x'),
                       (b'Destination-Account', b'')], b''),
    (b'COPY', b'obj', [(b'Destination', b'fzmark/x'),
                       (b'Destination-Account', b'a/b/c')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=-')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=5-1')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=-0')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=a-b')], b''),
    (b'GET', b'obj', [(b'Range', b'bits=0-1')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=99999999999999999999999-')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=0-0,' * 500 + b'1-1')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=0-1,,2-3')], b''),
    (b'GET', b'obj', [(b'Range', b'bytes=\xff-')], b''),
    (b'GET', b'slo', [(b'Range', b'bytes=5-1')], b''),
    (b'GET', b'slo', [(b'Range', b'bytes=0-0,2-2,4-4,6-6')], b''),
    (b'GET', b'slo', [(b'Range', b'bytes=-99999999999999999999')], b''),
    (b'PUT', b'new', [(b'X-Delete-At', b'abc')], b'x'),
    (b'PUT', b'new', [(b'X-Delete-At', b'-1')], b'x'),
    (b'PUT', b'new', [(b'X-Delete-At', b'1')], b'x'),
    (b'PUT', b'new', [(b'X-Delete-At', b'99999999999999999999999')], b'x'),
    (b'PUT', b'new', [(b'X-Delete-At', b'1e10')], b'x'),
    (b'PUT', b'new', [(b'X-Delete-At', b'')], b'x'),
    (b'POST', b'obj', [(b'X-Delete-At', b'\xff')], b''),
    (b'POST', b'obj', [(b'X-Delete-After', b'-10')], b''),
    (b'POST', b'obj', [(b'X-Delete-After', b'abc')], b''),
    (b'POST', b'obj', [(b'X-Delete-After', b'9' * 40)], b''),
]


def gen_header(ctx, rng, n):
    if n < len(HEADER_FIXED):
        method, name, headers, body = HEADER_FIXED[n]
        ident = 'owner'
    else:
        method = rng.choice([b'GET', b'HEAD', b'PUT', b'POST', b'COPY',
                             b'DELETE'])
        name = rng.choice([b'obj', b'new', b'slo'])
        if rng.random() < 0.5:
            pick = HEADER_FIXED[rng.randrange(len(HEADER_FIXED))]
            headers = list(pick[2])
        else:
            headers = []
        headers += _meta_headers(rng)
        body = b'x' if method == b'PUT' else b''
        ident = rng.choice(IDENTITIES)
    if name == b'new' or (method in (b'PUT', b'DELETE') and name != b'new'):
        name = MARK + b'-h%d' % (n % 50)
    if method == b'COPY' and not any(h[0] == b'Destination'
                                     for h in headers):
        headers = headers + [(b'Destination', CONTAINER + b'/' + MARK +
                              b'-hc')]
    target = obj_path(name)
    roll = rng.random()
    if n >= len(HEADER_FIXED) and roll < 0.15:
        target = b'/v1/' + ACCOUNT + b'/' + CONTAINER
    elif n >= len(HEADER_FIXED) and roll < 0.25:
        target = b'/v1/' + ACCOUNT
    has_length = any(h[0].lower() in (b'content-length', b'transfer-encoding')
                     for h in headers)
    raw = request(ctx, method, target, headers, body, identity=ident,
                  length=None if has_length else 'auto')
    return ident, method, raw, {}


def _chunked(pieces):
    return b''.join(b'%x\r\n%s\r\n' % (len(p), p) for p in pieces) + \
        b'0\r\n\r\n'


BODY_FIXED = [
    # (note, length header value or None, transfer-encoding, body,
    #  half_close)
    ('cl-short', b'100', None, b'x' * 10, True),
    ('cl-long', b'5', None, b'x' * 50, False),
    ('cl-long-garbage-next', b'2', None, b'xxGARBAGE / HTTP/1.1\r\n\r\n',
     False),
    ('cl-zero-with-body', b'0', None, b'unexpected', False),
    ('chunk-bad-hex', None, b'chunked', b'zz\r\nxx\r\n0\r\n\r\n', False),
    ('chunk-negative', None, b'chunked', b'-1\r\nx\r\n0\r\n\r\n', False),
    ('chunk-0x', None, b'chunked', b'0x2\r\nxx\r\n0\r\n\r\n', False),
    ('chunk-space', None, b'chunked', b' 2\r\nxx\r\n0\r\n\r\n', False),
    ('chunk-ext', None, b'chunked', b'2;ext=1\r\nxx\r\n0\r\n\r\n', False),
    ('chunk-no-crlf', None, b'chunked', b'2\r\nxxyy0\r\n\r\n', False),
    ('chunk-short-data', None, b'chunked', b'10\r\nxx\r\n0\r\n\r\n', True),
    ('chunk-truncated', None, b'chunked', b'10\r\nxxxx', True),
    ('chunk-missing-final', None, b'chunked', b'2\r\nxx\r\n', True),
    ('chunk-huge-size', None, b'chunked', b'FFFFFFFFFFFFFFFF\r\nxxxx', True),
    ('chunk-huge-size-complete', None, b'chunked',
     b'FFFFFFFFFFFFFFFFFFFF\r\nxx\r\n0\r\n\r\n', True),
    ('chunk-over-max-file', None, b'chunked', b'140000000\r\nxxxx', True),
    ('chunk-trailers', None, b'chunked',
     b'2\r\nxx\r\n0\r\nX-Trailer: \xff\r\n\r\n', False),
    ('chunk-empty', None, b'chunked', b'0\r\n\r\n', False),
    ('chunk-lf-only', None, b'chunked', b'2\nxx\n0\n\n', False),
    ('te-and-cl', b'3', b'chunked', b'2\r\nxx\r\n0\r\n\r\n', False),
    ('te-unknown', None, b'gzip, chunked', b'2\r\nxx\r\n0\r\n\r\n', False),
    ('te-identity', None, b'identity', b'xx', False),
    ('eicar-short', b'200', None, b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR', True),
]


def gen_body(ctx, rng, n):
    if n < len(BODY_FIXED):
        note, length, te, body, half = BODY_FIXED[n]
        ident, method = 'owner', b'PUT'
    else:
        ident = rng.choice(['owner', 'owner', 'radmin', 'anon', 'badtoken'])
        method = rng.choice([b'PUT', b'PUT', b'PUT', b'POST'])
        kind = rng.randrange(6)
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        if kind == 0:        # length larger than body: client gives up
            note, length, te, body, half = ('cl-short', b'%d' % (
                len(data) + rng.randint(1, 5000)), None, data, True)
        elif kind == 1:      # length smaller than body
            note, length, te, body, half = ('cl-long', b'%d' % rng.randint(
                0, len(data)), None, data + b'\r\n\r\n', False)
        elif kind == 2:      # valid chunking of random pieces
            pieces = [data[i:i + 7] for i in range(0, len(data), 7)]
            note, length, te, body, half = ('chunk-valid', None, b'chunked',
                                            _chunked(pieces), False)
        elif kind == 3:      # bad size line, complete otherwise
            size = rng.choice([b'g', b'-3', b'1 2', b'\xff', b'', b'1;',
                               b'00000000000000000000001', b'+1'])
            note, length, te, body, half = (
                'chunk-bad-size', None, b'chunked',
                size + b'\r\nx\r\n0\r\n\r\n', False)
        elif kind == 4:      # truncated somewhere
            full = _chunked([data[:50], data[50:]])
            cut = rng.randint(0, max(0, len(full) - 3))
            note, length, te, body, half = ('chunk-truncated', None,
                                            b'chunked', full[:cut], True)
        else:                # a huge declared chunk, then close
            note, length, te, body, half = (
                'chunk-huge', None, b'chunked',
                b'%x\r\n' % rng.choice([2 ** 31, 2 ** 40, 2 ** 64, 2 ** 33])
                + data, True)
    headers = []
    if te is not None:
        headers.append((b'Transfer-Encoding', te))
    name = MARK + b'-b%d' % (n % 40)
    raw = request(ctx, method, obj_path(name), headers, body,
                  identity=ident, length=length)
    return ident, method, raw, {'half_close': half, 'may_close': half,
                                'note': note}


def _nested(depth, kind):
    if kind == 'list':
        return b'[' * depth + b']' * depth
    return b'{"a":' * depth + b'1' + b'}' * depth


def _seg(**overrides):
    seg = {'path': '/fzmark/seg1', 'etag': None, 'size_bytes': None}
    seg.update(overrides)
    return seg


SLO_BODIES = [
    b'', b'{', b'[', b'null', b'"str"', b'123', b'true', b'{}', b'[]',
    b'[1, 2]', b'[{}]', b'[null]', b'[[]]', b'\xff\xfe', b'\xef\xbb\xbf[]',
    b'[{"path": 1}]', b'[{"path": null}]', b'[{"path": ""}]',
    b'[{"path": "/"}]', b'[{"path": "noslash"}]', b'[{"path": "/fzmark"}]',
    b'[{"path": "/fzmark/"}]', b'[{"path": "/../x"}]',
    b'[{"path": "/fzmark/\\u0000"}]', b'[{"path": "/fzmark/\xff"}]',
    b'[{"path": "/fzmark/seg1", "etag": 5}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": "x"}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": -1}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": 1e400}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": NaN}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": Infinity}]',
    b'[{"path": "/fzmark/seg1", "size_bytes": 99999999999999999999999}]',
    b'[{"path": "/fzmark/seg1", "etag": "zz"}]',
    b'[{"path": "/fzmark/seg1", "range": "5-1"}]',
    b'[{"path": "/fzmark/seg1", "range": "x"}]',
    b'[{"path": "/fzmark/seg1", "range": 5}]',
    b'[{"path": "/fzmark/seg1", "range": "0-99999"}]',
    b'[{"path": "/fzmark/seg1", "bogus": 1}]',
    b'[{"path": "/fzmark/seg1", "path": "/fzmark/seg2"}]',
    b'[{"path": "/fzmark/seg1", "data": "not base64!"}]',
    b'[{"data": 5}]',
    b'[{"path": "/fzmark/slo"}]',
    b'[{"path": "/fzmark/nonexistent"}]',
    b'{"path": "/fzmark/seg1"}',
    b'[{"path": "/fzmark/seg1"}]' + b' trailing',
    _nested(100000, 'list'), _nested(50000, 'dict'), _nested(1100, 'list'),
    json.dumps([{'path': '/fzmark/seg1'}] * 1001).encode(),
    json.dumps([{'path': '/fzmark/seg1', 'etag': [], 'size_bytes': {}}
                ]).encode(),
    json.dumps([{'path': ['/fzmark/seg1']}]).encode(),
    json.dumps([{'path': {'a': 1}}]).encode(),
    json.dumps([{'path': '/fzmark/' + 'n' * 1100}]).encode(),
    json.dumps([{'path': '/fzmark/seg1', 'etag': 'a' * 10000}]).encode(),
    b'[' + b'{"path": "/fzmark/seg1"},' * 10 + b']',
]


def gen_slo(ctx, rng, n):
    ident = 'owner'
    name = MARK + b'-s%d' % (n % 40)
    headers = []
    if n < len(SLO_BODIES):
        method, body, query = b'PUT', SLO_BODIES[n], b'multipart-manifest=put'
    else:
        roll = rng.random()
        ident = rng.choice(['owner', 'owner', 'radmin', 'anon'])
        if roll < 0.6:
            method, query = b'PUT', b'multipart-manifest=put'
            base = rng.choice(SLO_BODIES)
            body = bytearray(base)
            for _ in range(rng.randint(0, 3)):
                if body:
                    pos = rng.randrange(len(body))
                    body[pos] = rng.choice(b'[]{}",:0\\\xff \x00')
            body = bytes(body)
            if rng.random() < 0.3:
                body = json.dumps([_seg(
                    etag=rng.choice([None, 5, 'x', '']),
                    size_bytes=rng.choice([None, -1, 0, 'x', 12, 2 ** 70]),
                    range=rng.choice(['0-1', '-', '', '1-0', None]))
                    for _ in range(rng.randint(1, 3))]).encode()
        elif roll < 0.8:
            method = rng.choice([b'GET', b'HEAD', b'DELETE'])
            if method != b'DELETE':      # the shared targets must survive
                name = rng.choice([b'slo', b'obj', name])
            query = b'multipart-manifest=' + rng.choice(
                [b'get', b'delete', b'junk', b'\xff', b'get&format=raw',
                 b'get&format=\xff', b''])
            body = b''
        else:
            method, query, body = b'PUT', b'', b''
            headers = [(b'X-Object-Manifest', rng.choice(
                [b'', b'/', b'c', b'c/', b'/c/p', b'c/p?x', b'c/p&x',
                 b'../x', b'\xff/\xfe', b'%ff/%fe', b'fzmark/seg',
                 b'fzmark/' + b'p' * 2000]))]
    path = obj_path(name) + (b'?' + query if query else b'')
    return ident, method, request(ctx, method, path, headers, body,
                                  identity=ident), {}


RAW_FIXED = [
    (b'GARBAGE\r\n\r\n', False),
    (b'\r\n\r\n', True),
    (b'GET\r\n\r\n', False),
    (b'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n', False),
    (b'GET / HTTP/9.9\r\nHost: x\r\n\r\n', False),
    (b'GET / HTTP/1.x\r\nHost: x\r\n\r\n', False),
    (b'GET / FOO/1.1\r\nHost: x\r\n\r\n', False),
    (b'GET / HTTP/2.0\r\nHost: x\r\n\r\n', False),
    (b'GET / HTTP/0.9\r\n\r\n', False),
    (b'GET /\r\n', False),
    (b'GET /info\r\n', False),
    (b'GET /v1/AUTH_test\r\n', False),
    (b'HEAD /\r\n', False),
    (b'PUT /v1/AUTH_test/fzmark/x\r\n', False),
    (b'get /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'FOOBAR /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
     False),
    (b'G\xffT /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET  /info  HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET\t/info\tHTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET /info HTTP/1.0\r\n\r\n', False),
    (b'GET /info HTTP/1.1\r\nConnection: close\r\n\r\n', False),
    (b'GET /v1/AUTH_test HTTP/1.1\r\nConnection: close\r\n\r\n', False),
    (b'GET /info HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
     False),
    (b'GET /info HTTP/1.1\r\nHost: \xff\r\nConnection: close\r\n\r\n', False),
    (b'GET http://127.0.0.1/v1/AUTH_test HTTP/1.1\r\nHost: x\r\n'
     b'Connection: close\r\n\r\n', False),
    (b'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + b'\x00' * 40, True),
    (b'\x00' * 64 + b'\r\n\r\n', False),
    (b'GET /' + b'a' * 10000 + b' HTTP/1.1\r\nHost: x\r\n\r\n', False),
    (b'GET /' + b'a' * 70000 + b' HTTP/1.1\r\nHost: x\r\n\r\n', False),
    (b'GET /info HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n'
     b'Connection: close\r\n\r\n', False),
    (b'GET /info HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n', False),
    (b'GET /info HTTP/1.1\r\n: empty\r\nConnection: close\r\n\r\n', False),
    (b'GET /info HTTP/1.1\nHost: x\nConnection: close\n\n', False),
    (b'GET /info HTTP/1.1\rHost: x\rConnection: close\r\r', True),
    (b'GET /info HTTP/1.1\r\nHost: x\r\n', True),
    (b'GET /info HTTP/1.1\r\nHost: x\r\n\r\nGET /info HTTP/1.1\r\n'
     b'Host: x\r\nConnection: close\r\n\r\n', False),
    (b'GET /v1/AUTH_%E4%B8%AD HTTP/1.1\r\nConnection: close\r\n\r\n', False),
    (b'GET /v1/AUTH_\xe4\xb8\xad/c/o HTTP/1.0\r\n\r\n', False),
    (b'POST /v1/AUTH_test HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
     b'Expect: 100-continue\r\nConnection: close\r\n\r\nhello', False),
    (b'PUT /v1/AUTH_test/fzmark/x HTTP/1.1\r\nHost: x\r\n'
     b'Expect: 100-continue\r\nContent-Length: 2\r\n', True),
    (b'GET /info HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n'
     b'Connection: close\r\n\r\n', False),
    (b'GET /\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', False),
    (b'GET /auth/v1.0 HTTP/1.1\r\nHost: x\r\nX-Auth-User: \xff:\xfe\r\n'
     b'X-Auth-Key: \xff\r\nConnection: close\r\n\r\n', False),
    (b'GET /auth/v1.0 HTTP/1.1\r\nHost: x\r\nX-Auth-User: test:tester\r\n'
     b'X-Auth-Key: testing\r\nX-Auth-Token-Lifetime: \xff\r\n'
     b'Connection: close\r\n\r\n', False),
    (b'GET /auth/v1/\xe4\xb8\xad/auth HTTP/1.1\r\nHost: x\r\n'
     b'Connection: close\r\n\r\n', False),
]


def gen_raw(ctx, rng, n):
    if n < len(RAW_FIXED):
        raw, may_close = RAW_FIXED[n]
        # every fixed request is complete as sent (HTTP/0.9 ones have no
        # headers): the client shuts down its side, a response is due
        # unless the bytes were not a request at all
        half = True
        note = 'fixed'
    else:
        roll = rng.random()
        line = rng.choice([b'GET', b'HEAD', b'PUT', b'XYZ', b'', b'G ET',
                           b'\xff']) + rng.choice([b' ', b'  ', b'\t', b''])
        line += rng.choice([b'/info', b'/v1/AUTH_test', b'/', b'*',
                            b'/v1/AUTH_test/fzmark/obj', b'', b'\xff'])
        line += rng.choice([b' HTTP/1.1', b' HTTP/1.0', b'', b' HTTP/1',
                            b' HTTP/1.1 x', b' HTTP/11', b' http/1.1'])
        headers = rng.choice([b'Host: x\r\n', b'', b'Host: x\r\n' * 2,
                              b'Host: x\r\nbroken\r\n',
                              b'Host: x\r\nContent-Length: -1\r\n'])
        tail = rng.choice([b'Connection: close\r\n\r\n', b'\r\n',
                           b'Connection: close\n\n'])
        raw = line + b'\r\n' + headers + tail
        if roll < 0.2:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
            raw += b'\r\n\r\n'
        half = True       # whatever the server makes of it, it is all sent
        may_close = roll < 0.2 or b'\r\n\r\n' not in raw
        note = 'random'
    return 'anon', raw.split(b' ', 1)[0], raw, {'half_close': half,
                                               'may_close': may_close,
                                               'note': note}


GENERATORS = {'path': gen_path, 'query': gen_query, 'header': gen_header,
              'body': gen_body, 'slo': gen_slo, 'raw': gen_raw}


KNOWN_METHODS = (b'GET', b'HEAD', b'PUT', b'POST', b'DELETE', b'COPY',
                 b'OPTIONS')


def protocol_5xx(raw):
    """The 5xx answers HTTP itself prescribes for these bytes: 505 for a
    version other than HTTP/1.x, 501 for an unknown method or a
    Transfer-Encoding other than chunked.  Anything else >= 500 is a
    server fault."""
    allowed = set()
    lines = re.split(br'\r\n|\n', raw.split(b'\r\n\r\n', 1)[0])
    parts = lines[0].split()
    if len(parts) >= 3 and parts[2] not in (b'HTTP/1.0', b'HTTP/1.1'):
        allowed.add(505)
    if parts and parts[0] not in KNOWN_METHODS:
        allowed.add(501)
    for line in lines[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'transfer-encoding' and \
                value.strip().lower() != b'chunked':
            allowed.add(501)
    return allowed


def generate(seed, index, ctx):
    family = FAMILIES[index % len(FAMILIES)]
    rng = random.Random('%s:%s' % (seed, index))
    ident, method, raw, opts = GENERATORS[family](
        ctx, rng, index // len(FAMILIES))
    if isinstance(method, bytes):
        method = method.decode('latin-1')
    case = Case(family, seed, index, ident, method, raw, **opts)
    case.allowed_5xx = protocol_5xx(raw)
    return case


# -- sending ------------------------------------------------------------------

def send(case, host, port, timeout=15.0):
    result = Result()
    start = time.monotonic()
    deadline = start + timeout
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError as err:
        result.error = 'connect: %s' % err
        return result
    buf = bytearray()
    try:
        try:
            sock.sendall(case.raw)
        except (BrokenPipeError, ConnectionResetError):
            result.error = 'send'
        if case.half_close:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        _read_response(sock, case.method, buf, deadline, result)
    finally:
        sock.close()
        result.nbytes = len(buf)
        result.head = bytes(buf[:4096])
        result.elapsed = time.monotonic() - start
    return result


def _read_response(sock, method, buf, deadline, result):
    def fill():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if data:
            buf.extend(data)
        return bool(data)

    pos = 0
    try:
        while True:
            end = buf.find(b'\r\n\r\n', pos)
            if end < 0:
                if not fill():
                    return
                continue
            head = bytes(buf[pos:end])
            if not head.startswith(b'HTTP/'):
                while fill():      # HTTP/0.9-style: body until EOF
                    pass
                return
            try:
                status = int(head.split(b'\r\n', 1)[0].split()[1])
            except (IndexError, ValueError):
                while fill():
                    pass
                return
            if 100 <= status < 200 and status != 101:
                pos = end + 4
                continue
            result.status = status
            headers = {}
            for line in head.split(b'\r\n')[1:]:
                name, _, value = line.partition(b':')
                headers[name.strip().lower()] = value.strip()
            body_start = end + 4
            if method == 'HEAD' or status in (204, 304):
                return
            if b'chunked' in headers.get(b'transfer-encoding', b'').lower():
                while not buf.endswith(b'0\r\n\r\n'):
                    if not fill():
                        return
                return
            length = headers.get(b'content-length')
            if length is not None and length.isdigit():
                while len(buf) < body_start + int(length):
                    if not fill():
                        return
                return
            while fill():
                pass
            return
    except socket.timeout:
        result.error = 'timeout'
    except ConnectionResetError:
        result.error = 'reset'
    except OSError as err:
        result.error = 'oserror: %s' % err


def problems(case, result):
    """Why this answer is wrong (empty list when it is fine)."""
    found = []
    if result.nbytes == 0:
        if not case.may_close:
            found.append('no response at all (%s)' % (
                result.error or 'closed'))
    elif result.error == 'timeout':
        found.append('response incomplete after the timeout')
    if result.status is not None and result.status >= 500 and \
            result.status not in getattr(case, 'allowed_5xx', ()):
        found.append('server error %d' % result.status)
    lowered = result.head.lower()
    head_end = lowered.find(b'\r\n\r\n')
    section = lowered[:head_end] if head_end >= 0 else lowered
    for line in re.split(br'\r\n|\n|\r', section)[1:]:
        if line.startswith(INJECT.lower() + b':'):
            found.append('injected response header %s' % INJECT.decode())
            break
    return found


# -- a whole run ----------------------------------------------------------------

def loopback_only(url):
    parsed = urlparse(url)
    if parsed.hostname not in ('127.0.0.1', 'localhost', '::1'):
        raise SystemExit('refusing to fuzz a non-loopback URL: %s' % url)
    return parsed.hostname, parsed.port or 80


def get_token(url, user, key):
    req = urllib.request.Request(url + '/auth/v1.0', headers={
        'X-Auth-User': user, 'X-Auth-Key': key})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers['X-Auth-Token']


def prepare(url):
    """Tokens plus the container, object, segments and SLO the requests
    point at.  Returns the generation context."""
    host, port = loopback_only(url)
    tokens = {'anon': None, 'badtoken': BAD_TOKEN,
              'owner': get_token(url, 'test:tester', 'testing'),
              'radmin': get_token(url, 'admin:admin', 'admin')}
    ctx = {'host': ('%s:%d' % (host, port)).encode(), 'tokens': tokens,
           'addr': (host, port)}

    def call(method, path, body=b''):
        raw = request(ctx, method, path, body=body)
        res = send(Case('setup', 0, 0, 'owner', method, raw), host, port)
        if res.status is None or not 200 <= res.status < 300:
            raise RuntimeError('setup %s %r failed: %r' % (method, path,
                                                           res.head[:300]))

    call('PUT', b'/v1/' + ACCOUNT + b'/' + CONTAINER)
    call('PUT', obj_path(OBJECT), OBJ_BODY)
    call('PUT', obj_path(b'seg1'), SEG_BODY)
    call('PUT', obj_path(b'seg2'), SEG_BODY)
    manifest = json.dumps([{'path': '/fzmark/seg1'},
                           {'path': '/fzmark/seg2'}]).encode()
    call('PUT', obj_path(b'slo') + b'?multipart-manifest=put', manifest)
    return ctx


class Report(object):
    def __init__(self):
        self.counts = collections.Counter()
        self.statuses = collections.defaultdict(collections.Counter)
        self.failures = []        # (case, result, [problems])
        self.elapsed = 0.0
        self.skipped = 0          # cases not sent: time budget exhausted

    def add(self, case, result):
        self.counts[case.family] += 1
        if result.status is not None:
            key = str(result.status)
        elif result.nbytes:
            key = 'no-status-line'
        else:
            key = 'closed' if not result.error else result.error
        self.statuses[case.family][key] += 1
        found = problems(case, result)
        if found:
            self.failures.append((case, result, found))

    def table(self):
        lines = ['%-8s %6s  %s' % ('family', 'count', 'status histogram')]
        for family in FAMILIES:
            hist = ' '.join('%s:%d' % kv for kv in
                            sorted(self.statuses[family].items()))
            lines.append('%-8s %6d  %s' % (family, self.counts[family], hist))
        lines.append('%-8s %6d  (%.1fs, %d failing, %d not sent)' % (
            'total', sum(self.counts.values()), self.elapsed,
            len(self.failures), self.skipped))
        return '\n'.join(lines)

    def failure_text(self, limit=25):
        if not self.failures:
            return 'no failures'
        kinds = collections.Counter()
        first = collections.OrderedDict()
        for case, result, found in self.failures:
            for problem in found:
                key = (case.family, problem)
                kinds[key] += 1
                first.setdefault(key, (case, result))
        out = ['%d failing requests; first of each kind (family, problem):'
               % len(self.failures)]
        for (family, problem), (case, result) in list(first.items())[:limit]:
            out.append('- [%s] %s  x%d\n  %s\n  answer: %r' % (
                family, problem, kinds[(family, problem)], case.repro(),
                result.head[:300]))
        return '\n'.join(out)


def run(seeds_counts, ctx, timeout=15.0, progress=None, budget=None):
    """Send every (seed, index) in order; stop sending (and count the
    rest as skipped) once ``budget`` seconds have passed."""
    report = Report()
    host, port = ctx['addr']
    start = time.monotonic()
    for seed, count in seeds_counts:
        for index in range(count):
            if budget is not None and time.monotonic() - start > budget:
                report.skipped += 1
                continue
            case = generate(seed, index, ctx)
            result = send(case, host, port, timeout)
            report.add(case, result)
            if progress and index and index % 500 == 0:
                progress('%d/%d (seed %s)' % (index, count, seed))
    report.elapsed = time.monotonic() - start
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m tests.fuzz_requests',
        description='Send reproducible hostile requests to a loopback '
                    'objproxy/Swift proxy.')
    parser.add_argument('--url', required=True,
                        help='proxy URL, e.g. http://127.0.0.1:8080')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--count', type=int, default=2000)
    parser.add_argument('--index', type=int, default=None,
                        help='replay only this request of the seed')
    parser.add_argument('--show', action='store_true',
                        help='print the raw request and answer')
    parser.add_argument('--timeout', type=float, default=15.0)
    args = parser.parse_args(argv)
    ctx = prepare(args.url.rstrip('/'))
    if args.index is not None:
        case = generate(args.seed, args.index, ctx)
        result = send(case, *ctx['addr'], timeout=args.timeout)
        print(case.repro(limit=10 ** 9 if args.show else 800))
        print('answer (%d bytes, status %s, error %s):\n%r' % (
            result.nbytes, result.status, result.error, result.head))
        found = problems(case, result)
        print('problems: %s' % (found or 'none'))
        return 1 if found else 0
    report = run([(args.seed, args.count)], ctx, args.timeout,
                 progress=lambda msg: print(msg, file=sys.stderr))
    print(report.table())
    print(report.failure_text(limit=100))
    return 1 if report.failures else 0


if __name__ == '__main__':
    sys.exit(main())
