"""SSD's zoom-out augmentation (Liu et al. 2016, sec. 3.6 "data augmentation")."""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ssd_npu.registry import TRANSFORMS

from .homography import record_homography, translation


@TRANSFORMS.register_module()
class Expand(BaseTransform):
    """With probability ``prob``, place the image at a random spot of a canvas ``ratio`` times
    its size, filled with the dataset mean, ``ratio ~ U(ratio_range)`` (mmdetection's arguments).

    Zooming out creates small objects, which the SSD paper credits with a large gain on
    small-object AP. Reads and updates ``img``, ``img_shape`` and ``gt_bboxes`` (xyxy pixels,
    shifted by the offset), and composes the shift into ``homography_matrix`` (mmdetection's
    ``Expand`` leaves the matrix as it was).

    Args:
        mean: fill colour, given in RGB order when ``to_rgb`` (the data preprocessor's mean,
            so that the canvas normalises to zero) or in the image's BGR order otherwise.
        to_rgb: whether ``mean`` is in RGB order (images are BGR, so it is reversed).
        ratio_range: (min, max) canvas/image size ratio.
        prob: probability of expanding.
    """

    def __init__(self, mean: Sequence[float] = (0, 0, 0), to_rgb: bool = True,
                 ratio_range: Tuple[float, float] = (1, 4), prob: float = 0.5) -> None:
        self.mean = tuple(float(m) for m in (mean[::-1] if to_rgb else mean))
        self.to_rgb = to_rgb
        self.min_ratio, self.max_ratio = ratio_range
        if self.min_ratio < 1:
            raise ValueError(f'Expand ratio_range must start at >= 1, got {ratio_range}')
        self.prob = prob

    def _random_params(self, h: int, w: int) -> Tuple[float, int, int]:
        """``(ratio, left, top)``: the canvas ratio and the image's offset on the canvas."""
        ratio = np.random.uniform(self.min_ratio, self.max_ratio)
        left = int(np.random.uniform(0, w * ratio - w))
        top = int(np.random.uniform(0, h * ratio - h))
        return ratio, left, top

    def transform(self, results: dict) -> dict:
        if np.random.uniform(0, 1) > self.prob:
            return results
        img = results['img']
        h, w = img.shape[:2]
        ratio, left, top = self._random_params(h, w)
        canvas_h, canvas_w = int(h * ratio), int(w * ratio)
        # One pass of cv2 writes the border and copies the image: 10-20x faster than filling a
        # numpy canvas and assigning into it, and this canvas can be 16x the image.
        results['img'] = cv2.copyMakeBorder(img, top, canvas_h - h - top, left,
                                            canvas_w - w - left, cv2.BORDER_CONSTANT,
                                            value=self.mean)
        results['img_shape'] = (canvas_h, canvas_w)
        record_homography(results, translation(left, top))
        if results.get('gt_bboxes') is not None:
            results['gt_bboxes'] = results['gt_bboxes'] + np.array([left, top, left, top],
                                                                   dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mean={self.mean}, to_rgb={self.to_rgb}, '
                f'ratio_range={(self.min_ratio, self.max_ratio)}, prob={self.prob})')
