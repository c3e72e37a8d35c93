"""The NMS step of the exported graph: ONNX's ``NonMaxSuppression`` on the same candidates.

``batched_ssd_detections`` takes its NMS step as a function (``nms_keep``). In PyTorch it
runs a fixed-point greedy NMS on an IoU matrix (static shapes, compiles); here the step is a
custom op, ``ssd_npu::nms_keep_mask``, with a static output (a keep mask [B, N]), so the
rest of the graph keeps its static shapes and ``torch.export`` traces it. In eager mode the
op runs torchvision's ``batched_nms``; in the ONNX graph it becomes ``NonMaxSuppression``
(per-class scores, so the box coordinates stay exact) followed by a ``ScatterND`` of the
selected indices into the mask.
"""
from functools import partial
from typing import Tuple

import torch
import torchvision
from torch import Tensor

from ssd_npu.models.dense_heads.ssd_post_processing import NmsKeep

# Candidates that are not valid get this score in the per-class score tensor; the score
# threshold of NonMaxSuppression (-0.5) removes them, valid scores are > score_thr >= 0.
_ABSENT = -1.0
_SCORE_THRESHOLD = -0.5


@torch.library.custom_op('ssd_npu::nms_keep_mask', mutates_args=())
def nms_keep_mask(boxes: Tensor, class_scores: Tensor, iou_threshold: float) -> Tensor:
    """Per-class greedy NMS of each image.

    Args:
        boxes: Tensor[B, N, 4] xyxy.
        class_scores: Tensor[B, C, N]: the score of box n for class c, or -1 where box n is
            not a candidate of class c (each box is a candidate of at most one class).
        iou_threshold: suppress overlaps strictly above this IoU.

    Returns:
        BoolTensor[B, N]: the boxes NMS keeps.
    """
    best, labels = class_scores.max(dim=1)
    keep = torch.zeros(best.shape, dtype=torch.bool, device=boxes.device)
    for image in range(boxes.size(0)):
        index = (best[image] > _SCORE_THRESHOLD).nonzero().flatten()
        kept = torchvision.ops.batched_nms(boxes[image, index].float(), best[image, index],
                                           labels[image, index], iou_threshold)
        keep[image, index[kept]] = True
    return keep


@nms_keep_mask.register_fake
def _nms_keep_mask_shape(boxes: Tensor, class_scores: Tensor, iou_threshold: float) -> Tensor:
    return boxes.new_empty(boxes.shape[:2], dtype=torch.bool)


def onnx_nms_keep_mask(boxes, class_scores, iou_threshold: float):
    """The ONNX translation of :func:`nms_keep_mask` (an onnxscript graph for ``torch.onnx.export``)."""
    import onnx
    from onnxscript import opset18 as op

    selected = op.NonMaxSuppression(
        boxes, class_scores,
        op.Constant(value_ints=[2 ** 31 - 1]),              # max_output_boxes_per_class: all
        op.Constant(value_floats=[iou_threshold]),
        op.Constant(value_floats=[_SCORE_THRESHOLD]))        # [S, 3]: (image, class, box)
    image_and_box = op.Gather(selected, op.Constant(value_ints=[0, 2]), axis=1)
    shape = op.Shape(class_scores)
    mask_shape = op.Concat(op.Gather(shape, op.Constant(value_ints=[0])),
                           op.Gather(shape, op.Constant(value_ints=[2])), axis=0)
    empty = op.ConstantOfShape(mask_shape, value=onnx.helper.make_tensor('false', onnx.TensorProto.BOOL,
                                                                          [1], [False]))
    true = op.Constant(value=onnx.helper.make_tensor('true', onnx.TensorProto.BOOL, [1], [True]))
    return op.ScatterND(empty, image_and_box, op.Expand(true, op.Shape(selected, start=0, end=1)))


def class_nms_keep(boxes: Tensor, scores: Tensor, labels: Tensor, valid: Tensor, iou_threshold: float,
                   num_classes: int) -> Tuple[Tensor, Tensor]:
    """The NMS step (see ``NmsKeep`` in ``ssd_post_processing.py``) as :func:`nms_keep_mask`.

    Exact greedy NMS over every candidate given, so ``converged`` is always True.
    """
    classes = torch.arange(num_classes, device=labels.device)
    class_scores = torch.where(valid[:, None] & (labels[:, None] == classes[None, :, None]),
                               scores[:, None], _ABSENT)
    keep = torch.ops.ssd_npu.nms_keep_mask(boxes, class_scores, iou_threshold)
    return keep & valid, torch.ones_like(valid[:, 0])


def onnx_nms_step(num_classes: int) -> NmsKeep:
    """The NMS step for ``batched_ssd_detections(nms_keep=...)`` of a model with ``num_classes``."""
    return partial(class_nms_keep, num_classes=num_classes)


# For torch.onnx.export(custom_translation_table=...).
ONNX_TRANSLATIONS = {torch.ops.ssd_npu.nms_keep_mask.default: onnx_nms_keep_mask}
