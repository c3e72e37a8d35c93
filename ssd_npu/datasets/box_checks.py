"""Validation of one annotated box at parse time, shared by the COCO and VOC datasets."""
import math
from typing import List, Optional, Tuple

# Boxes that overshoot the image by at most this many pixels are clipped without a warning:
# COCO has many boxes ending a fraction of a pixel past the border (rounding in the tools
# that made them), which is not a data error worth a log line.
CLIP_TOLERANCE = 1.0


def check_box(x1: float, y1: float, x2: float, y2: float, img_w: float, img_h: float,
              min_size: float = 0.0) -> Tuple[Optional[List[float]], Optional[str]]:
    """Validate a box (xyxy, pixels) against its image and clip it to the image.

    A box is dropped when a coordinate is NaN/inf, when its width or height is not positive
    or below ``min_size``, or when it lies entirely outside the image. A box reaching out of
    the image is clipped to it.

    Args:
        x1, y1, x2, y2: the box corners in pixels.
        img_w, img_h: the image size in pixels.
        min_size: drop boxes narrower or lower than this (mmdetection's COCO loader drops
            boxes under 1 px; VOC keeps every positive box).

    Returns:
        ``(box, reason)``: ``box`` is the clipped ``[x1, y1, x2, y2]`` or None when dropped;
        ``reason`` says what was wrong, or is None when nothing worth a warning was.
    """
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return None, 'non-finite coordinates'
    w, h = x2 - x1, y2 - y1
    if w <= 0 or h <= 0:
        return None, 'non-positive width or height'
    if w < min_size or h < min_size:
        return None, f'width or height below {min_size:g} px'
    cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
    cx2, cy2 = min(x2, float(img_w)), min(y2, float(img_h))
    if cx2 <= cx1 or cy2 <= cy1:
        return None, 'outside the image'
    overshoot = max(-x1, -y1, x2 - img_w, y2 - img_h)
    reason = 'partly outside the image' if overshoot > CLIP_TOLERANCE else None
    return [cx1, cy1, cx2, cy2], reason
