"""Loading a paste config, with the filters the proxy cannot work without.

Why this exists: parts of the API live in filters -- error answers with
a transaction id (``catch_errors``), the wall between clients and the
backend-only headers and reserved names (``gatekeeper``), listings
rendered as the client asked (``listing_formats``), server-side copy
(``copy``), large objects (``slo``, ``dlo``) and ``X-Versions-Location``
(``versioned_writes``) -- and other filters build on them (symlink and
versioning rewrite JSON listings and only ever see the GET and PUT a copy
is made of).  A proxy config written before those filters
existed, or by someone who forgot them, must still behave, so -- as
Swift's proxy does with its ``required_filters`` -- the proxy adds each
missing one itself when the pipeline ends in ``egg:objproxy#proxy_server``,
and logs "Adding required filter X to pipeline at position N" (N counts
the filters before it, from 0).  Configs that are not such a proxy
pipeline load unchanged.

Placement (Swift's relative order):

* ``catch_errors`` first, ``gatekeeper`` right after it: without
  gatekeeper a client could send ``X-Backend-*`` headers, sysmeta or a
  reserved (``\x00``) name straight to the proxy;
* ``listing_formats`` early: right after the first of catch_errors,
  gatekeeper, healthcheck, proxy_logging, memcache present;
* ``copy`` after the filters that decide who the client is or answer for
  themselves (auth, staticweb, tempurl, ratelimit...), and left of quotas,
  clamav, slo, dlo, versioned_writes and symlink, so the GET and PUT a copy
  makes pass through all of them (the copied body is scanned by clamav,
  segments are joined, quotas see the real size);
* ``slo`` then ``dlo`` just before the final ``proxy_logging`` and after
  every auth or scanning filter (segment subrequests are authorized,
  segment uploads scanned);
* ``versioned_writes`` right of them and left of ``symlink``, so a
  container that names a versions location is never silently ignored
  (without ``allow_versioned_writes`` it refuses the header, as Swift).
"""
from paste.deploy import loadwsgi

from objproxy.common.logs import get_logger

DIST_NAME = 'objproxy'
PROXY_APP = 'proxy_server'
# In the order they are inserted.
REQUIRED_FILTERS = ('catch_errors', 'gatekeeper', 'listing_formats', 'copy',
                    'slo', 'dlo', 'versioned_writes')
# Inserted as far right as allowed (the others as far left as allowed).
LATE = ('slo', 'dlo', 'versioned_writes')
# A filter goes right of every one of these that is present ...
AFTER = {
    'gatekeeper': ('catch_errors',),
    'listing_formats': ('catch_errors', 'gatekeeper', 'healthcheck',
                        'proxy_logging', 'memcache'),
    'copy': ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy_logging',
             'memcache', 'etag_quoter', 'listing_formats', 'bulk',
             'tempurl', 'ratelimit', 'formpost', 'tempauth', 'keystoneauth',
             'staticweb'),
    'slo': ('catch_errors', 'gatekeeper', 'healthcheck', 'ratelimit',
            'tempauth', 'copy', 'clamav'),
    'dlo': ('catch_errors', 'gatekeeper', 'healthcheck', 'ratelimit',
            'tempauth', 'copy', 'clamav', 'slo'),
    'versioned_writes': ('catch_errors', 'gatekeeper', 'healthcheck',
                         'ratelimit', 'tempauth', 'copy', 'clamav', 'slo',
                         'dlo'),
}
# ... and left of every one of these (wins over AFTER when they clash).
BEFORE = {
    'copy': ('container_quotas', 'account_quotas', 'clamav', 'slo', 'dlo',
             'versioned_writes', 'symlink'),
    'slo': ('dlo', 'versioned_writes', 'symlink'),
    'dlo': ('versioned_writes', 'symlink'),
    'versioned_writes': ('symlink',),
}


def entry_point(context):
    """``name`` for a context made from ``egg:objproxy#name``, else None."""
    dist = getattr(context, 'distribution', None)
    try:
        dist_name = dist.metadata['Name'] if dist is not None else None
    except (AttributeError, KeyError):
        dist_name = getattr(dist, 'project_name', None)
    if dist_name is None or dist_name.lower() != DIST_NAME:
        return None
    return getattr(context, 'entry_point_name', None)


def is_proxy_pipeline(context):
    return (context.object_type.name == 'pipeline' and
            entry_point(context.app_context) == PROXY_APP)


def insertion_index(names, missing):
    """Where to put filter ``missing`` in a list of entry-point names."""
    # the final proxy_logging (logging what the proxy app was asked)
    # stays last
    end = len(names)
    if names and names[-1] == 'proxy_logging':
        end -= 1
    head = names[:end]
    # as Swift: a filter's first occurrence counts (proxy_logging comes
    # twice; "after proxy_logging" means after the first one)
    after = [head.index(n) for n in AFTER.get(missing, ()) if n in head]
    before = [i for i, n in enumerate(head) if n in BEFORE.get(missing, ())]
    if missing in LATE:
        index = end         # late filters: as far right as allowed
    else:
        index = 0           # early ones: as far left as allowed
    if after:
        index = max(index, max(after) + 1)
    if before:
        index = min(index, min(before))
    return index


def planned_pipeline(names):
    """The entry-point names after inserting whatever is missing."""
    names = list(names)
    for name in REQUIRED_FILTERS:
        if name not in names:
            names.insert(insertion_index(names, name), name)
    return names


def add_required_filters(context, logger=None):
    """Insert the missing required filter contexts (in place), logging
    each insertion as Swift does."""
    if not is_proxy_pipeline(context):
        return context
    if logger is None:
        logger = get_logger(context.global_conf, 'proxy-server',
                            log_route='pipeline')
    filters = context.filter_contexts
    for name in REQUIRED_FILTERS:
        names = [entry_point(f) for f in filters]
        if name in names:
            continue
        index = insertion_index(names, name)
        logger.info('Adding required filter %s to pipeline at position %d',
                    name, index)
        filt = loadwsgi.loadcontext(loadwsgi.FILTER, 'egg:%s#%s'
                                    % (DIST_NAME, name),
                                    global_conf=context.global_conf)
        filt.protocol = 'paste.filter_factory'
        filters.insert(index, filt)
    return context


def build_pipeline(context):
    """Create a pipeline context's filters and app, telling every one of
    them (``_pipeline_final_app``, Swift's name) which app the chain ends
    in, so a filter reaches the proxy directly instead of walking the
    chain, and ``_pipeline`` (the chain itself, outermost first)."""
    final_app = context.app_context.create()
    pipeline = [final_app]
    for filter_context in reversed(context.filter_contexts):
        pipeline.insert(0, filter_context.create()(pipeline[0]))
    for app in pipeline:
        app._pipeline = pipeline
        app._pipeline_final_app = final_app
    return pipeline[0]


def load_app(conf_path):
    """Like ``paste.deploy.loadapp('config:' + path)`` plus the filters."""
    context = loadwsgi.loadcontext(loadwsgi.APP, 'config:' + conf_path)
    add_required_filters(context)
    if context.object_type.name == 'pipeline':
        return build_pipeline(context)
    return context.create()
