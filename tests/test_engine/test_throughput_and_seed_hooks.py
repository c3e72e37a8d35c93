import json
import random

import numpy as np
import pytest
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


def test_every_validation_logs_the_training_clock_that_reached_it(make_runner, toy_dataset):
    from mmengine.evaluator import BaseMetric, Evaluator

    class Constant(BaseMetric):
        def process(self, data_batch, data_samples):
            self.results.append(0)

        def compute_metrics(self, results):
            return {'acc': 0.5}

    loader = dict(dataset=toy_dataset(length=4), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='pseudo_collate'))
    runner = make_runner(toy_dataset(length=8), [ThroughputHook()], max_epochs=2, val_dataloader=loader,
                         val_cfg=dict(), val_evaluator=Evaluator(Constant()),
                         train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1))
    runner.train()
    hub = runner.message_hub
    iteration_times = hub.get_scalar('train/time').data[0]   # every training iteration's seconds
    records = [json.loads(line) for line in open(f'{runner.log_dir}/vis_data/scalars.json')]
    validations = [record for record in records if 'acc' in record]
    assert [record['train_images'] for record in validations] == [8, 16]
    assert validations[0]['train_seconds'] == pytest.approx(iteration_times[:4].sum())
    assert validations[1]['train_seconds'] == pytest.approx(iteration_times.sum())
    assert all(record['val_seconds'] > 0 for record in validations)
    trained = [record for record in records if 'iter' in record]
    assert [record['train_images'] for record in trained] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert trained[-1]['train_seconds'] == pytest.approx(iteration_times.sum())
    # the clock is in the runtime info that checkpoints carry, so a resumed run continues it
    info = hub.state_dict()['runtime_info']
    assert info['train_seconds'] == pytest.approx(iteration_times.sum()) and info['train_images'] == 16
