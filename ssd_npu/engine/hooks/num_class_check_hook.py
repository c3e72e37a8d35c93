"""Stop before training when the head's class count disagrees with the dataset's classes."""
from mmengine.hooks import Hook

from ssd_npu.models.detectors.checks import check_num_classes
from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """Check ``bbox_head.num_classes == len(dataset.metainfo['classes'])`` (mmdetection's hook name).

    A mismatch otherwise trains silently: labels beyond ``num_classes`` collide with the
    background index, or some outputs never receive a positive.
    """

    def _check(self, runner, dataloader, phase: str) -> None:
        classes = dataloader.dataset.metainfo.get('classes')
        if classes is not None:
            check_num_classes(runner.model, classes, source=f'the {phase} dataset')

    def before_train_epoch(self, runner) -> None:
        self._check(runner, runner.train_dataloader, 'train')

    def before_val_epoch(self, runner) -> None:
        self._check(runner, runner.val_dataloader, 'val')

    def before_test_epoch(self, runner) -> None:
        self._check(runner, runner.test_dataloader, 'test')
