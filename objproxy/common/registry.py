"""Capabilities published at ``GET /info``.

Each filter registers its own section when its factory runs, so ``/info``
lists exactly the middleware in the loaded pipeline.
"""
import copy

_info = {}
_admin_info = {}


def register_info(name='objproxy', admin=False, **kwargs):
    target = _admin_info if admin else _info
    section = target.setdefault(name, {})
    section.update(kwargs)


def get_info(admin=False, disallowed_sections=()):
    info = copy.deepcopy(_info)
    for section in disallowed_sections:
        info.pop(section, None)
    if admin:
        info['admin'] = copy.deepcopy(_admin_info)
    return info


def clear_info():
    """For tests that build several pipelines in one process."""
    _info.clear()
    _admin_info.clear()
