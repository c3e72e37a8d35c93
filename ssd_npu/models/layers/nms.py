"""Class-aware greedy non-maximum suppression on any device, and its static-shape form.

torchvision's ``nms`` kernel exists for CPU and CUDA. Where a device has no
kernel (an Ascend NPU without torchvision_npu, for instance) the op would
either fail or, with mmcv's approach, copy every box to the CPU. Here such
devices run :func:`greedy_nms_keep` instead, on the device: the same tensor-only
NMS that the batched, compiled and exported post-processing runs
(``ssd_npu/models/dense_heads/ssd_post_processing.py``).
"""
from typing import Tuple

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


def greedy_nms_keep(boxes: Tensor, labels: Tensor, valid: Tensor, iou_threshold: float,
                    iterations: int = 12) -> Tuple[Tensor, Tensor]:
    """Class-aware greedy NMS of boxes already sorted by descending score, for each image of a batch.

    Greedy NMS keeps box ``i`` iff no kept box before it (same label) overlaps it
    by more than ``iou_threshold``. Starting from "all kept", re-applying that rule
    to all boxes at once settles at least the next box each round and stops
    changing exactly at the greedy result, usually within a few rounds (the
    longest suppression chain). A fixed number of rounds keeps a compiled graph
    static; ``converged`` says whether the result is final (``iterations >= N`` always is).

    Args:
        boxes: Tensor[B, N, 4] xyxy, sorted by descending score per image.
        labels: LongTensor[B, N].
        valid: BoolTensor[B, N]: candidates that take part (others never suppress).
        iou_threshold: suppress overlaps strictly above this IoU.
        iterations: rounds of the fixed-point iteration.

    Returns:
        keep: BoolTensor[B, N]; converged: BoolTensor[B].
    """
    num = boxes.size(1)
    earlier = torch.ones(num, num, dtype=torch.bool, device=boxes.device).triu(diagonal=1)
    # suppresses[b, j, i]: box j (higher score) removes box i if j is kept.
    same_label = labels[:, :, None] == labels[:, None]
    overlapping = bbox_overlaps(boxes.float(), boxes.float()) > iou_threshold
    suppresses = overlapping & same_label & earlier & valid[:, :, None]
    keep = valid
    previous = keep
    for _ in range(iterations):
        previous = keep
        keep = valid & ~(suppresses & keep[:, :, None]).any(dim=1)
        # Eagerly, stop at the fixed point (a host sync per round, cheap next to the rounds saved);
        # a compiled graph keeps its fixed number of rounds.
        if not torch.compiler.is_compiling() and torch.equal(keep, previous):
            break
    return keep, (keep == previous).all(dim=1)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Class-aware NMS of one image: boxes with different ``idxs`` never suppress each other.

    Uses ``torchvision.ops.batched_nms`` where the device has the kernel and
    :func:`greedy_nms_keep` (run to its fixed point) elsewhere; both give the same indices.

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
    order = scores.argsort(descending=True)
    keep, _ = greedy_nms_keep(boxes[order][None], idxs[order][None],
                              torch.ones(1, order.numel(), dtype=torch.bool, device=boxes.device),
                              iou_threshold, iterations=order.numel())
    return order[keep[0]]
