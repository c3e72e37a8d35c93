"""mmengine's CheckpointHook, with old checkpoints removed only after the new one is complete."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as _CheckpointHook

from mmcv_patches.atomic_save import write_atomically
from ssd_npu.registry import HOOKS


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written; what is on disk is still the previous one."""


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
    only then. A failed write stops the run with :class:`CheckpointWriteError`.
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

        if not is_main_process():
            return
        for old_step in outdated:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
