"""An SSD as one function of the images: what the exported ONNX graph computes."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .onnx_nms import onnx_nms_step


class ExportableSSD(nn.Module):
    """Images in, padded detections out: normalisation, network, decoding, NMS and top-k.

    The same functions as :meth:`SSD.predict` (``data_preprocessor.normalise``,
    ``extract_feat``, ``bbox_head.batch_detections``), with two differences that make the
    result final without Python: NMS looks at every candidate (``nms_candidates=-1``), and the
    NMS step is :func:`~ssd_npu.deployment.onnx_nms.nms_keep_mask` (ONNX's
    ``NonMaxSuppression`` once exported), so no image needs the eager path's recomputation.

    Args:
        detector: an :class:`~ssd_npu.models.detectors.SSD` in eval mode.
        test_cfg: the head's ``test_cfg`` to use (default: the detector's).

    ``forward(images)``: images float32 [B, 3, H, W], BGR, 0..255, already resized to the
    model's input size. Returns ``boxes`` [B, K, 4] (xyxy, input pixels), ``scores`` [B, K],
    ``labels`` int64 [B, K] (0-based) and ``num_dets`` int64 [B]; rows past ``num_dets`` are
    zeros (K = ``max_per_img``).
    """

    def __init__(self, detector: nn.Module, test_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.detector = detector
        self.test_cfg = dict(detector.bbox_head.test_cfg if test_cfg is None else test_cfg)
        self.nms_step = onnx_nms_step(detector.bbox_head.num_classes)

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        detector = self.detector
        inputs = detector.data_preprocessor.normalise(images)
        cls_scores, bbox_preds = detector.bbox_head(detector.extract_feat(inputs))
        # Every image has the input's size (the contract): clip boxes to it.
        img_shapes = torch.tensor(images.shape[-2:], device=images.device).expand(images.size(0), 2)
        dets = detector.bbox_head.batch_detections(cls_scores, bbox_preds, img_shapes, None, self.test_cfg,
                                                   nms_candidates=-1, nms_keep=self.nms_step)
        return dets.bboxes, dets.scores, dets.labels, dets.num_dets
