"""Draw predictions during validation and testing (mmdetection's ``DetVisualizationHook``)."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer

from ssd_npu.registry import HOOKS
from ssd_npu.structures import DetDataSample


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """Draw predicted (and optionally ground-truth) boxes on validation/test images.

    Args:
        draw: Nothing is drawn unless True (``tools/test.py --show-dir`` turns it on).
        interval: During validation, draw the first image of every ``interval``-th batch.
        score_thr: Predictions below this score are not drawn.
        show: Show the pictures in a window instead of only saving them.
        wait_time: Seconds a shown picture stays up.
        draw_gt: Also draw the ground truth (side by side, as mmdetection does).
        test_out_dir: During testing, every image is written to
            ``<work_dir>/<timestamp>/<test_out_dir>/<image name>`` (an absolute path is used as is).
    """

    def __init__(self, draw: bool = False, interval: int = 50, score_thr: float = 0.3,
                 show: bool = False, wait_time: float = 0., draw_gt: bool = False,
                 test_out_dir: Optional[str] = None, backend_args: Optional[dict] = None):
        self.draw = draw or show
        self.interval = interval
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self.draw_gt = draw_gt
        self.test_out_dir = test_out_dir
        self.backend_args = backend_args
        self._test_index = 0

    def _draw(self, data_sample: DetDataSample, out_file: Optional[str], step: int) -> None:
        image = mmcv.imread(data_sample.img_path, channel_order='rgb', backend_args=self.backend_args)
        Visualizer.get_current_instance().add_datasample(
            osp.basename(data_sample.img_path), image, data_sample=data_sample,
            draw_gt=self.draw_gt, draw_pred=True, show=self.show, wait_time=self.wait_time,
            pred_score_thr=self.score_thr, out_file=out_file, step=step)

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[DetDataSample]) -> None:
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            self._draw(outputs[0], out_file=None, step=runner.iter + batch_idx)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        if not self.draw:
            return
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(out_dir)
        for data_sample in outputs:
            self._test_index += 1
            out_file = None if out_dir is None else osp.join(out_dir, osp.basename(data_sample.img_path))
            self._draw(data_sample, out_file=out_file, step=self._test_index)
