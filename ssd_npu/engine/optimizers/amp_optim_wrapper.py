"""Mixed precision ("O1") on npu, cuda and cpu: ``torch.autocast`` + the device's GradScaler.

Why: mmengine 0.10.7's ``AmpOptimWrapper`` asserts that a cuda/npu/mlu/musa device
exists, takes its GradScaler from ``torch.cuda.amp``/``torch.npu.amp``, and its autocast
allows only bf16 on CPU. The one registered here under the same name in ssd_npu's
OPTIM_WRAPPERS (found first under ``default_scope='ssd_npu'``) uses the device of the
optimizer's parameters for ``torch.autocast`` and picks that device's scaler:

* on ``npu`` torch_npu's ``torch.npu.amp.GradScaler`` (FSDP: torch's ``ShardedGradScaler``
  name, which torch_npu replaces with its own on import). The generic
  ``torch.amp.GradScaler('npu')`` is not usable there: its ``update()`` calls
  ``torch._amp_update_scale_``, an op-api-only kernel (``aclnnAmpUpdateScale``) that the 910A
  lacks, and it neither clears nor reads the 910A's float-status flag. torch_npu's scaler
  also unscales ``NpuFusedSGD``'s combined gradient buffer.
* elsewhere ``torch.amp.GradScaler(device)`` (``ShardedGradScaler(device)`` with FSDP).

It publishes the loss scale as the message-hub scalar ``train/loss_scale``, which mmengine's
LogProcessor prints with the losses. A step whose gradients overflowed on any rank is skipped on
every rank and the scale lowered (:class:`~ssd_npu.engine.overflow_check.OverflowCheck`); the
scaler state is saved in and resumed from the checkpoint. mmengine itself builds this wrapper for
every run on a 910A (``build_optim_wrapper`` turns any optim_wrapper into ``AmpOptimWrapper`` on
chips without full-precision support). It also keeps torch's fused SGD away from GradScaler's
overflow path, which writes NaN into the weights (see ``__init__``).
A user report of the accelerator assertion: open-mmlab/mmpretrain#1556 (unchanged in 0.10.7).
"""
import contextlib
from typing import Any, Dict, Iterator, Union

import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper

from ssd_npu.registry import OPTIM_WRAPPERS

from .non_finite_check import NonFiniteLossCheck

# fp16 is where the accelerators' matrix units are fast; CPUs run bf16 natively and fp16 slowly.
DEFAULT_AMP_DTYPE = {'npu': 'float16', 'cuda': 'float16', 'cpu': 'bfloat16'}


