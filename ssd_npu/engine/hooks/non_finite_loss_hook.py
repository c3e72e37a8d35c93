"""Keep NaN/inf out of the weights and out of the checkpoints."""

from typing import Optional

import torch
from mmengine.hooks import Hook

from ssd_npu.engine.non_finite_guard import NonFiniteLossGuard
from ssd_npu.engine.optimizers.non_finite_check import NonFiniteLossCheck
from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Skip optimizer steps whose loss is NaN/inf; stop after ``max_consecutive`` in a row.

    The check sits in the ``update_params`` of ssd_npu's optimizer wrappers (``OptimWrapper``,
    ``AmpOptimWrapper``; see :class:`~ssd_npu.engine.optimizers.NonFiniteLossCheck`), which both
    the model's ``train_step`` and DDP's call: this hook attaches its guard to the wrapper before
    training, and hands it the batch's image paths for the warning before each iteration.
    Before a checkpoint is written, every floating-point tensor of the model is checked: a
    non-finite weight stops the run instead of being saved.

    Args:
        max_consecutive: consecutive non-finite losses tolerated before the run stops.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, max_consecutive: int = 10):
        self.guard = NonFiniteLossGuard(max_consecutive)

    def before_train(self, runner) -> None:
        optim_wrapper = runner.optim_wrapper
        if not isinstance(optim_wrapper, NonFiniteLossCheck):
            raise TypeError(
                f'NonFiniteLossHook needs an optimizer wrapper of ssd_npu (OptimWrapper or AmpOptimWrapper '
                f"built under default_scope='ssd_npu'); this run has {type(optim_wrapper).__module__}."
                f'{type(optim_wrapper).__qualname__}. Set the scope, or drop the hook from custom_hooks.')
        optim_wrapper.loss_guard = self.guard

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        samples = (data_batch or {}).get('data_samples', [])
        runner.optim_wrapper.batch_image_paths = [sample.metainfo.get('img_path', '?') for sample in samples]

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
