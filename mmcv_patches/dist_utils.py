"""Process-group start-up for npu (hccl), cuda (nccl) and cpu (gloo) behind mmengine's ``pytorch`` launcher.

Fixes, in ``mmengine.dist.utils._init_dist_pytorch`` (what ``init_dist('pytorch')`` and
``Runner(launcher='pytorch')`` call):

* it calls ``torch.cuda.set_device`` unconditionally when no NPU/MLU/MUSA is found, which
  fails on a CPU host; the device is now set only for cuda and npu;
* it uses the backend from the config (``dist_cfg=dict(backend='nccl')`` in mmdetection's
  configs) whatever the device; the backend now follows :func:`ssd_npu.utils.device.get_device`
  unless the configured one serves that device;
* without a timeout a dead rank leaves the others blocked in a collective forever; the
  timeout is ``dist_cfg.timeout`` or ``$SSD_NPU_DIST_TIMEOUT`` seconds (default 1800);
* the old product's launcher sets ``RANK``, ``RANK_SIZE`` and ``NPUID`` instead of torchrun's
  variables: :func:`map_legacy_dist_env` maps them (also callable before building a Runner).
"""
import datetime
import os
from typing import MutableMapping, Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log

from ._patching import ORIGINALS, replace_everywhere

TIMEOUT_ENV = 'SSD_NPU_DIST_TIMEOUT'
DEFAULT_TIMEOUT_S = 1800
# Backends that can carry each device's tensors: gloo handles CPU tensors anywhere (and CUDA
# tensors for some collectives); HCCL is the only one for NPU tensors.
_SERVING_BACKENDS = {'npu': ('hccl',), 'cuda': ('nccl', 'gloo', 'mpi'), 'cpu': ('gloo', 'mpi')}


def map_legacy_dist_env(environ: Optional[MutableMapping[str, str]] = None) -> None:
    """Translate the old product's launch variables into torchrun's, in place.

    ``RANK_SIZE`` -> ``WORLD_SIZE`` and ``NPUID`` -> ``LOCAL_RANK`` where torchrun's are unset
    (``LOCAL_RANK`` falls back to ``RANK``: that launcher ran one node); ``MASTER_ADDR``
    defaults to 127.0.0.1 and ``MASTER_PORT`` to 29500 when a world size is known.
    Variables already set are kept.
    """
    env = os.environ if environ is None else environ
    if 'WORLD_SIZE' not in env and 'RANK_SIZE' in env:
        env['WORLD_SIZE'] = env['RANK_SIZE']
    if 'LOCAL_RANK' not in env:
        if 'NPUID' in env:
            env['LOCAL_RANK'] = env['NPUID']
        elif 'RANK' in env and 'WORLD_SIZE' in env:
            env['LOCAL_RANK'] = env['RANK']
    if 'WORLD_SIZE' in env:
        env.setdefault('MASTER_ADDR', '127.0.0.1')
        env.setdefault('MASTER_PORT', '29500')


def dist_timeout() -> datetime.timedelta:
    """The collective timeout: ``$SSD_NPU_DIST_TIMEOUT`` seconds, default 1800."""
    value = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(f'{TIMEOUT_ENV}={value!r}: expected a positive number of seconds')
    return datetime.timedelta(seconds=seconds)


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    if value is None or not value.lstrip('-').isdigit():
        raise RuntimeError(f'distributed launch needs the environment variable {name} (an integer), got '
                           f'{value!r}. Start with torchrun, or set RANK, WORLD_SIZE (or RANK_SIZE) and '
                           'LOCAL_RANK (or NPUID).')
    return int(value)


def init_dist_pytorch(backend: str = 'nccl', init_backend: str = 'torch', **kwargs) -> None:
    """Replacement of ``mmengine.dist.utils._init_dist_pytorch``.

    Args:
        backend: the configured backend; ``'auto'`` or None picks the device's (hccl/nccl/gloo),
            as does a backend that cannot serve the device (with one log line).
        init_backend: ``'torch'``; others (deepspeed, colossalai) go to mmengine's original.
        **kwargs: passed to ``torch.distributed.init_process_group``; ``timeout`` (a
            timedelta, as mmengine's ``init_dist`` converts it) defaults to :func:`dist_timeout`.
    """
    # Imported here: ssd_npu's __init__ applies the patches (see mmcv_patches.device).
    from ssd_npu.utils.device import dist_backend, get_device

    map_legacy_dist_env()
    if init_backend != 'torch':
        ORIGINALS['mmengine.dist.utils._init_dist_pytorch'](backend, init_backend=init_backend, **kwargs)
        return
    rank, world_size, local_rank = _env_int('RANK'), _env_int('WORLD_SIZE'), _env_int('LOCAL_RANK')
    if not 0 <= rank < world_size:
        raise RuntimeError(f'RANK={rank} is outside WORLD_SIZE={world_size}')
    device = get_device()
    if backend in (None, 'auto'):
        backend = dist_backend(device)
    elif backend not in _SERVING_BACKENDS[device]:
        print_log(f'distributed backend {backend!r} cannot serve {device}; using {dist_backend(device)!r}',
                  logger='current')
        backend = dist_backend(device)
    if device == 'cuda':
        torch.cuda.set_device(local_rank)
    elif device == 'npu':
        torch.npu.set_device(local_rank)
    if kwargs.get('timeout') is None:
        kwargs['timeout'] = dist_timeout()
    torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size, **kwargs)


def patch() -> None:
    """Make mmengine's ``init_dist('pytorch')`` call :func:`init_dist_pytorch`."""
    import mmengine.dist.utils  # noqa: F401

    replace_everywhere('mmengine.dist.utils', '_init_dist_pytorch', init_dist_pytorch)
