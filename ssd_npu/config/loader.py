"""The one way a config is read: by the tools, ``init_detector`` and the benchmarks alike.

So that an official mmdetection config works everywhere it works at all: ``mmdet::`` bases
resolve to our equivalents (:mod:`.package_bases`), an mmdetection 2.x config is converted
(:mod:`.legacy_config`), and an mmdetection scope becomes ours.
"""
import copy
import logging
import os.path as osp
from pathlib import Path
from typing import Optional, Union

from mmengine.config import Config
from mmengine.logging import print_log

from .legacy_config import is_legacy_config, upgrade_config
from .package_bases import resolved_package_bases


def load_config(config: Union[str, Path, Config], cfg_options: Optional[dict] = None) -> Config:
    """Read a config file (or copy a :class:`Config`) and merge ``cfg_options`` into it.

    A 2.x config is converted (with a warning). ``cfg_options`` are merged before the conversion:
    a 2.x config's options use its own key names.

    Raises:
        FileNotFoundError: ``config`` names no file.
        TypeError: ``config`` is neither a path nor a Config.
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        source = 'the config'
    elif isinstance(config, (str, Path)):
        source = str(config)
        if not osp.isfile(source):
            raise FileNotFoundError(f'Config file not found: {source}')
        with resolved_package_bases(source) as readable:
            cfg = Config.fromfile(readable)
    else:
        raise TypeError(f'a config is a file path or a Config, got {type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if is_legacy_config(cfg):
        print_log(f'{source} is an mmdetection 2.x config; converted in memory. To write the 3.x config '
                  f'out: python tools/misc/upgrade_config.py {source} NEW.py', logger='current',
                  level=logging.WARNING)
        cfg = upgrade_config(cfg)
    use_our_scope(cfg)
    return cfg


def use_our_scope(cfg: Config) -> None:
    """Build an mmdetection config (``default_scope='mmdet'``, or none) with ssd_npu's types, saying so.

    Our type names are mmdetection's; without this, every type would be looked up in mmengine's
    root registries (mmdet is not installed) and the first one of ours would be "unknown".
    """
    scope = cfg.get('default_scope')
    if scope in (None, 'mmdet'):
        print_log(f'default_scope is {scope!r} in the config; building it with ssd_npu\'s types '
                  "(default_scope = 'ssd_npu'), which carry mmdetection's names", logger='current')
        cfg.default_scope = 'ssd_npu'
