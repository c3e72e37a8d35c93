"""``ExpMomentumEMA``: mmdetection's weight average for one-stage detectors, for mmengine's ``EMAHook``.

    custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, priority=49)]

The hook keeps an averaged copy of the model, updates it after every training iteration, evaluates
with it and saves it as the checkpoint's ``state_dict`` (the trained weights go to
``ema_state_dict``; mmengine swaps them back on ``--resume``).
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage

from ssd_npu.registry import MODELS


@MODELS.register_module()
class ExpMomentumEMA(ExponentialMovingAverage):
    """An exponential moving average whose momentum starts near 1 and decays to ``momentum``.

    After ``steps`` updates the average moves towards the weights by
    ``(1 - momentum) * exp(-(1 + steps) / gamma) + momentum``: early in training, when the weights
    change fastest, the average follows them almost exactly, and after a few ``gamma`` iterations it
    averages over about ``1 / momentum`` of them (YOLOX's and mmdetection's ``ExpMomentumEMA``).

    Args:
        model: the model to average.
        momentum: the final momentum, in (0, 1).
        gamma: how many iterations the warm-up of the momentum lasts (its time constant), > 0.
        interval: update every ``interval`` iterations.
        device: where to keep the average (default: beside the model).
        update_buffers: also average the buffers (BatchNorm statistics) instead of copying them.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 2000, interval: int = 1,
                 device: Optional[torch.device] = None, update_buffers: bool = False) -> None:
        super().__init__(model=model, momentum=momentum, interval=interval, device=device,
                         update_buffers=update_buffers)
        if gamma <= 0:
            raise ValueError(f'ExpMomentumEMA: gamma must be > 0, got {gamma}')
        self.gamma = gamma

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        momentum = (1 - self.momentum) * math.exp(-float(1 + steps) / self.gamma) + self.momentum
        averaged_param.lerp_(source_param, momentum)
