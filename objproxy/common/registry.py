"""Capabilities published at ``GET /info``.

Each filter registers its own section when its factory runs, so ``/info``
lists exactly the middleware in the loaded pipeline.
"""
import copy

_info = {}
_admin_info = {}
_caps = {}     # (section, key) -> the lowest limit any filter enforces


def register_info(name='objproxy', admin=False, **kwargs):
    target = _admin_info if admin else _info
    section = target.setdefault(name, {})
    section.update(kwargs)


def cap_info(name, key, value):
    """A filter enforces a lower limit than the section advertises (e.g.
    clamav's scan limit under ``swift.max_file_size``): ``/info`` shows the
    lowest, whatever order the factories ran in."""
    _caps[(name, key)] = min(value, _caps.get((name, key), value))


def get_info(admin=False, disallowed_sections=()):
    info = copy.deepcopy(_info)
    for (name, key), cap in _caps.items():
        section = info.get(name)
        if section is not None and key in section:
            section[key] = min(section[key], cap)
    for section in disallowed_sections:
        info.pop(section, None)
    if admin:
        info['admin'] = copy.deepcopy(_admin_info)
    return info


def clear_info():
    """For tests that build several pipelines in one process."""
    _info.clear()
    _admin_info.clear()
    _caps.clear()
