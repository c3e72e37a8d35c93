"""Which accelerator to run on (``npu`` > ``cuda`` > ``cpu``) and which collective backend it uses.

``torch_npu`` is imported only when it is installed (``importlib.util.find_spec``); where it is,
``import torch`` has imported it already.
"""
import functools
import importlib.util
import os
from typing import Optional

import torch

from mmcv_patches.dist_utils import DEVICE_BACKENDS

DEVICES = ('npu', 'cuda', 'cpu')
DEVICE_ENV = 'SSD_NPU_DEVICE'


@functools.lru_cache(maxsize=1)
def is_npu_available() -> bool:
    """Whether an Ascend NPU can be used: ``torch_npu`` is loaded and sees a device.

    torch imports torch_npu inside ``import torch`` (torch-npu's ``torch.backends`` entry point),
    and a torch_npu that cannot load makes ``import torch`` itself fail (the tools name why:
    ``tools/torch_import_check.py``). So here torch_npu is loaded already (``torch.npu`` exists),
    or not installed, or its autoload was turned off (``TORCH_DEVICE_BACKEND_AUTOLOAD=0``): then it
    is imported now, and a failure raises as ``import torch`` would have. ``torch_npu`` is never
    imported when ``find_spec`` does not find it. The answer is cached for the process
    (``is_npu_available.cache_clear()`` resets it).
    """
    if not hasattr(torch, 'npu'):
        if importlib.util.find_spec('torch_npu') is None:
            return False
        import torch_npu  # noqa: F401  (registers torch.npu)
    return bool(torch.npu.is_available())


def _available(device: str) -> bool:
    if device == 'npu':
        return is_npu_available()
    if device == 'cuda':
        return torch.cuda.is_available()
    return True


def get_device(preferred: Optional[str] = None) -> str:
    """The device type to train/test on: ``'npu'``, ``'cuda'`` or ``'cpu'``.

    Args:
        preferred: the device asked for by the config or the command line. When None,
            the environment variable ``SSD_NPU_DEVICE`` is used; when that is unset or
            empty, the first available of npu > cuda > cpu.

    Raises:
        ValueError: ``preferred``/``SSD_NPU_DEVICE`` is not one of npu, cuda, cpu.
        RuntimeError: the device asked for is not available on this host.
    """
    source = 'the device argument'
    if preferred is None:
        preferred = os.environ.get(DEVICE_ENV) or None
        source = f'the environment variable {DEVICE_ENV}'
    if preferred is None:
        return next(device for device in DEVICES if _available(device))
    if preferred not in DEVICES:
        raise ValueError(f'{source} is {preferred!r}; expected one of {", ".join(DEVICES)}')
    if not _available(preferred):
        raise RuntimeError(f'{source} asks for {preferred!r}, but no {preferred} device is available '
                           'on this host')
    return preferred


def dist_backend(device: str) -> str:
    """The torch.distributed backend for a device type: npu -> hccl, cuda -> nccl, cpu -> gloo.

    Args:
        device: a device type or a device string with an index (``'cuda:1'``).
    """
    device_type = device.split(':')[0]
    if device_type not in DEVICE_BACKENDS:
        raise ValueError(f'no distributed backend for device {device!r}; '
                         f'expected one of {", ".join(DEVICES)}')
    return DEVICE_BACKENDS[device_type]
