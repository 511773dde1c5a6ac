"""Showing links in JSON container listings, for ``middleware.symlink``.

A link's listing row carries its target in the ETag's parameters (the
object server stores the row's ETag from
``X-Object-Sysmeta-Container-Update-Override-Etag``)::

    d41d8cd98f00b204e9800998ecf8427e; symlink_target=c/o;
        symlink_target_account=AUTH_x; symlink_target_etag=...;
        symlink_target_bytes=...

Swift turns those into ``symlink_path`` (``/v1/<account>/<c>/<o>``,
percent-encoded as stored), ``symlink_etag`` and ``symlink_bytes``, and
leaves ``hash`` as the plain ETag plus any other parameters (e.g. slo's
``slo_etag``, for the filters to the left).  Only JSON is rewritten: the
listing_formats filter asks for JSON below it and renders other formats
from the rewritten rows.
"""
import json

SYMLINK_KEYS = ('symlink_target', 'symlink_target_account',
                'symlink_target_etag', 'symlink_target_bytes')


def split_params(value):
    """``'etag; k=v; k2="v2"'`` -> ('etag', [(k, v), ...]) with
    ``cgi.parse_header``'s rules (lower-case keys, quotes removed)."""
    parts = value.split(';')
    params = []
    for part in parts[1:]:
        key, sep, val = part.partition('=')
        if not sep:
            continue
        key = key.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\\\', '\\').replace('\\"', '"')
        params.append((key, val))
    return parts[0].strip(), params


def rewrite_row(row, version, account):
    """One listing row with its symlink parameters turned into keys."""
    if not isinstance(row, dict) or not isinstance(row.get('hash'), str):
        return row
    if ';' not in row['hash']:
        return row
    etag, params = split_params(row['hash'])
    row['hash'] = etag
    target = None
    for key, val in params:
        if key == 'symlink_target':
            target = val
        elif key == 'symlink_target_account':
            account = val
        elif key == 'symlink_target_etag':
            row['symlink_etag'] = val
        elif key == 'symlink_target_bytes':
            try:
                row['symlink_bytes'] = int(val)
            except ValueError:
                row['symlink_bytes'] = val
        else:
            row['hash'] += '; %s=%s' % (key, val)
    if target:
        row['symlink_path'] = '/'.join(('', version, account, target))
    return row


def rewrite_listing(rows, version, account):
    """The listing body with links shown, or None if ``rows`` is not a
    JSON object listing (then the body goes out as it came)."""
    if not isinstance(rows, list):
        return None
    return json.dumps([rewrite_row(row, version, account)
                       for row in rows]).encode('ascii')
