"""mmdetection's ``CheckInvalidLossHook``, so that its SSD configs build unchanged."""
from typing import Optional

import torch
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Stop training when the logged loss is NaN/inf, checked every ``interval`` iterations.

    mmdetection's SSD configs list it. Our runtime's :class:`NonFiniteLossHook` already skips
    such steps as they happen and stops after several in a row; this one keeps mmdetection's
    stricter behaviour for the configs that ask for it.

    Args:
        interval: check every this many iterations.
    """

    def __init__(self, interval: int = 50):
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval) or not outputs or 'loss' not in outputs:
            return
        loss = torch.as_tensor(outputs['loss']).detach()
        if not torch.isfinite(loss).all():
            raise RuntimeError(f'The loss became {float(loss)} at iteration {runner.iter + 1}.')
