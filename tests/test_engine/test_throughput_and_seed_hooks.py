import random

import numpy as np
import torch

from ssd_npu.engine.hooks import EpochSeedHook, ThroughputHook


def test_throughput_is_logged_per_iteration_and_per_epoch(make_runner, toy_dataset):
    runner = make_runner(toy_dataset(length=8), [ThroughputHook()])
    runner.train()
    hub = runner.message_hub
    per_device = hub.get_scalar('train/img_per_s').current()
    iteration_time = hub.get_scalar('train/time').current()
    assert per_device == 2 / iteration_time
    assert hub.get_scalar('train/img_per_s_all').current() == per_device
    output = open(f'{runner.log_dir}/{runner.timestamp}.log').read()
    assert 'img_per_s:' in output
    assert 'Epoch 1 throughput:' in output and 'img/s per device (1 device(s))' in output


def test_each_epoch_starts_from_the_same_random_state_whatever_came_before(make_runner, toy_dataset):
    draws = []

    class Draw(EpochSeedHook):
        priority = 'LOWEST'

        def before_train_epoch(self, runner):
            draws.append((runner.epoch, random.random(), np.random.rand(), torch.rand(1).item()))

    first = make_runner(toy_dataset(length=4), [EpochSeedHook(), Draw()], max_epochs=2)
    first.train()
    random.random(), np.random.rand(), torch.rand(1)  # disturb the global state between the runs
    second = make_runner(toy_dataset(length=4), [EpochSeedHook(), Draw()], max_epochs=2)
    second.train()
    assert draws[:2] == draws[2:]
    assert draws[0][1:] != draws[1][1:], 'epochs draw different numbers'
