"""object_versioning: listings of versioned containers and accounts.

Why a module of its own: three listings are rewritten here.  A versioned
container's listing shows each version symlink with its version's size
and ETag; ``?versions`` merges the container's listing (``null``
versions, current links) with the hidden container's (every version
and delete marker, names unwrapped, ``version_id`` and ``is_latest``
added), paged by ``marker``/``version_marker``; an account listing adds
the hidden containers' bytes to their containers' (hidden containers
themselves are never listed to clients: the nodes leave reserved names
out unless asked by the proxy).  Only JSON is spoken: ``?versions`` in
any other format is a 406.
"""
import json
from urllib.parse import parse_qsl, quote, unquote, urlencode

from middleware.object_versioning_internal import (
    VersioningError, call, drain, make_env)
from middleware.object_versioning_names import (
    DELETE_MARKER_CONTENT_TYPE, NULL_VERSION, SYSMETA_VERSIONS_CONT,
    container_of_versions, split_version, version_object, version_prefix,
    versions_container)
from middleware.object_versioning_containers import (
    show_enabled, versions_stats)
from objproxy.common.config import config_true_value
from objproxy.common.constraints import LIMITS
from objproxy.common.paths import (
    RESERVED, get_reserved_name, split_reserved_name)
from objproxy.common.response import is_success

JSON = 'application/json; charset=utf-8'
MAX_LISTING_BODY = 64 * 1024 * 1024


def query_params(env):
    """The client's query as real text ({name: first value})."""
    params = {}
    # a WSGI string holds one byte per character: unquote each escape to
    # one such character too, then read the bytes as UTF-8
    for key, value in parse_qsl(env.get('QUERY_STRING', ''),
                                keep_blank_values=True, encoding='latin-1'):
        params.setdefault(_utf8(key), _utf8(value))
    return params


def _utf8(wsgi_str):
    return wsgi_str.encode('latin-1', 'replace').decode('utf-8', 'replace')


def _read_json(resp):
    body = b''.join(resp.app_iter)
    close = getattr(resp.app_iter, 'close', None)
    if close:
        close()
    try:
        listing = json.loads(body)
    except ValueError:
        return body, None
    return body, listing if isinstance(listing, list) else None


def _limit(params, maximum):
    value = (params.get('limit') or '').strip()
    if value.isdigit():
        if int(value) > maximum:
            raise VersioningError(412, 'Maximum limit is %d' % maximum)
        return int(value)
    return maximum


def _merged(parts, reverse, limit):
    def key(item):
        return item['subdir'] if 'subdir' in item else item['name']
    rows = sorted((item for part in parts for item in part), key=key,
                  reverse=reverse)
    return json.dumps(rows[:limit]).encode('ascii')


def _respond(resp, body):
    resp.app_iter = [body]
    resp.content_length = len(body)
    return resp


def wants_json(req, params):
    """``?versions`` speaks JSON only.  listing_formats (on our left) has
    already turned ``format=`` into the Accept header and the query into
    ``format=json``, as in Swift; a ``format`` other than json is only
    seen here without it."""
    fmt = params.get('format')
    if fmt is not None and fmt.strip().lower() != 'json':
        return False
    if 'HTTP_ACCEPT' not in req.environ:
        return True
    return bool(req.accept.acceptable_offers(['application/json']))


def container_get_or_head(app, req, account, container):
    """A container HEAD/GET: the flag shown, version bytes counted, and
    version symlinks listed as their versions."""
    env = req.environ
    params = query_params(env)
    versions = 'versions' in params and req.method == 'GET'
    if versions:
        if not wants_json(req, params):
            raise VersioningError(406)
        env['swift.format_listing'] = False
        params['format'] = 'json'
        req.query_string = urlencode(
            [(k, v) for k, v in params.items()
             if k not in ('versions', 'version_marker')], quote_via=quote)
    resp = show_enabled(call(app, req))
    location = unquote(resp.headers.get(SYSMETA_VERSIONS_CONT, ''))
    location = location.split('/')[0]
    ok = is_success(resp.status_int)
    if location and 'X-Container-Bytes-Used' in resp.headers:
        stats = versions_stats(app, env, account, location)
        if is_success(stats.status_int):
            resp.headers['X-Container-Bytes-Used'] = str(
                int(resp.headers['X-Container-Bytes-Used']) +
                int(stats.headers.get('X-Container-Bytes-Used') or 0))
    elif ok and not location:
        # never enabled as far as we can tell: a ?versions listing still
        # looks for versions (the metadata may just be stale)
        try:
            location = versions_container(container)
        except ValueError:
            pass        # the proxy's own listing of a reserved container
    if not ok or req.method != 'GET':
        return resp
    body, listing = _read_json(resp)
    if listing is None:
        return _respond(resp, body)
    for item in listing:
        _as_version(item, container, location, versions)
    if versions:
        return list_versions(app, req, resp, params, account, location,
                             listing)
    return _respond(resp, json.dumps(listing).encode('ascii'))


def _as_version(item, container, location, versions):
    """A version symlink's row shows its version's size and ETag."""
    if not all(k in item for k in ('symlink_path', 'symlink_etag',
                                   'symlink_bytes')):
        return
    path = unquote(item['symlink_path'])
    parts = path.split('/', 4)
    if len(parts) != 5 or parts[3] != location:
        return
    extra = ''.join('; ' + p.strip() for p in item['hash'].split(';')[1:])
    item['bytes'] = int(item.pop('symlink_bytes'))
    item['version_symlink'] = True
    item['hash'] = item.pop('symlink_etag') + extra
    obj, version = split_version(parts[4])
    if version is not None and not versions:
        item['symlink_path'] = '%s?version-id=%s' % (
            quote('/v1/%s/%s/%s' % (parts[2], container, obj)),
            version.internal)


