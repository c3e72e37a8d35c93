"""``--amp`` and the old product's apex-style ``--opt-level`` as an ``optim_wrapper`` config.

apex is not used: native autocast has no separate O2 (fp16 master weights), so O2 means O1.
"""
from typing import Mapping, Optional

from mmengine.logging import print_log

from ssd_npu.engine.optimizers import DEFAULT_AMP_DTYPE


def amp_optim_wrapper(cfg_optim_wrapper: Mapping, opt_level: Optional[str], amp: bool, device: str) -> dict:
    """The ``optim_wrapper`` config for the ``--amp``/``--opt-level`` command-line flags.

    Args:
        cfg_optim_wrapper: the config's ``optim_wrapper`` (not modified).
        opt_level: None, ``'O0'`` (fp32 ``OptimWrapper``), ``'O1'`` or ``'O2'`` (both
            ``AmpOptimWrapper``; native AMP has no separate O2, logged once).
        amp: ``--amp``, the same as O1.
        device: ``'npu'``, ``'cuda'`` or ``'cpu'``: picks the default dtype (float16 on
            npu/cuda, bfloat16 on cpu) unless the config sets ``dtype``.

    Returns:
        A new dict. Without flags, a copy of the config. For AMP, ``type='AmpOptimWrapper'``
        with ``loss_scale`` (default ``'dynamic'``) and ``dtype`` kept when the config sets them.

    Raises:
        ValueError: an unknown level, or ``--amp`` together with O0.
    """
    cfg = dict(cfg_optim_wrapper)
    device_type = device.split(':')[0]
    if device_type not in DEFAULT_AMP_DTYPE:
        raise ValueError(f'device must be one of {", ".join(DEFAULT_AMP_DTYPE)}, got {device!r}')
    if opt_level not in (None, 'O0', 'O1', 'O2'):
        raise ValueError(f'--opt-level must be O0, O1 or O2, got {opt_level!r}')
    if opt_level == 'O0' and amp:
        raise ValueError('--amp asks for mixed precision and --opt-level O0 for fp32: pass one of them')
    if opt_level == 'O0':
        cfg['type'] = 'OptimWrapper'
        for amp_only in ('loss_scale', 'dtype', 'use_fsdp'):
            cfg.pop(amp_only, None)
        return cfg
    if opt_level is None and not amp:
        return cfg
    if opt_level == 'O2':
        print_log('--opt-level O2: native AMP has no separate O2 (apex fp16 master weights); using O1 '
                  '(autocast + dynamic loss scaling)', logger='current')
    cfg['type'] = 'AmpOptimWrapper'
    cfg.setdefault('loss_scale', 'dynamic')
    cfg.setdefault('dtype', DEFAULT_AMP_DTYPE[device_type])
    return cfg
