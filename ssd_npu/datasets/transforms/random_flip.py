"""Random flip of the image and its boxes."""
import cv2
import numpy as np
from mmcv.transforms import RandomFlip as MMCVRandomFlip

from ssd_npu.registry import TRANSFORMS

from .homography import record_homography

# cv2.flip codes.
_FLIP_CODES = dict(horizontal=1, vertical=0, diagonal=-1)


@TRANSFORMS.register_module()
class RandomFlip(MMCVRandomFlip):
    """mmcv's ``RandomFlip`` (same arguments: ``prob``, ``direction`` among 'horizontal',
    'vertical', 'diagonal', or lists of both) for images and xyxy-pixel ``gt_bboxes``.

    Sets ``flip`` and ``flip_direction``; a flip composes its ``homography_matrix`` with the
    earlier transforms' (mmdetection's). The image is flipped with ``cv2.flip`` into a new
    contiguous array: numpy's flipped view has negative strides, which later cv2 calls and
    ``torch.from_numpy`` would have to copy anyway.
    """

    def _flip(self, results: dict) -> None:
        direction = results['flip_direction']
        results['img'] = cv2.flip(results['img'], _FLIP_CODES[direction])
        if results.get('gt_bboxes') is not None:
            results['gt_bboxes'] = self._flip_bbox(results['gt_bboxes'],
                                                   results['img'].shape[:2], direction)
        h, w = results['img'].shape[:2]
        sx, tx = (-1, w) if direction in ('horizontal', 'diagonal') else (1, 0)
        sy, ty = (-1, h) if direction in ('vertical', 'diagonal') else (1, 0)
        record_homography(results, np.array([[sx, 0, tx], [0, sy, ty], [0, 0, 1]], dtype=np.float32))
