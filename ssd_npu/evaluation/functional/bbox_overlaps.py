"""Pairwise IoU of numpy boxes (the evaluation side works on numpy, not on device tensors)."""
import numpy as np


def bbox_overlaps(bboxes1: np.ndarray, bboxes2: np.ndarray,
                  use_legacy_coordinate: bool = False) -> np.ndarray:
    """IoU between every box of ``bboxes1`` and every box of ``bboxes2``.

    Args:
        bboxes1: (N, 4+) xyxy pixels (extra columns such as a score are ignored).
        bboxes2: (K, 4+) xyxy pixels.
        use_legacy_coordinate: count the end pixel, i.e. width = x2 - x1 + 1 (the PASCAL VOC
            devkit's integer-pixel convention, used by mmdetection's VOC evaluation).

    Returns:
        (N, K) float32 IoU; 0 where the union is empty.
    """
    extra = 1.0 if use_legacy_coordinate else 0.0
    b1 = np.asarray(bboxes1, dtype=np.float32)[:, None, :4]
    b2 = np.asarray(bboxes2, dtype=np.float32)[None, :, :4]
    area1 = (b1[..., 2] - b1[..., 0] + extra) * (b1[..., 3] - b1[..., 1] + extra)
    area2 = (b2[..., 2] - b2[..., 0] + extra) * (b2[..., 3] - b2[..., 1] + extra)
    top_left = np.maximum(b1[..., :2], b2[..., :2])
    bottom_right = np.minimum(b1[..., 2:], b2[..., 2:])
    inter_wh = np.clip(bottom_right - top_left + extra, 0, None)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = area1 + area2 - inter
    return np.where(union > 0, inter / np.maximum(union, np.finfo(np.float32).eps), 0).astype(np.float32)
