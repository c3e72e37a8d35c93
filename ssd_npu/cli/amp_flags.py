"""``--amp`` and the old product's apex-style ``--opt-level`` as an ``optim_wrapper`` config.

apex is not used: native autocast has no separate O2 (fp16 master weights), so O2 means O1.
On a CPU without native bfloat16 arithmetic, bf16 autocast is emulated and trains several times
slower than float32 (the demo config at batch 16 on an AVX2-only AMD EPYC: 0.85-1.0 img/s against
5.5-13.8 img/s), so there the flags train in float32 and say so, unless the config sets ``dtype``.
"""
from typing import Mapping, Optional

import torch
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
            npu/cuda, bfloat16 on cpu) unless the config sets ``dtype``. On a cpu without
            native bfloat16 (:func:`cpu_has_native_bfloat16`) and no ``dtype`` in the config, the
            result is the fp32 ``OptimWrapper``, with one log line saying why.

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
        return _fp32(cfg)
    if opt_level is None and not amp:
        return cfg
    if device_type == 'cpu' and 'dtype' not in cfg and not cpu_has_native_bfloat16():
        flag = '--amp' if amp else f'--opt-level {opt_level}'
        print_log(f'{flag}: this CPU has no native bfloat16 (AVX-512 BF16 or AMX on x86, BF16 on Arm), '
                  'where bf16 autocast trains several times slower than float32; training in float32 '
                  "(set optim_wrapper.dtype='bfloat16' to autocast anyway)", logger='current')
        return _fp32(cfg)
    if opt_level == 'O2':
        print_log('--opt-level O2: native AMP has no separate O2 (apex fp16 master weights); using O1 '
                  '(autocast + dynamic loss scaling)', logger='current')
    cfg['type'] = 'AmpOptimWrapper'
    cfg.setdefault('loss_scale', 'dynamic')
    cfg.setdefault('dtype', DEFAULT_AMP_DTYPE[device_type])
    return cfg


def _fp32(cfg: dict) -> dict:
    cfg['type'] = 'OptimWrapper'
    for amp_only in ('loss_scale', 'dtype', 'use_fsdp'):
        cfg.pop(amp_only, None)
    return cfg


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (x86: AVX-512 BF16 or AMX BF16; Arm: BF16 or
    SVE BF16), as ``torch.cpu.get_capabilities()`` reports it."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name, False) for name in ('avx512_bf16', 'amx_bf16', 'bf16', 'sve_bf16'))
