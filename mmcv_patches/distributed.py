"""DistributedDataParallel arguments that fit the module's device (npu, cuda or cpu).

Fixes: ``Runner.wrap_model`` builds ``MMDistributedDataParallel`` with
``device_ids=[LOCAL_RANK]`` (directly, or as a default argument when ``model_wrapper_cfg``
names a DDP subclass). torch accepts ``device_ids`` only for single-accelerator modules,
so a CPU model fails with ``ValueError: DistributedDataParallel device_ids and
output_device arguments only work with single-device/multiple-device GPU modules or CPU
modules``. The patched ``__init__`` drops ``device_ids``/``output_device`` for a CPU module
and defaults ``broadcast_buffers`` to False, as the old product did and as mmengine's
wrapper-less path already does: every rank keeps its own BatchNorm statistics instead of
receiving rank 0's at each forward.

A method replacement, not a subclass in a registry: without ``model_wrapper_cfg`` (every
mmdetection config) the Runner constructs ``MMDistributedDataParallel`` by its class, never
through a registry.
"""
import inspect
import itertools

import torch.nn as nn
from mmengine.model import MMDistributedDataParallel
from torch.nn.parallel import DistributedDataParallel

from ._patching import ORIGINALS, key_of, replace_attribute

KEY = key_of(MMDistributedDataParallel, '__init__')
_HAS_FORWARD_SYNC_BUFFERS = 'forward_sync_buffers' in inspect.signature(DistributedDataParallel).parameters


def _device_type(module: nn.Module) -> str:
    """The device type of the module's first parameter or buffer (``cpu`` when it has neither)."""
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return 'cpu' if tensor is None else tensor.device.type


def ddp_init(self: MMDistributedDataParallel, module: nn.Module, detect_anomalous_params: bool = False,
             **kwargs) -> None:
    """``MMDistributedDataParallel.__init__`` with device arguments fitted to ``module``'s device.

    Args:
        module: the model, already on its device.
        detect_anomalous_params: as mmengine's.
        **kwargs: DistributedDataParallel's; ``device_ids`` and ``output_device`` are removed
            for a CPU module; ``broadcast_buffers`` defaults to False and is passed as
            ``forward_sync_buffers`` where torch has it.
    """
    if _device_type(module) == 'cpu':
        kwargs.pop('device_ids', None)
        kwargs.pop('output_device', None)
    sync_buffers = kwargs.pop('broadcast_buffers', False)
    if _HAS_FORWARD_SYNC_BUFFERS:
        # torch>=2.14 deprecates broadcast_buffers (a FutureWarning on every wrap); its successor only
        # differs by syncing buffers once at construction, which the Runner does anyway.
        kwargs.setdefault('forward_sync_buffers', sync_buffers)
    else:
        kwargs['broadcast_buffers'] = sync_buffers
    ORIGINALS[KEY](self, module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)


def patch() -> None:
    """Install :func:`ddp_init` as ``MMDistributedDataParallel.__init__``."""
    replace_attribute(MMDistributedDataParallel, '__init__', ddp_init)
