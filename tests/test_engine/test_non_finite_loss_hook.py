import pytest
import torch

from ssd_npu.engine.hooks import CheckInvalidLossHook, NonFiniteLossHook
from ssd_npu.errors import NonFiniteLossError


def test_nan_batch_is_skipped_and_training_goes_on(make_runner, toy_dataset):
    hook = NonFiniteLossHook(max_consecutive=3)
    runner = make_runner(toy_dataset(length=8, nan_indices=(2,)), [hook])
    runner.train()
    weights = torch.cat([p.flatten() for p in runner.model.parameters()])
    assert torch.isfinite(weights).all(), 'the NaN batch never reached the weights'
    assert hook.guard.skipped == 1
    output = open(f'{runner.log_dir}/{runner.timestamp}.log').read()
    assert 'images/0002.jpg, images/0003.jpg' in output and 'iteration 2' in output


def test_consecutive_non_finite_losses_stop_the_run(make_runner, toy_dataset):
    runner = make_runner(toy_dataset(length=8, nan_indices=(0, 2, 4)), [NonFiniteLossHook(max_consecutive=2)])
    with pytest.raises(NonFiniteLossError, match='2 consecutive non-finite losses'):
        runner.train()


def test_checkpoint_with_non_finite_weights_is_refused(make_runner, toy_dataset):
    runner = make_runner(toy_dataset(length=4), [NonFiniteLossHook()])
    runner.train()
    hook = NonFiniteLossHook()
    state = {'state_dict': {'linear.weight': torch.tensor([[float('inf')]]), 'step': torch.tensor(3)}}
    with pytest.raises(RuntimeError, match='non-finite values in linear.weight'):
        hook.before_save_checkpoint(runner, state)
    hook.before_save_checkpoint(runner, {'state_dict': {'linear.weight': torch.ones(1, 1)}})


def test_mmdetection_check_invalid_loss_hook_stops_on_nan(make_runner, toy_dataset):
    runner = make_runner(toy_dataset(length=8, nan_indices=(2,)), [CheckInvalidLossHook(interval=1)])
    with pytest.raises(RuntimeError, match='The loss became nan at iteration 2'):
        runner.train()
