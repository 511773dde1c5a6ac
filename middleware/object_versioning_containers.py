"""object_versioning: container and account requests.

Why a module of its own: the container is where versioning is switched
on and off and where its hidden container's life is tied to the client's
one.  ``X-Versions-Enabled`` on a PUT/POST creates
``\\x00versions\\x00<container>`` (once) and records it in sysmeta; a
DELETE is refused (409) while versions remain and takes the hidden
container with it; HEAD/GET show ``X-Versions-Enabled`` and count the
versions' bytes.  Listings live in object_versioning_listing.
"""
from middleware.object_versioning_internal import (
    VersioningError, call, drain, make_env)
from middleware.object_versioning_names import (
    CLIENT_VERSIONS_ENABLED, SYSMETA_LEGACY_LOCATION, SYSMETA_VERSIONS_CONT,
    SYSMETA_VERSIONS_ENABLED, quoted, stored_versions_container,
    versions_container)
from objproxy.common.config import config_true_value
from objproxy.proxy.info import get_container_info
from objproxy.common.response import is_success


def _authorize(req):
    """The client may change this container (owners only, no ACL)."""
    env = req.environ
    authorize = env.get('swift.authorize')
    if not authorize or env.get('swift.authorize_override'):
        return
    req.acl = None
    denial = authorize(req)
    if denial:
        raise VersioningError(denial.status_int, denial.body,
                              dict(denial.headers))


def show_enabled(resp):
    """Clients see the sysmeta flag as ``X-Versions-Enabled``."""
    value = resp.headers.get(SYSMETA_VERSIONS_ENABLED)
    if value is not None:
        resp.headers[CLIENT_VERSIONS_ENABLED] = value
    return resp


def enable_versioning(app, req, account, container):
    """PUT/POST with X-Versions-Enabled."""
    env = req.environ
    _authorize(req)
    info = get_container_info(env, app, account, container)
    sysmeta = info.get('sysmeta') or {}
    if info.get('versions') or sysmeta.get(SYSMETA_LEGACY_LOCATION):
        raise VersioningError(400, 'Cannot enable object versioning on a '
                              'container that is already using the legacy '
                              'versioned writes feature.')
    enabled = config_true_value(req.headers[CLIENT_VERSIONS_ENABLED])
    req.headers[SYSMETA_VERSIONS_ENABLED] = str(enabled)
    created = None
    if enabled:
        vcont = versions_container(container)
        path = '/v1/%s/%s' % (account, vcont)
        resp = call(app, make_env(env, 'PUT', path, preauth=True,
                                  reserved=True))
        drain(resp)
        if resp.status_int == 201:
            created = path
        elif not (is_success(resp.status_int) or resp.status_int == 409):
            raise VersioningError(500, 'Error enabling object versioning')
        req.headers[SYSMETA_VERSIONS_CONT] = quoted(vcont)
    resp = call(app, req)
    if created and not is_success(resp.status_int):
        # nothing points at it: let the client retry from scratch
        drain(call(app, make_env(env, 'DELETE', created, preauth=True,
                                 reserved=True)))
    return show_enabled(resp)


def versions_stats(app, env, account, vcont):
    """The hidden container's HEAD answer (drained)."""
    resp = call(app, make_env(env, 'HEAD', '/v1/%s/%s' % (account, vcont),
                              preauth=True, reserved=True))
    drain(resp)
    return resp


def delete_container(app, req, account, container):
    """DELETE: 409 while any version remains; otherwise the hidden
    container goes first (as in Swift: once the client's container is
    gone nothing would point at a leftover hidden one), then the
    client's."""
    env = req.environ
    info = get_container_info(env, app, account, container)
    vcont = stored_versions_container(info.get('sysmeta'))
    if not vcont:
        return call(app, req)
    _authorize(req)     # before the hidden container is touched
    stats = versions_stats(app, env, account, vcont)
    if is_success(stats.status_int):
        if int(stats.headers.get('X-Container-Object-Count') or 0) > 0:
            raise VersioningError(409, 'Delete all versions before deleting '
                                  'container.')
    elif stats.status_int != 404:
        raise VersioningError(500, 'Error deleting versioned container')
    gone = call(app, make_env(env, 'DELETE', '/v1/%s/%s' % (
        account, vcont), preauth=True, reserved=True))
    drain(gone)
    if not (is_success(gone.status_int) or gone.status_int == 404):
        raise VersioningError(500, 'Error deleting versioned container')
    return call(app, req)
