"""Log how fast the devices are fed (images/s per device and in total, an epoch summary) and the
training clock that time-to-accuracy is measured on."""
import time
from typing import Optional

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class ThroughputHook(Hook):
    """Adds ``img_per_s`` (this device), ``img_per_s_all`` (all devices) and, on NPU, ``memory``
    to the training log, and logs a throughput summary at the end of each epoch.

    It runs after mmengine's ``IterTimerHook`` (priority NORMAL = 50), whose ``train/time`` and
    ``train/data_time`` it reads, so it measures exactly the interval mmengine logs as ``time``,
    and before ``LoggerHook`` (BELOW_NORMAL = 60), so every logged line has the figures.
    The epoch summary states the share of time spent waiting for data: a high share means the
    device idles on the data pipeline.

    The training clock: ``train_seconds`` (seconds spent in training iterations so far, data
    waiting included; validation and end-of-epoch checkpoints excluded) and ``train_images``
    (images seen by all devices so far) are logged with every training line and every
    validation, and validations add ``val_seconds`` (that validation's duration), so each mAP in
    ``scalars.json`` has the training cost that reached it
    (``tools/analysis_tools/time_to_accuracy.py``). The names stay clear of mmengine's
    ``LogProcessor.mean_pattern`` (``time``, ``loss``...), which would average them over the
    log window. The totals live in the message hub's runtime info, which checkpoints carry: a
    resumed run continues its clock.
    """

    priority = 55

    def before_train_epoch(self, runner) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch_images = 0
        self._epoch_data_time = 0.0

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        hub = runner.message_hub
        batch_size = len(data_batch['inputs'])
        iter_time = hub.get_scalar('train/time').current()
        world_size = get_world_size()
        hub.update_scalar('train/img_per_s', batch_size / max(iter_time, 1e-9))
        hub.update_scalar('train/img_per_s_all', batch_size * world_size / max(iter_time, 1e-9))
        # mmengine logs device memory for CUDA only; report it for Ascend NPUs too.
        npu = getattr(torch, 'npu', None)
        if npu is not None and npu.is_available():
            hub.update_scalar('train/memory', npu.max_memory_allocated() / 2**20)
        self._epoch_images += batch_size
        self._epoch_data_time += hub.get_scalar('train/data_time').current()
        hub.update_info('train_seconds', hub.get_info('train_seconds', 0.0) + iter_time)
        hub.update_info('train_images', hub.get_info('train_images', 0) + batch_size * world_size)
        hub.update_scalar('train/train_seconds', hub.get_info('train_seconds'))
        hub.update_scalar('train/train_images', hub.get_info('train_images'))

    def before_val_epoch(self, runner) -> None:
        self._val_start = time.perf_counter()

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        hub = runner.message_hub
        hub.update_scalar('val/train_seconds', hub.get_info('train_seconds', 0.0))
        hub.update_scalar('val/train_images', hub.get_info('train_images', 0))
        hub.update_scalar('val/val_seconds', time.perf_counter() - self._val_start)

    def after_train_epoch(self, runner) -> None:
        elapsed = time.perf_counter() - self._epoch_start
        if self._epoch_images == 0 or elapsed <= 0:
            return
        world_size = get_world_size()
        per_device = self._epoch_images / elapsed
        runner.logger.info(
            f'Epoch {runner.epoch + 1} throughput: {per_device * world_size:.2f} img/s in total, '
            f'{per_device:.2f} img/s per device ({world_size} device(s)); '
            f'waiting for data {100 * self._epoch_data_time / elapsed:.1f}% of the time')
