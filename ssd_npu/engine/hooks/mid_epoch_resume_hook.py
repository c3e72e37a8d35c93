"""Resuming from a checkpoint written mid-epoch continues that epoch where it stopped."""
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class MidEpochResumeHook(Hook):
    """After ``--resume`` from a checkpoint of iteration ``i`` inside epoch ``e`` (written on
    preemption or by ``CheckpointHook(by_epoch=False)``), skip the batches of epoch ``e`` that
    the interrupted run had already trained on.

    mmengine's ``EpochBasedTrainLoop`` restores the epoch and iteration counters but replays
    the resumed epoch from its first batch, so those batches would be trained on twice. The
    sampler (``ssd_npu``'s ``DefaultSampler``) drops the indices of the finished batches; with
    per-sample seeding (``EpochSeedHook``) the remaining batches are exactly those the
    uninterrupted run saw.
    """

    priority = 'LOW'

    def before_train_epoch(self, runner) -> None:
        iters_per_epoch = len(runner.train_dataloader)
        done = runner.iter - runner.epoch * iters_per_epoch
        if done <= 0:
            return
        sampler = runner.train_dataloader.sampler
        if not hasattr(sampler, 'skip_at_next_epoch_start'):
            runner.logger.warning(f'Resumed inside epoch {runner.epoch + 1} after {done} of its '
                                  f'{iters_per_epoch} iterations, but {type(sampler).__name__} cannot '
                                  'skip them: the epoch is trained from its start (use DefaultSampler)')
            return
        sampler.skip_at_next_epoch_start(done * runner.train_dataloader.batch_size)
        runner.logger.info(f'Resumed inside epoch {runner.epoch + 1}: skipping the {done} of its '
                           f'{iters_per_epoch} iterations trained before the interruption')
