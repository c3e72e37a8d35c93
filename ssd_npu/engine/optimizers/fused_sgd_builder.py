"""``SGD`` and ``NpuFusedSGD`` config types that build the fused SGD of the parameters' device.

Why: an SSD step updates ~35 M parameters in a few hundred tensors; a per-tensor Python
loop of small kernels costs more than the update itself on an accelerator. Fused
implementations do it in a few launches: torch_npu's ``NpuFusedSGD`` on Ascend (what the
old product used), ``torch.optim.SGD(fused=True)`` on CUDA and CPU (same arithmetic as
the loop implementation).

mmengine registers ``torch.optim.SGD`` as ``SGD`` in its root OPTIMIZERS, and
``NpuFusedSGD`` only on NPU hosts. Registering both names in ssd_npu's child registry makes
them win under ``default_scope='ssd_npu'`` (a child registry is searched before its
parent), so mmdetection configs (``type='SGD'``) and the old product's
(``type='NpuFusedSGD'``) build on every device; where the fused class asked for is
missing, one log line says what is used instead.

``NpuFusedSGD`` copies the parameters and gradients into one buffer per dtype at its first
``step``/``zero_grad`` and leaves out every parameter whose ``grad`` is None then
(torch_npu/optim/npu_fused_optim_base.py, ``_maybe_init_combined_params_and_grads``): such a
parameter would never be updated. The builder therefore gives every trainable parameter a zero
gradient first. Its ``zero_grad(set_to_none=True)`` raises (the buffer must stay); mmengine's
wrappers call ``zero_grad()``, whose default there is ``set_to_none=False``.
"""
from typing import Any, Iterable, List

import torch
from mmengine.logging import print_log

from ssd_npu.registry import OPTIMIZERS


def _param_tensors(params: List[Any]) -> List[torch.Tensor]:
    """The tensors of a parameter list given as tensors, (name, tensor) pairs or param groups."""
    tensors: List[torch.Tensor] = []
    for item in params:
        if isinstance(item, dict):
            tensors += [p[1] if isinstance(p, tuple) else p for p in item['params']]
        else:
            tensors.append(item[1] if isinstance(item, tuple) else item)
    return tensors


def params_device_type(tensors: List[torch.Tensor]) -> str:
    """The device type of the parameters (all on one device), ``'cpu'`` for none."""
    return tensors[0].device.type if tensors else 'cpu'


def _npu_fused_sgd_class() -> Any:
    try:
        from torch_npu.optim import NpuFusedSGD
    except ImportError:
        return None
    return NpuFusedSGD


def with_zero_grads(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` with a zero ``grad`` on every trainable parameter that has none, so that a
    combined-buffer optimizer (``NpuFusedSGD``) includes it from its first step."""
    for group in optimizer.param_groups:
        for param in group['params']:
            if param.requires_grad and param.grad is None:
                param.grad = torch.zeros_like(param)
    return optimizer


def _build_fused_sgd(params: Iterable, asked: str, lr: float, momentum: float, dampening: float,
                     weight_decay: float, nesterov: bool, **kwargs) -> torch.optim.Optimizer:
    params = list(params)
    tensors = _param_tensors(params)
    device = params_device_type(tensors)
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    if device == 'npu':
        npu_fused_sgd = _npu_fused_sgd_class()
        # NpuFusedSGD takes SGD's classic arguments only (no maximize/foreach/fused).
        if npu_fused_sgd is not None and not kwargs:
            return with_zero_grads(npu_fused_sgd(params, **hyper))
        print_log(f'{asked}: torch_npu.optim.NpuFusedSGD is not usable here (missing, or extra arguments '
                  f'{sorted(kwargs)}); using torch.optim.SGD on npu', logger='current')
        return torch.optim.SGD(params, **hyper, **kwargs)
    if asked == 'NpuFusedSGD':
        print_log(f'NpuFusedSGD needs torch_npu and an NPU; using torch.optim.SGD(fused=True) on {device}',
                  logger='current')
    if 'fused' in kwargs or 'foreach' in kwargs or kwargs.get('differentiable', False):
        return torch.optim.SGD(params, **hyper, **kwargs)
    try:
        return torch.optim.SGD(params, **hyper, fused=True, **kwargs)
    except RuntimeError as err:  # torch without a fused SGD kernel for this device
        print_log(f'{asked}: no fused SGD on {device} ({err}); using the foreach implementation',
                  logger='current')
        return torch.optim.SGD(params, **hyper, foreach=True, **kwargs)


@OPTIMIZERS.register_module(name='SGD')
def fused_sgd(params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
              weight_decay: float = 0.0, nesterov: bool = False, **kwargs) -> torch.optim.Optimizer:
    """SGD (torch's arguments) with the fused implementation of the parameters' device.

    Args:
        params: parameters or parameter groups (all on one device).
        lr, momentum, dampening, weight_decay, nesterov: as ``torch.optim.SGD``.
        **kwargs: further ``torch.optim.SGD`` keywords (``maximize``, ``foreach``,
            ``fused``...); given ``fused``/``foreach`` are respected.
    """
    return _build_fused_sgd(params, 'SGD', lr, momentum, dampening, weight_decay, nesterov, **kwargs)


@OPTIMIZERS.register_module(name='NpuFusedSGD')
def npu_fused_sgd(params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                  weight_decay: float = 0.0, nesterov: bool = False, **kwargs) -> torch.optim.Optimizer:
    """The old product's optimizer type: :func:`fused_sgd`, with one log line off NPU."""
    return _build_fused_sgd(params, 'NpuFusedSGD', lr, momentum, dampening, weight_decay, nesterov, **kwargs)
