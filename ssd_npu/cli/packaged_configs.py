"""A CONFIG argument that names a config shipped in the package: ``synthetic_demo``, ``ssd300_coco.py``.

The configs are inside the installed package (:data:`ssd_npu.config.package_bases.CONFIGS`), so a
wheel install runs ``ssd_npu train ssd300_coco.py`` from any folder; in a checkout the package's
configs are the repository's ``configs/``.
"""
import os
import os.path as osp
from typing import List

from ssd_npu.config.package_bases import CONFIGS
from ssd_npu.errors import UsageError


def packaged_configs() -> List[str]:
    """The configs a CONFIG argument may name (the package's top-level configs; bases excluded)."""
    if not osp.isdir(CONFIGS):
        return []
    return sorted(name for name in os.listdir(CONFIGS)
                  if name.endswith('.py') and osp.isfile(osp.join(CONFIGS, name)))


def resolve_config(config: str) -> str:
    """``config`` when it is a file; else the packaged config it names, with or without ``.py`` and
    ``configs/`` (a path inside the package's configs, ``_base_/...``, works as well).

    Raises:
        UsageError: ``config`` is a bare name (or ``configs/NAME``) that is no packaged config; the
            message lists them. Any other missing path is left to the config loader ("Config file
            not found").
    """
    if osp.isfile(config) or osp.isabs(config):
        return config
    name = osp.normpath(config)
    if name.startswith('configs' + osp.sep):
        name = name[len('configs' + osp.sep):]
    for candidate in (name, name + '.py'):
        path = osp.join(CONFIGS, candidate)
        if not candidate.startswith('..') and osp.isfile(path):
            return path
    if osp.dirname(name) == '':
        shipped = ', '.join(packaged_configs()) or f'none (no configs in {CONFIGS})'
        raise UsageError(f'Config file not found: {config} is neither a file nor a packaged config; '
                         f'ssd_npu ships: {shipped}')
    return config
