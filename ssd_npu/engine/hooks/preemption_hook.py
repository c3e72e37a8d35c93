"""Preemption (SIGTERM from Slurm, Kubernetes, torchrun): checkpoint the current iteration, exit."""
import os.path as osp
import signal
import sys

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from ssd_npu.engine.process_group import leave_process_group
from ssd_npu.registry import HOOKS

from .checkpoint_hook import PREEMPTION_CHECKPOINT, write_checkpoint_and_pointer


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On SIGTERM, finish the current iteration on every rank, write ``iter_<N>.pth`` (rank 0,
    atomically, with ``last_checkpoint`` pointing at it) and exit with status 0. The resumed run's
    next regular checkpoint removes that file.

    ``--resume`` then continues from that iteration (``MidEpochResumeHook`` skips the batches
    already trained on), not from the last epoch checkpoint.

    The signal only sets a flag; after each iteration the ranks agree on it (one all-reduce of
    a flag), so that all of them stop after the same iteration even when the signal reaches
    them at different times, and a rank that missed it does not wait in a collective forever.
    The flag is the maximum over ranks: one signalled rank stops the job.

    Args:
        signals: the signals that mean "stop soon"; SIGTERM by default (SIGINT keeps its
            usual meaning: stop now).
    """

    priority = 'LOWEST'  # after the optimizer step, the LR schedulers and the other checkpoints

    def __init__(self, signals: tuple = ('SIGTERM', )) -> None:
        self.signals = [getattr(signal, name) for name in signals]
        self._received = None
        self._previous_handlers: dict = {}

    def before_train(self, runner) -> None:
        for signum in self.signals:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def after_train(self, runner) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum, frame) -> None:
        # Dataloader workers forked after this inherit the handler: they keep serving batches
        # until the main process is done with them.
        self._received = signal.Signals(signum).name

    def _stop_requested(self, runner) -> bool:
        if get_world_size() == 1:
            return self._received is not None
        flag = torch.tensor([0 if self._received is None else 1])
        all_reduce(flag, op='max')  # mmengine moves it to the backend's device and back
        return bool(flag.item())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._stop_requested(runner):
            return
        done = runner.iter + 1
        filename = f'iter_{done}.pth'
        if not osp.isfile(osp.join(runner.work_dir, filename)):  # else a regular checkpoint of this iteration
            # CheckpointHook removes it once a newer checkpoint exists (the name is saved with it).
            runner.message_hub.update_info(PREEMPTION_CHECKPOINT, osp.join(runner.work_dir, filename))
        path = write_checkpoint_and_pointer(runner, runner.work_dir, filename,
                                            meta=dict(epoch=runner.epoch, iter=done), by_epoch=False)
        cause = self._received or 'another rank'
        # Counted from the epoch start (batch_idx restarts at 0 in an epoch resumed part-way).
        batch = done - runner.epoch * len(runner.train_dataloader)
        runner.logger.info(f'Stopped by {cause} after iteration {done} (epoch {runner.epoch + 1}, '
                           f'batch {batch}); checkpoint {path} written. '
                           'Continue with --resume.')
        leave_process_group()  # every rank stops after this iteration: the others wait for rank 0's file
        sys.exit(0)
