"""SSD's random crop with a minimum IoU to the objects (Liu et al. 2016, sec. 2.2)."""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from ssd_npu.registry import TRANSFORMS

from .homography import record_homography, translation

# Per sampled IoU threshold, crops tried before drawing a new threshold (as in the SSD
# reference implementation and mmdetection).
_TRIALS = 50


def box_iou(boxes: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """IoU of every box with every patch.

    Args:
        boxes: float [N, 4], xyxy pixels.
        patches: [P, 4], xyxy pixels.

    Returns:
        float [P, N].
    """
    boxes, patches = boxes[None].astype(np.float64), patches[:, None].astype(np.float64)
    wh = np.clip(np.minimum(boxes[..., 2:], patches[..., 2:])
                 - np.maximum(boxes[..., :2], patches[..., :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_boxes = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    area_patches = (patches[..., 2] - patches[..., 0]) * (patches[..., 3] - patches[..., 1])
    return inter / np.maximum(area_boxes + area_patches - inter, np.finfo(np.float32).eps)


@TRANSFORMS.register_module()
class MinIoURandomCrop(BaseTransform):
    """Crop a random patch whose IoU with every box is at least a randomly chosen threshold
    (mmdetection's arguments and sampling).

    Each call draws one mode among "keep the whole image", each of ``min_ious`` and "any
    crop" (threshold 0). A patch has sides in ``[min_crop_size, 1]`` of the image's and an
    aspect ratio h/w in [0.5, 2]; it is accepted when every box has IoU >= the threshold with
    it and at least one box centre lies strictly inside it. Boxes whose centre lies inside
    are kept, shifted into the patch and, with ``bbox_clip_border``, clipped to it; the
    others are dropped with their labels and ignore flags. After 50 rejected patches a new
    mode is drawn.

    Reads and updates ``img``, ``img_shape``, ``gt_bboxes`` (xyxy pixels),
    ``gt_bboxes_labels``, ``gt_ignore_flags``; a crop composes its shift into
    ``homography_matrix`` (mmdetection's ``MinIoURandomCrop`` leaves the matrix as it was). The
    cropped image is a view of the input (no copy).

    Args:
        min_ious: the IoU thresholds to draw from.
        min_crop_size: the smallest patch side, as a fraction of the image side.
        bbox_clip_border: clip the kept boxes to the patch.
    """

    def __init__(self, min_ious: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
                 min_crop_size: float = 0.3, bbox_clip_border: bool = True) -> None:
        self.min_ious = tuple(min_ious)
        self.min_crop_size = min_crop_size
        self.bbox_clip_border = bbox_clip_border
        # None stands for "no crop"; 0 for a crop without IoU constraint.
        self.sample_modes: Tuple[Optional[float], ...] = (None, *self.min_ious, 0.0)

    def _random_mode(self) -> Optional[float]:
        return self.sample_modes[np.random.randint(len(self.sample_modes))]

    def _random_patches(self, h: int, w: int) -> np.ndarray:
        """``_TRIALS`` candidate patches ``[x1, y1, x2, y2]`` (int pixels), [T, 4]."""
        new_w = np.random.uniform(self.min_crop_size * w, w, _TRIALS)
        new_h = np.random.uniform(self.min_crop_size * h, h, _TRIALS)
        left = np.random.uniform(0, w - new_w)
        top = np.random.uniform(0, h - new_h)
        return np.stack([left, top, left + new_w, top + new_h], axis=1).astype(np.int64)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        boxes = results.get('gt_bboxes')
        if boxes is None:
            boxes = np.zeros((0, 4), dtype=np.float32)
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        while True:
            min_iou = self._random_mode()
            if min_iou is None:
                return results
            # The trials are drawn at once and checked together; taking the first acceptable
            # one gives the same distribution as trying them one after another, at a tenth of
            # the cost of a Python loop.
            patches = self._random_patches(h, w)
            pw, ph = patches[:, 2] - patches[:, 0], patches[:, 3] - patches[:, 1]
            ok = (pw > 0) & (ph > 0) & (ph <= 2 * pw) & (pw <= 2 * ph)
            # inside[t, n]: box n's centre lies strictly inside patch t.
            inside = ((centers[None, :, 0] > patches[:, None, 0])
                      & (centers[None, :, 1] > patches[:, None, 1])
                      & (centers[None, :, 0] < patches[:, None, 2])
                      & (centers[None, :, 1] < patches[:, None, 3]))
            if len(boxes):
                ok &= (box_iou(boxes, patches).min(axis=1) >= min_iou) & inside.any(axis=1)
            if ok.any():
                first = int(np.argmax(ok))
                self._apply(results, patches[first], inside[first])
                return results

    def _apply(self, results: dict, patch: np.ndarray, inside: np.ndarray) -> None:
        x1, y1, x2, y2 = (int(v) for v in patch)
        results['img'] = results['img'][y1:y2, x1:x2]
        results['img_shape'] = (y2 - y1, x2 - x1)
        record_homography(results, translation(-x1, -y1))
        if results.get('gt_bboxes') is None:
            return
        boxes = results['gt_bboxes'][inside] - np.array([x1, y1, x1, y1], dtype=np.float32)
        if self.bbox_clip_border:
            np.clip(boxes[:, 0::2], 0, x2 - x1, out=boxes[:, 0::2])
            np.clip(boxes[:, 1::2], 0, y2 - y1, out=boxes[:, 1::2])
        results['gt_bboxes'] = boxes
        for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
            if results.get(key) is not None:
                results[key] = results[key][inside]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(min_ious={self.min_ious}, '
                f'min_crop_size={self.min_crop_size}, bbox_clip_border={self.bbox_clip_border})')
