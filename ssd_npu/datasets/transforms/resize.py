"""Resize the image and its boxes."""
import numpy as np
from mmcv.transforms import Resize as MMCVResize

from ssd_npu.registry import TRANSFORMS

from .homography import record_homography


@TRANSFORMS.register_module()
class Resize(MMCVResize):
    """mmcv's ``Resize`` (same arguments: ``scale=(w, h)``, ``keep_ratio``, ``interpolation``,
    ``clip_object_border``, ...) that keeps ``gt_bboxes`` float32.

    Sets ``img``, ``img_shape`` (h, w), ``scale``, ``scale_factor`` (w_scale, h_scale),
    ``keep_ratio`` and ``homography_matrix`` (composed with earlier transforms', as
    mmdetection's); boxes (xyxy pixels) are multiplied by the scale factors and, with
    ``clip_object_border``, clipped to the new image. SSD uses ``scale=(300, 300)``,
    ``keep_ratio=False``: a plain stretch, as in the paper.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        w_scale, h_scale = results['scale_factor']
        record_homography(results, np.array([[w_scale, 0, 0], [0, h_scale, 0], [0, 0, 1]], dtype=np.float32))
        return results

    def _resize_bboxes(self, results: dict) -> None:
        boxes = results.get('gt_bboxes')
        if boxes is None:
            return
        w_scale, h_scale = results['scale_factor']
        boxes = boxes * np.array([w_scale, h_scale, w_scale, h_scale], dtype=np.float32)
        if self.clip_object_border:
            h, w = results['img_shape']
            np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
            np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
        results['gt_bboxes'] = boxes
