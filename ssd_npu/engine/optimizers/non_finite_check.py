"""The optimizer-wrapper side of :class:`~ssd_npu.engine.hooks.NonFiniteLossHook`."""
from typing import Optional, Sequence

import torch

from ssd_npu.engine.non_finite_guard import NonFiniteLossGuard
from ssd_npu.engine.overflow_check import OverflowCheck


class NonFiniteLossCheck:
    """Mixin for mmengine optimizer wrappers: ``update_params`` skips a step whose loss is not finite.

    Inactive until a guard is attached (``NonFiniteLossHook`` attaches one before training): then
    a NaN/inf loss on any rank means no backward and no optimizer step on every rank (the
    gradients are zeroed), decided by :class:`NonFiniteLossGuard`, which also warns and stops
    the run after too many in a row. It sits in ``update_params`` because both the model's
    ``train_step`` and DDP's call it with the parsed loss, whatever the wrapper (fp32 or AMP).

    Attributes:
        loss_guard: the guard deciding each step; None (the default) checks nothing.
        batch_image_paths: the current batch's image paths, named in the guard's warning.
    """

    loss_guard: Optional[NonFiniteLossGuard] = None
    batch_image_paths: Sequence[str] = ()
    _overflow_check: Optional[OverflowCheck] = None

    @property
    def overflow_check(self) -> OverflowCheck:
        """The overflow check of the parameters' device, shared by the loss guard and the loss scaler."""
        if self._overflow_check is None:
            device_type = next((p.device.type for group in self.optimizer.param_groups
                                for p in group['params']), 'cpu')
            self._overflow_check = OverflowCheck(device_type)
        return self._overflow_check

    @overflow_check.setter
    def overflow_check(self, check: OverflowCheck) -> None:
        self._overflow_check = check

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                      zero_kwargs: Optional[dict] = None) -> None:
        """mmengine's ``update_params`` when the loss is finite on every rank; else zero the gradients."""
        guard = self.loss_guard
        if guard is None or guard.allows(loss, self.batch_image_paths, self.overflow_check):
            super().update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)
        else:
            self.zero_grad(**(zero_kwargs or {}))