def _versions_params(params):
    """The hidden container's listing parameters for the client's."""
    out = {'format': 'json'}
    marker = params.get('marker')
    vmarker = params.get('version_marker')
    if marker is not None:
        if vmarker is None:
            out['marker'] = version_prefix(marker) + ':'   # past them all
        elif vmarker == NULL_VERSION:
            out['marker'] = version_prefix(marker)
        else:
            try:
                out['marker'] = version_object(marker, vmarker)
            except ValueError:
                raise VersioningError(400, 'invalid version_marker param')
    elif vmarker is not None:
        raise VersioningError(400, 'version_marker param requires marker')
    delimiter = params.get('delimiter', '')
    if set(delimiter) & set('0123456789.' + RESERVED):
        raise VersioningError(400, 'invalid delimiter param')
    if 'prefix' in params:
        out['prefix'] = get_reserved_name(params['prefix'])
    for key in ('limit', 'delimiter', 'reverse'):
        if key in params:
            out[key] = params[key]
    return out


def _row(item, name, ts, is_latest):
    return {'name': name, 'is_latest': is_latest,
            'version_id': ts.internal, 'content_type': item['content_type'],
            'bytes': item['bytes'], 'hash': item['hash'],
            'last_modified': item['last_modified']}


def list_versions(app, req, resp, params, account, location, primary):
    env = req.environ
    vparams = _versions_params(params)
    limit = _limit(params, LIMITS['container_listing_limit'])
    reverse = config_true_value(params.get('reverse', ''))
    nulls, subdirs, current, latest = [], set(), {}, set()
    for item in primary:
        if 'name' not in item:
            subdirs.add(item['subdir'])
        elif item.get('version_symlink'):
            current[unquote(item['symlink_path'])] = item
        else:
            nulls.append(dict(item, version_id=NULL_VERSION, is_latest=True))
            latest.add(item['name'])
    vresp = None
    if versions_stats(app, env, account, location).status_int != 404:
        vresp = call(app, make_env(env, 'GET', '/v1/%s/%s' % (
            account, location), query=vparams, preauth=True, reserved=True))
    versions = []
    if vresp is not None and vresp.status_int != 404:
        if not is_success(vresp.status_int):
            return vresp
        _body, vlisting = _read_json(vresp)
        for item in vlisting or []:
            if 'name' not in item:
                subdirs.add(split_reserved_name(item['subdir'])[0])
                continue
            name, ts = split_version(item['name'])
            if ts is None:
                continue
            path = '/v1/%s/%s/%s' % (account, location, item['name'])
            if path in current:
                del current[path]
                item['is_latest'] = True
            else:
                item['is_latest'] = (
                    item['content_type'] == DELETE_MARKER_CONTENT_TYPE and
                    name not in latest)
            if item['is_latest']:
                latest.add(name)
            item['name'] = name
            item['version_id'] = ts.internal
            versions.append(item)
    elif vresp is not None:
        drain(vresp)
    # links whose version was not listed (a stale listing, or none at all)
    broken = []
    for item in current.values():
        name, ts = split_version(unquote(item['symlink_path']).split(
            '/', 4)[-1])
        if ts is None:
            continue
        broken.append(_row(item, name, ts, name not in latest))
        latest.add(name)
    body = _merged([nulls, versions, [{'subdir': s} for s in subdirs],
                    broken], reverse, limit)
    resp.content_type = 'application/json'
    resp.charset = 'utf-8'
    return _respond(resp, body)


def _versions_name_or_same(name):
    try:
        return versions_container(name)
    except ValueError:
        return name


def account_get(app, req, account):
    """An account listing: each container's bytes include its hidden
    container's; an orphaned hidden container is listed by its client
    name (count 0) so its owner can clean it up."""
    env = req.environ
    resp = call(app, req)
    if not is_success(resp.status_int):
        return resp
    body, listing = _read_json(resp)
    if listing is None:
        return _respond(resp, body)
    params = query_params(env)
    vparams = dict(params, format='json')
    # a name holding a NUL has no hidden twin: it is passed on as it is
    # (as Swift's) instead of failing the whole listing
    if 'prefix' in params:
        vparams['prefix'] = _versions_name_or_same(params['prefix'])
    else:
        vparams['prefix'] = get_reserved_name('versions')
    for key in ('marker', 'end_marker'):
        if key in params:
            vparams[key] = _versions_name_or_same(params[key])
    vresp = call(app, make_env(env, 'GET', '/v1/%s' % account,
                               query=vparams, preauth=True, reserved=True))
    hidden = {}
    if is_success(vresp.status_int):
        _vbody, vlisting = _read_json(vresp)
        for item in vlisting or []:
            name = container_of_versions(item.get('name', ''))
            if name is not None:
                hidden[name] = item
    else:
        drain(vresp)
    if not hidden:
        return _respond(resp, body)
    for item in listing:
        if item.get('name') in hidden:
            item['bytes'] += hidden.pop(item['name'])['bytes']
    for name, item in hidden.items():
        listing.append(dict(item, name=name, count=0))
    limit = _limit(params, LIMITS['account_listing_limit'])
    reverse = config_true_value(params.get('reverse', ''))
    return _respond(resp, _merged([listing], reverse, limit))

