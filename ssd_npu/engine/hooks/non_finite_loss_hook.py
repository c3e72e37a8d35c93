"""Keep NaN/inf out of the weights and out of the checkpoints."""

from typing import Optional

import torch
from mmengine.hooks import Hook

from ssd_npu.engine.non_finite_guard import NonFiniteLossGuard
from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Skip optimizer steps whose loss is NaN/inf; stop after ``max_consecutive`` in a row.

    The check sits in ``optim_wrapper.update_params`` (wrapped once at the start of training),
    so it works for every optimizer wrapper (fp32 and AMP) and under DDP, whose ``train_step``
    bypasses the model's own. ``before_train_iter`` records the batch's image paths for the
    warning. Before a checkpoint is written, every floating-point tensor of the model is checked:
    a non-finite weight stops the run instead of being saved.

    Args:
        max_consecutive: consecutive non-finite losses tolerated before the run stops.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, max_consecutive: int = 10):
        self.guard = NonFiniteLossGuard(max_consecutive)
        self._image_paths: list = []

    def before_train(self, runner) -> None:
        optim_wrapper = runner.optim_wrapper
        update_params = optim_wrapper.update_params

        def guarded_update_params(loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                                  zero_kwargs: Optional[dict] = None) -> None:
            if self.guard.allows(loss, self._image_paths):
                update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)
            else:
                optim_wrapper.zero_grad(**(zero_kwargs or {}))

        optim_wrapper.update_params = guarded_update_params

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        samples = (data_batch or {}).get('data_samples', [])
        self._image_paths = [sample.metainfo.get('img_path', '?') for sample in samples]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        broken = [name for name, value in checkpoint.get('state_dict', {}).items()
                  if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()]
        if broken:
            raise RuntimeError(
                f'Refusing to save a checkpoint at epoch {runner.epoch}, iteration {runner.iter}: non-finite '
                f'values in {", ".join(broken[:5])}{" ..." if len(broken) > 5 else ""}. The previous '
                'checkpoint is intact; resume from it with a lower learning rate.')

    def after_train_epoch(self, runner) -> None:
        if self.guard.skipped:
            runner.logger.warning(f'{self.guard.skipped} optimizer step(s) skipped so far because of '
                                  'non-finite losses')
