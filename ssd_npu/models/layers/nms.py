"""Class-aware non-maximum suppression on any device.

torchvision's ``nms`` kernel exists for CPU and CUDA. Where a device has no
kernel (an Ascend NPU without torchvision_npu, for instance) the op would
either fail or, with mmcv's approach, copy every box to the CPU. Here such
devices run an exact pure-torch version instead, on the device.
"""
import torch
import torchvision
from torch import Tensor

from .bbox_overlaps import bbox_overlaps


def _has_torchvision_nms(device: torch.device) -> bool:
    """Whether torchvision's compiled ``nms`` is registered for ``device``'s dispatch key."""
    try:
        key = torch._C._dispatch_key_for_device(device.type)
    except RuntimeError:  # a backend torch knows only by a renamed PrivateUse1 name it cannot map
        return False
    return torch._C._dispatch_has_kernel_for_dispatch_key('torchvision::nms', key)


def _class_offset_boxes(boxes: Tensor, idxs: Tensor) -> Tensor:
    """Shift each class's boxes to its own region so boxes of different classes never overlap."""
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return boxes + offsets[:, None]


def nms_matrix(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS with tensor ops only (no compiled kernel, runs on any device).

    Greedy NMS keeps box ``i`` (in score order) iff no kept box before it
    overlaps it by more than ``iou_threshold``. Starting from "all kept",
    re-evaluating that rule for every box at once fixes at least one more
    box per round (the first undecided one), so the loop reaches the greedy
    result exactly; in practice it takes as many rounds as the longest
    suppression chain, a handful.

    Args:
        boxes: Tensor[N, 4], xyxy.
        scores: Tensor[N].
        iou_threshold: suppress overlaps strictly above this IoU.

    Returns:
        LongTensor[K]: indices of kept boxes, by decreasing score.
    """
    order = scores.argsort(descending=True)
    sorted_boxes = boxes[order].float()
    iou = bbox_overlaps(sorted_boxes, sorted_boxes)
    # suppresses[j, i]: box j (higher score) would suppress box i if j is kept.
    suppresses = torch.triu(iou > iou_threshold, diagonal=1)
    keep = torch.ones(order.numel(), dtype=torch.bool, device=boxes.device)
    for _ in range(order.numel()):
        new_keep = ~(suppresses & keep[:, None]).any(dim=0)
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return order[keep]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Class-aware NMS: boxes with different ``idxs`` never suppress each other.

    Uses ``torchvision.ops.batched_nms`` where the device has the kernel and
    :func:`nms_matrix` elsewhere; both give the same indices.

    Args:
        boxes: Tensor[N, 4], xyxy, pixels.
        scores: Tensor[N].
        idxs: LongTensor[N], the class of each box.
        iou_threshold: suppress overlaps strictly above this IoU.

    Returns:
        LongTensor[K]: indices of kept boxes, by decreasing score.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    if _has_torchvision_nms(boxes.device):
        return torchvision.ops.batched_nms(boxes, scores, idxs, iou_threshold)
    return nms_matrix(_class_offset_boxes(boxes, idxs), scores, iou_threshold)
