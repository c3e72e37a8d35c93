"""Stop before training when the head's class count disagrees with the dataset's classes."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """Check ``bbox_head.num_classes == len(dataset.metainfo['classes'])`` (mmdetection's hook name).

    A mismatch otherwise trains silently: labels beyond ``num_classes`` collide with the
    background index, or some outputs never receive a positive.
    """

    def _check(self, runner, dataloader, phase: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'bbox_head', None)
        classes = dataloader.dataset.metainfo.get('classes')
        if head is None or classes is None:
            return
        if isinstance(classes, str):
            raise ValueError(f'metainfo["classes"] of the {phase} dataset must be a tuple of class names, '
                             f'got the string {classes!r}; write classes=({classes!r},)')
        if head.num_classes != len(classes):
            raise ValueError(
                f'model.bbox_head.num_classes is {head.num_classes} but the {phase} dataset has '
                f'{len(classes)} classes {tuple(classes)}; set model.bbox_head.num_classes={len(classes)} '
                'or the dataset\'s metainfo=dict(classes=(...))')

    def before_train_epoch(self, runner) -> None:
        self._check(runner, runner.train_dataloader, 'train')

    def before_val_epoch(self, runner) -> None:
        self._check(runner, runner.val_dataloader, 'val')

    def before_test_epoch(self, runner) -> None:
        self._check(runner, runner.test_dataloader, 'test')
