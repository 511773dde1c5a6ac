"""Loading a paste config, with the large-object filters the proxy needs.

Why this exists: every Swift client splits big uploads into segments and
relies on the server to join them again (``dlo`` and ``slo``).  A proxy
config written before those filters existed, or by someone who forgot
them, must still serve large objects, so -- as Swift does for ``dlo``,
``copy`` and ``listing_formats`` -- the proxy adds them itself when the
pipeline ends in ``egg:objproxy#proxy_server`` and leaves them out.

Placement follows Swift's relative order: ``slo`` then ``dlo``, just before
the final ``proxy_logging``/``proxy_server`` and after every auth or
scanning filter (so segment subrequests are authorized and segment uploads
are scanned).  Configs that are not such a proxy pipeline load unchanged.
"""
from paste.deploy import loadwsgi

DIST_NAME = 'objproxy'
PROXY_APP = 'proxy_server'
LARGE_OBJECT_FILTERS = ('slo', 'dlo')  # in pipeline order
# Filters the large-object filters must come after when present.
MUST_FOLLOW = ('catch_errors', 'gatekeeper', 'healthcheck', 'ratelimit',
               'tempauth', 'clamav')


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
    index = len(names)
    if names and names[-1] == 'proxy_logging':
        index -= 1
    after = [i for i, name in enumerate(names) if name in MUST_FOLLOW]
    if missing == 'dlo' and 'slo' in names:
        after.append(names.index('slo'))
    if after:
        index = max(index, max(after) + 1)
    if missing == 'slo' and 'dlo' in names:
        index = min(index, names.index('dlo'))
    return index


def planned_pipeline(names):
    """The entry-point names after inserting whatever is missing."""
    names = list(names)
    for name in LARGE_OBJECT_FILTERS:
        if name not in names:
            names.insert(insertion_index(names, name), name)
    return names


def add_large_object_filters(context):
    """Insert the missing ``slo``/``dlo`` filter contexts (in place)."""
    if not is_proxy_pipeline(context):
        return context
    filters = context.filter_contexts
    for name in LARGE_OBJECT_FILTERS:
        names = [entry_point(f) for f in filters]
        if name in names:
            continue
        filt = loadwsgi.loadcontext(loadwsgi.FILTER, 'egg:%s#%s'
                                    % (DIST_NAME, name),
                                    global_conf=context.global_conf)
        filt.protocol = 'paste.filter_factory'
        filters.insert(insertion_index(names, name), filt)
    return context


def load_app(conf_path):
    """Like ``paste.deploy.loadapp('config:' + path)`` plus the filters."""
    context = loadwsgi.loadcontext(loadwsgi.APP, 'config:' + conf_path)
    add_large_object_filters(context)
    return context.create()