@OPTIM_WRAPPERS.register_module(name='AmpOptimWrapper')
class AmpOptimWrapper(NonFiniteLossCheck, MMEngineAmpOptimWrapper):
    """Autocast + dynamic loss scaling on the device of the optimizer's parameters.

    A subclass of mmengine's, so ``isinstance`` checks and its ``backward``/``state_dict``/
    ``load_state_dict`` (``loss_scaler`` key) stay; the constructor, ``step`` and
    ``optim_context`` are device-generic here. It can skip non-finite steps
    (:class:`NonFiniteLossCheck`).

    Args:
        loss_scale: ``'dynamic'`` (GradScaler defaults: 2**16, halved on overflow, doubled
            after 2000 clean steps), a float (static scale; overflow steps are still
            skipped) or a dict of GradScaler arguments.
        dtype: autocast dtype, ``'float16'`` or ``'bfloat16'`` (or the torch dtype);
            None picks float16 on npu/cuda, bfloat16 on cpu.
        use_fsdp: scale with torch's ``ShardedGradScaler`` (for FSDP-wrapped models), as mmengine's.
        **kwargs: OptimWrapper's (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    valid_dtypes = ('float16', 'bfloat16')

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[str, torch.dtype, None] = None, use_fsdp: bool = False, **kwargs) -> None:
        # mmengine's __init__ is skipped on purpose: it asserts an accelerator and builds a CUDA scaler.
        # Everything it sets is set below (test_private_symbols checks its arguments stay these).
        OptimWrapper.__init__(self, **kwargs)
        self.device_type = next((p.device.type for group in self.optimizer.param_groups
                                 for p in group['params']), 'cpu')
        dtype = DEFAULT_AMP_DTYPE.get(self.device_type, 'float16') if dtype is None else dtype
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace('torch.', '')
        if dtype not in self.valid_dtypes:
            raise ValueError(f'AmpOptimWrapper dtype must be one of {self.valid_dtypes}, got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)
        self._scale_update_param = None
        if loss_scale == 'dynamic':
            scaler_args: Dict[str, Any] = {}
        elif isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
            self._scale_update_param = float(loss_scale)
            scaler_args = dict(init_scale=float(loss_scale))
        elif isinstance(loss_scale, dict):
            scaler_args = dict(loss_scale)
        else:
            raise TypeError(f"loss_scale must be 'dynamic', a number or a dict, got {loss_scale!r}")
        self.loss_scaler = build_loss_scaler(self.device_type, use_fsdp, **scaler_args)
        fused_sgd = isinstance(self.optimizer, torch.optim.SGD) and self.optimizer.defaults.get('fused')
        if fused_sgd and getattr(self.optimizer, '_step_supports_amp_scaling', False):
            # torch's fused SGD (torch 2.14) mishandles the overflow steps GradScaler hands it: on a
            # skipped first step it leaves the momentum buffer uninitialised (torch.empty_like) and
            # later steps read garbage into the weights (NaN). Unsetting the flag makes GradScaler
            # unscale the gradients itself and not call step() at all on overflow; the fused
            # kernel then only sees finite, unscaled gradients.
            self.optimizer._step_supports_amp_scaling = False

    def step(self, **kwargs) -> None:
        """Unscale, decide on every rank whether the step overflowed, clip, step unless it did, update
        and log the scale."""
        self.loss_scaler.unscale_(self.optimizer)
        self._agree_on_overflow()
        if self.clip_grad_kwargs:
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)
        self.message_hub.update_scalar('train/loss_scale', self.loss_scaler.get_scale())

    def _agree_on_overflow(self) -> None:
        """Make the scaler skip this step on every rank when any rank overflowed.

        ``unscale_`` recorded this rank's verdict per device (``found_inf_per_device``, which both
        ``step`` and ``update`` read); torch_npu's scaler also keeps ``_has_overflow``. The verdict
        is combined with the device's flag where it saturates, then all-reduced.
        """
        state = self.loss_scaler._per_optimizer_states[id(self.optimizer)]
        found_inf = state['found_inf_per_device']
        here = (any(bool(value) for value in found_inf.values())
                or getattr(self.loss_scaler, '_has_overflow', False))
        device = next(iter(found_inf.values())).device if found_inf else torch.device(self.device_type)
        if self.overflow_check.on_any_rank(here or self.overflow_check.found_here(), device):
            for value in found_inf.values():
                value.fill_(1.0)
            if hasattr(self.loss_scaler, '_has_overflow'):
                self.loss_scaler._has_overflow = True

    def load_state_dict(self, state_dict: dict) -> None:
        """mmengine's, accepting a scaler state saved on another device (torch_npu's needs ``dynamic``)."""
        scaler_state = state_dict.get('loss_scaler')
        if scaler_state and self.device_type == 'npu':
            scaler_state.setdefault('dynamic', True)
        super().load_state_dict(state_dict)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's gradient-accumulation context plus ``torch.autocast`` on this device."""
        with OptimWrapper.optim_context(self, model), torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield


def build_loss_scaler(device_type: str, use_fsdp: bool = False, **scaler_args) -> torch.amp.GradScaler:
    """The dynamic loss scaler of ``device_type``: torch_npu's on ``npu``, torch's elsewhere.

    Args:
        device_type: ``'npu'``, ``'cuda'``, ``'cpu'``...
        use_fsdp: the sharded variant, for FSDP-wrapped models.
        **scaler_args: GradScaler's ``init_scale``, ``growth_factor``, ``backoff_factor``,
            ``growth_interval``, ``enabled`` (torch_npu's also takes ``dynamic``).
    """
    if use_fsdp:
        # Read at call time: on import torch_npu replaces this name with its NPU ShardedGradScaler.
        from torch.distributed.fsdp import sharded_grad_scaler

        return sharded_grad_scaler.ShardedGradScaler(device_type, **scaler_args)
    if device_type == 'npu':
        return torch.npu.amp.GradScaler(**scaler_args)
    return torch.amp.GradScaler(device_type, **scaler_args)
