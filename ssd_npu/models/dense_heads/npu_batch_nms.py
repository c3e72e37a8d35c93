"""The NMS step on Ascend NPUs: ``torch_npu.npu_batch_nms``, batched and per class, fixed-size outputs.

torchvision's ``nms`` has no NPU kernel, and the fixed-point NMS of ``ssd_post_processing.py``
runs a dozen rounds on an IoU matrix; ``npu_batch_nms`` is the device's own batched NMS with
static output shapes, which graph mode needs. Its documented contract (torch-npu's
``_op_plugin_docs.py``): boxes [B, N, q, 4] and scores [B, N, C] in float16 -> the kept
boxes, scores and classes, [B, max_total_size] each, best first, and their count [B].

Its outputs are float16 copies, not indices, so the candidates go in with *codes* for scores:
candidate ``i`` (already sorted by descending score) scores ``1 - (i + 1) / 2048`` in its own
class's column and 0 elsewhere. Float16 represents these codes exactly for ``i < 1024`` (its
spacing in [0.5, 1) is 2**-11), they keep the candidates' order (greedy NMS depends on the
order and the IoUs only), and each kept code names its candidate, so the result is a keep mask
over the float32 candidates: boxes, scores and labels stay exact, as on every other device.
The op computes the IoUs from float16 boxes, so a pair within float16 rounding of
``iou_threshold`` may be decided differently from float32.
"""
import sys
from functools import partial
from typing import Optional, Tuple

import torch
from torch import Tensor

from ssd_npu.models.dense_heads.ssd_post_processing import NmsKeep

# Candidates whose score codes float16 holds exactly (see the module docstring).
MAX_CANDIDATES = 1024
_CODE_STEP = 2.0 ** -11
# Below every code (> 0.5), above the 0 of the other classes' columns and of invalid candidates.
_SCORE_THRESHOLD = 0.25


def npu_batch_nms_keep(boxes: Tensor, scores: Tensor, labels: Tensor, valid: Tensor, iou_threshold: float,
                       num_classes: int) -> Tuple[Tensor, Tensor]:
    """The NMS step (see ``NmsKeep`` in ``ssd_post_processing.py``) through ``torch_npu.npu_batch_nms``.

    Args:
        boxes: Tensor[B, N, 4] xyxy pixels, sorted by descending score per image (N <= 1024).
        scores: Tensor[B, N] (unused: the order is what matters).
        labels: LongTensor[B, N] in [0, num_classes).
        valid: BoolTensor[B, N].
        iou_threshold: suppress overlaps strictly above this IoU.
        num_classes: C.

    Returns:
        keep: BoolTensor[B, N]; converged: BoolTensor[B], all True (the op's NMS is exact greedy NMS).
    """
    import torch_npu

    num_images, num = labels.shape
    if num > MAX_CANDIDATES:
        raise ValueError(f'npu_batch_nms_keep: at most {MAX_CANDIDATES} candidates per image, got {num}')
    rank = torch.arange(num, device=labels.device)
    codes = torch.where(valid, 1 - (rank + 1) * _CODE_STEP, 0.0).half()
    class_codes = torch.zeros(num_images, num, num_classes, dtype=torch.float16, device=labels.device)
    class_codes.scatter_(2, labels[..., None], codes[..., None])
    _, kept_codes, _, num_kept = torch_npu.npu_batch_nms(
        boxes[:, :, None].half(), class_codes, _SCORE_THRESHOLD, iou_threshold, num, num)
    kept_rank = ((1 - kept_codes.float()) / _CODE_STEP).round().long() - 1
    # Output rows past num_kept are padding: they land in an extra column, dropped.
    filled = rank < num_kept[:, None].long()
    kept_rank = torch.where(filled, kept_rank.clamp(0, num - 1), num)
    keep = torch.zeros(num_images, num + 1, dtype=torch.bool, device=labels.device)
    keep.scatter_(1, kept_rank, True)
    return keep[:, :num] & valid, torch.ones_like(valid[:, 0])


def npu_nms_step(device: torch.device, nms_candidates: int, num_classes: int) -> Optional[NmsKeep]:
    """:func:`npu_batch_nms_keep` for ``num_classes`` where ``device`` is an NPU whose torch_npu has
    ``npu_batch_nms`` and at most ``nms_candidates`` (<= 0: all) fit its codes, else None (the
    pure-torch NMS)."""
    torch_npu = sys.modules.get('torch_npu')  # imported by `import torch` where it is installed
    fits = 0 < nms_candidates <= MAX_CANDIDATES
    if device.type != 'npu' or not hasattr(torch_npu, 'npu_batch_nms') or not fits:
        return None
    return partial(npu_batch_nms_keep, num_classes=num_classes)
