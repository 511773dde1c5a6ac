"""Server-side copies of large objects, shared by slo and dlo.

Why its own module: copying a large object means copying its *content*
(segments joined, as the client would read it) into a plain object, or,
with ``?multipart-manifest=get``, its manifest.  The source is read as the
client, so every segment read is authorised; the destination's headers are
the source's metadata and the client's, never the source's manifest
headers.
"""
from urllib.parse import parse_qs, quote

from webob.headers import EnvironHeaders

from objproxy.common.paths import str_to_wsgi, wsgi_to_str
from objproxy.proxy import copy as copying
from middleware.large_objects import (
    LISTING_BODY_LIMIT, call_app, header_items, make_subrequest_env,
    pass_on, respond, strip_swift_bytes, trans_id)


def copy_source(env, obj_parts):
    """(source path, destination path, source account) as WSGI strings for
    a COPY or a PUT with X-Copy-From; None when malformed (the proxy then
    answers the error)."""
    version, account, container, obj = obj_parts
    headers = EnvironHeaders(env)
    try:
        if env['REQUEST_METHOD'] == 'COPY':
            src = (account, container, obj)
            dest = copying.parse_client_location(
                headers, 'Destination', 'Destination-Account', account)
        else:
            src = copying.parse_client_location(
                headers, 'X-Copy-From', 'X-Copy-From-Account', account)
            dest = (account, container, obj)
    except copying.CopyError:
        return None
    to_path = lambda parts: str_to_wsgi('/%s/%s/%s/%s' % ((version,) + parts))
    return to_path(src), to_path(dest), src


def is_copy(env):
    return env.get('REQUEST_METHOD') == 'COPY' or (
        env.get('REQUEST_METHOD') == 'PUT' and 'HTTP_X_COPY_FROM' in env)


MANIFEST_HEADERS = ('x-object-manifest', 'x-static-large-object',
                    'x-object-sysmeta-slo-etag', 'x-object-sysmeta-slo-size')


def copy_whole_object(reader_app, put_app, env, start_response, obj_parts,
                      source, logger):
    """Copy a large object's *content* (not its manifest) to the
    destination: GET it through ``reader_app`` (which joins segments) and
    stream it into a plain PUT through ``put_app``."""
    paths = copy_source(env, obj_parts)
    if paths is None:
        return None
    src_path, dest_path, src_names = paths
    # ?part-number= on a copy picks the part of the source that is copied
    part = parse_qs(env.get('QUERY_STRING', '')).get('part-number')
    get_env = make_subrequest_env(
        env, 'GET', src_path, source=source,
        query_string='part-number=%s' % quote(part[0]) if part else '')
    src = call_app(reader_app, get_env)
    if not src.ok:
        return pass_on(src, start_response)
    try:
        length = int(src.headers['content-length'])
    except (KeyError, ValueError):
        src.close()
        return respond(start_response, 500, b'Copy source has no length')
    dest_headers = copy_headers(env, src.headers)
    reader = copying.BodyReader(src.app_iter)
    put_env = make_subrequest_env(env, 'PUT', dest_path,
                                  headers=dest_headers, source=source,
                                  body=reader, content_length=length)
    try:
        put = call_app(put_app, put_env)
        body = put.read(LISTING_BODY_LIMIT)
    finally:
        reader.close()
        src.close()
    headers = header_items(put.header_list, ('content-length',))
    if put.ok:
        headers += copied_from(src_names, src.headers)
    else:
        logger.info('%s copy of %s failed: %s (txn %s)', source,
                    wsgi_to_str(src_path), put.status, trans_id(env))
    headers.append(('Content-Length', str(len(body))))
    start_response(put.status, headers)
    return [body]


def copy_headers(env, src_headers):
    """The destination's headers for a copy of a large object: the
    source's metadata and the client's, without the source's manifest
    headers (the destination's are set by whoever writes it)."""
    request_headers = dict(
        (key[5:].replace('_', '-').title(), value)
        for key, value in env.items() if key.startswith('HTTP_'))
    raw = env.get('headers_raw')
    sent_type = raw is None or any(k.lower() == 'content-type'
                                   for k, _v in raw)
    if env.get('CONTENT_TYPE') and sent_type:
        request_headers['Content-Type'] = env['CONTENT_TYPE']
    dest_headers = copying.copy_metadata(src_headers, request_headers)
    for key in list(dest_headers):
        if key.lower() in MANIFEST_HEADERS or key.lower().startswith(
                ('x-object-sysmeta-slo-',
                 'x-object-sysmeta-container-update-override-')):
            del dest_headers[key]
    ctype = dest_headers.pop('content-type', None) or \
        src_headers.get('content-type')
    if ctype:
        dest_headers['Content-Type'] = strip_swift_bytes(ctype)
    return dest_headers


def copied_from(src_names, src_headers):
    """The X-Copied-From* headers of a successful copy."""
    out = [('X-Copied-From', '%s/%s' % (quote(src_names[1]),
                                        quote(src_names[2]))),
           ('X-Copied-From-Account', quote(src_names[0]))]
    if src_headers.get('last-modified'):
        out.append(('X-Copied-From-Last-Modified',
                    src_headers['last-modified']))
    return out
