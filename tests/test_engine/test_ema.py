"""ExpMomentumEMA: mmdetection's momentum schedule, built by mmengine's EMAHook from a config."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.registry import MODELS

from mmcv_patches.checkpoint import safe_load
from ssd_npu.engine import ExpMomentumEMA


def test_the_average_follows_the_weights_early_and_slowly_later():
    model = nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(0.0)
    ema = ExpMomentumEMA(model, momentum=0.1, gamma=2)
    ema.update_parameters(model)  # the first update copies the weights
    expected = 0.0
    for step, weight in enumerate([1.0, 2.0, 3.0], start=1):
        model.weight.data.fill_(weight)
        ema.update_parameters(model)
        momentum = 0.9 * math.exp(-(1 + step) / 2) + 0.1
        expected = (1 - momentum) * expected + momentum * weight
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)
    assert ema.steps.item() == 4


def test_buffers_are_copied_unless_averaged():
    model = nn.BatchNorm1d(1)
    ema = ExpMomentumEMA(model, momentum=0.5, gamma=1)
    model.running_mean.fill_(3.0)
    ema.update_parameters(model)
    assert ema.module.running_mean.item() == 3.0


def test_gamma_must_be_positive():
    with pytest.raises(ValueError, match='gamma must be > 0'):
        ExpMomentumEMA(nn.Linear(1, 1), gamma=0)


def test_ema_hook_in_the_ssd_npu_scope_builds_it_and_saves_both_weights(toy_dataset, make_runner, tmp_path):
    hook = dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.2, gamma=1, priority=49)
    runner = make_runner(toy_dataset(8), [hook], max_epochs=2,
                         default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)))
    runner.train()
    ema_hook = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    assert isinstance(ema_hook.ema_model, ExpMomentumEMA)
    checkpoint = safe_load(str(tmp_path / 'work' / 'epoch_2.pth'))
    averaged, trained = checkpoint['state_dict'], checkpoint['ema_state_dict']
    # mmengine's layout: state_dict holds the average (a plain load deploys it), ema_state_dict the
    # trained weights under 'module.' and the update count.
    assert trained['steps'].item() == 8
    torch.testing.assert_close(averaged['linear.weight'], ema_hook.ema_model.module.linear.weight.detach())
    torch.testing.assert_close(trained['module.linear.weight'], runner.model.linear.weight.detach())
    assert not torch.equal(averaged['linear.weight'], trained['module.linear.weight'])
    assert MODELS.get('ssd_npu.ExpMomentumEMA') is ExpMomentumEMA
