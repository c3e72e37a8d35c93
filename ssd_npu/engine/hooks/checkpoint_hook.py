"""mmengine's CheckpointHook, with old checkpoints removed only after the new one is complete."""
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as _CheckpointHook

from mmcv_patches.atomic_save import write_atomically
from ssd_npu.errors import CheckpointWriteError
from ssd_npu.registry import HOOKS

# Runtime info naming the checkpoint PreemptionHook wrote, removed by the next regular checkpoint.
PREEMPTION_CHECKPOINT = 'preemption_checkpoint'


def write_checkpoint_and_pointer(runner, out_dir: str, filename: str, **save_kwargs) -> str:
    """Save the runner's state as ``out_dir/filename``, then point ``last_checkpoint`` at it.

    Both writes are atomic (``mmcv_patches.atomic_save``). On an ``OSError`` (no space, file size
    limit, I/O error) both files keep their previous content and :class:`CheckpointWriteError`
    names the file, the reason and what to resume from. Returns the checkpoint's path.
    """
    path = osp.join(out_dir, filename)
    pointer = osp.join(runner.work_dir, 'last_checkpoint')
    try:
        runner.save_checkpoint(out_dir, filename, **save_kwargs)
        if is_main_process():
            write_atomically(path.encode(), pointer)
    except OSError as error:
        previous = open(pointer).read().strip() if osp.isfile(pointer) else None
        kept = (f'{pointer} still names the previous complete checkpoint {previous}; '
                'free space and continue with --resume' if previous else 'no earlier checkpoint exists')
        message = f'Could not write checkpoint {path}: {error.strerror or error}. {kept}'
        runner.logger.error(message)
        raise CheckpointWriteError(message) from error
    return path


@HOOKS.register_module()
class CheckpointHook(_CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) that never loses the last checkpoint.

    mmengine removes the oldest kept checkpoint (``max_keep_ckpts``) *before* writing the new
    one and writes ``last_checkpoint`` in place: a write that fails (full disk, file size
    limit) leaves no loadable checkpoint, or a pointer to a removed one. Here the new checkpoint
    is written first, then ``last_checkpoint``, both atomically; old checkpoints are removed
    only then. The same holds for ``save_best``: mmengine removes the previous best checkpoint
    before writing the new one, here after. A failed write stops the run with
    :class:`CheckpointWriteError`. A mid-epoch checkpoint of ``PreemptionHook`` is removed
    once a newer regular checkpoint is written.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        # The same bookkeeping as mmengine's (the message hub's list is saved in the checkpoint).
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            self.keep_ckpt_ids.append(step)
            while len(self.keep_ckpt_ids) > self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        write_checkpoint_and_pointer(
            runner, self.out_dir, filename, file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)

        preempted = runner.message_hub.pop_info(PREEMPTION_CHECKPOINT)
        if not is_main_process():
            return
        for old_step in outdated:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
        if preempted and preempted != self.last_ckpt and osp.isfile(preempted):
            os.remove(preempted)
            runner.logger.info(f'Removed {preempted}, written on preemption: {self.last_ckpt} is newer')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best:
            return
        previous = self._best_paths()
        # mmengine removes the best checkpoint it knows of before it writes the new one: it is
        # told of none, and the outdated ones are removed below, once the new ones are complete.
        self._set_best_paths(dict.fromkeys(previous))
        try:
            super()._save_best_checkpoint(runner, metrics)
        except OSError as error:
            self._set_best_paths(previous)
            kept = ', '.join(path for path in previous.values() if path) or 'none was written before'
            message = (f'Could not write the best checkpoint: {error.strerror or error}. '
                       f'Previous best kept: {kept}')
            runner.logger.error(message)
            raise CheckpointWriteError(message) from error
        current = self._best_paths()
        for key, old in previous.items():
            if current[key] is None:  # this metric did not improve: its best checkpoint stays
                current[key] = old
            elif old and old != current[key] and is_main_process() and self.file_backend.isfile(old):
                self.file_backend.remove(old)
                runner.logger.info(f'The previous best checkpoint {old} is removed')
        self._set_best_paths(current)

    def _best_paths(self) -> Dict[Optional[str], Optional[str]]:
        """The best checkpoint of each key indicator (mmengine keeps one path for a single key)."""
        if len(self.key_indicators) == 1:
            return {None: self.best_ckpt_path}
        return {key: self.best_ckpt_path_dict.get(key) for key in self.key_indicators}

    def _set_best_paths(self, paths: Dict[Optional[str], Optional[str]]) -> None:
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = paths[None]
        else:
            self.best_ckpt_path_dict.update(paths)
