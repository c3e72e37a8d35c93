"""Draw GT and predicted boxes with class names and scores (mmdetection 3.x's ``DetLocalVisualizer``)."""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

from ssd_npu.evaluation.functional.sample_ground_truth import to_numpy
from ssd_npu.registry import VISUALIZERS
from ssd_npu.structures import DetDataSample

from .palette import adaptive_scales, get_palette

ColorArg = Optional[Union[str, Tuple[int, int, int], Sequence[Tuple[int, int, int]]]]


@VISUALIZERS.register_module()
class DetLocalVisualizer(Visualizer):
    """Detection visualizer: boxes coloured by class, a "name: score" label on each.

    Drawing goes through matplotlib's Agg canvas (mmengine's ``Visualizer``), so it works on a
    headless machine; only ``show=True`` needs a display.

    Args:
        name: instance name (mmengine visualizers are named singletons).
        image: optional RGB image (H, W, 3) uint8 to start with.
        vis_backends: mmengine visualization backends (e.g. ``LocalVisBackend``).
        save_dir: where the backends write.
        bbox_color: box colour for every class (name or RGB); None uses ``dataset_meta['palette']``.
        text_color: label colour (name, RGB, or a per-class palette).
        line_width: box line width in pixels.
        alpha: box line opacity.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[Sequence[dict]] = None,
                 save_dir: Optional[str] = None,
                 bbox_color: ColorArg = None,
                 text_color: ColorArg = (200, 200, 200),
                 line_width: Union[int, float] = 3,
                 alpha: float = 0.8) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        self.bbox_color = bbox_color
        self.text_color = text_color
        self.line_width = line_width
        self.alpha = alpha
        # Overwritten with the dataset's metainfo (classes, palette) by the runner / tools.
        self.dataset_meta = {}

    def _draw_instances(self, image: np.ndarray, instances: InstanceData) -> np.ndarray:
        """Draw ``instances.bboxes`` (N, 4) xyxy pixels of ``image``, with labels and optional scores.

        Returns:
            The drawn RGB image (H, W, 3) uint8.
        """
        self.set_image(image)
        if 'bboxes' not in instances or len(instances) == 0:
            return self.get_image()
        bboxes = to_numpy(instances.bboxes).reshape(-1, 4)
        labels = to_numpy(instances.labels).astype(np.int64).reshape(-1)
        scores = to_numpy(instances.scores).reshape(-1) if 'scores' in instances else None
        # Matplotlib cannot draw NaN boxes and mmengine asserts x1 <= x2: skip those, draw the rest.
        valid = np.isfinite(bboxes).all(axis=1) & (bboxes[:, 2:] >= bboxes[:, :2]).all(axis=1)
        bboxes, labels = bboxes[valid], labels[valid]
        scores = scores[valid] if scores is not None else None
        if len(bboxes) == 0:
            return self.get_image()

        classes = self.dataset_meta.get('classes')
        num_colors = int(max(labels.max() + 1, len(classes) if classes else 0))
        box_palette = get_palette(self.bbox_color if self.bbox_color is not None
                                  else self.dataset_meta.get('palette'), num_colors)
        text_palette = get_palette(self.text_color, num_colors)
        self.draw_bboxes(bboxes, edge_colors=[box_palette[label] for label in labels],
                         alpha=self.alpha, line_widths=self.line_width)

        areas = (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])
        scales = adaptive_scales(areas)
        for i, (box, label) in enumerate(zip(bboxes, labels)):
            text = classes[label] if classes is not None and label < len(classes) else f'class {label}'
            if scores is not None:
                text += f': {round(float(scores[i]) * 100, 1)}'
            self.draw_texts(text, box[:2] + self.line_width, colors=text_palette[label],
                            font_sizes=int(13 * scales[i]),
                            bboxes=[dict(facecolor='black', alpha=0.8, pad=0.7, edgecolor='none')])
        return self.get_image()

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw one image's GT (left) and predictions (right) side by side.

        Args:
            name: image identifier for the backends / window title.
            image: RGB image (H, W, 3) uint8; boxes must be in its pixels.
            data_sample: a :class:`DetDataSample` with ``gt_instances`` and/or ``pred_instances``.
            draw_gt / draw_pred: which halves to draw (one half when only one is present).
            show: open a window (needs a display).
            wait_time: seconds to show the window.
            out_file: write the drawing (JPEG/PNG by extension) instead of sending it to the backends.
            pred_score_thr: only predictions with a higher score are drawn.
            step: global step for the backends.
        """
        gt_image = pred_image = None
        if data_sample is not None:
            data_sample = data_sample.cpu()
            if draw_gt and 'gt_instances' in data_sample:
                gt_image = self._draw_instances(image, data_sample.gt_instances)
            if draw_pred and 'pred_instances' in data_sample:
                pred = data_sample.pred_instances
                if 'scores' in pred:
                    pred = pred[pred.scores > pred_score_thr]
                pred_image = self._draw_instances(image, pred)
        drawn = [part for part in (gt_image, pred_image) if part is not None]
        drawn_image = np.concatenate(drawn, axis=1) if drawn else image
        self.set_image(drawn_image)

        if show:
            self.show(drawn_image, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn_image[..., ::-1], out_file)  # RGB -> BGR for OpenCV
        else:
            self.add_image(name, drawn_image, step)
