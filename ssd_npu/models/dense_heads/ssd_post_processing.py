"""SSD's test-time post-processing for a whole batch, with static shapes.

mmdetection's rules (``SSDHead.predict_by_feat``), computed for every image at
once with fixed-size tensors so that the same code runs eagerly, under
``torch.compile`` (fullgraph) and in an exported ONNX graph:

1. softmax over the classes (background last, dropped);
2. per level, the ``nms_pre`` best (anchor, class) pairs; pairs at or below
   ``score_thr`` are masked out, not removed;
3. decode, clip to the image, map to the original image (``inv_scale_factors``),
   mask boxes not larger than ``min_bbox_size``;
4. optionally each class's ``topk_per_class`` best (torchvision's rule);
5. class-aware greedy NMS over the ``nms_candidates`` best pairs, as a
   fixed-point iteration on their IoU matrix
   (:func:`~ssd_npu.models.layers.greedy_nms_keep`);
6. the ``max_per_img`` best survivors, padded, with a count per image.

Greedy NMS decides a box from higher-scored boxes only, so NMS over the best
``T`` candidates gives the exact first survivors whenever ``max_per_img`` of
them survive (or every valid candidate is among the ``T``). Each image
reports whether that held and whether the fixed point was reached;
:meth:`SSDHead.final_detections` recomputes the rare images where it did not
with every candidate and torchvision's NMS kernel, so the results of
:meth:`SSDHead.detections` (the one inference path of the head and of the detector)
equal mmdetection's.

The NMS step is pluggable (``nms_keep``): the exported ONNX graph runs ONNX's
``NonMaxSuppression`` there on every candidate (``ssd_npu/deployment/onnx_nms.py``).
"""
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.models.layers import greedy_nms_keep


class BatchDetections(NamedTuple):
    """Detections of a batch, padded to ``K = max_per_img`` per image.

    bboxes: Tensor[B, K, 4] xyxy pixels (original image with ``inv_scale_factors``, else input).
    scores: Tensor[B, K], descending per image; rows past ``num_dets`` are 0.
    labels: LongTensor[B, K], 0-based; rows past ``num_dets`` are 0.
    num_dets: LongTensor[B].
    exact: BoolTensor[B]: the rows equal greedy NMS over all candidates (see the module docstring).
    """

    bboxes: Tensor
    scores: Tensor
    labels: Tensor
    num_dets: Tensor
    exact: Tensor


# (boxes [B, N, 4] xyxy sorted by descending score, scores [B, N], labels [B, N], valid [B, N],
#  iou_threshold) -> (keep BoolTensor[B, N], converged BoolTensor[B]): the NMS step, pluggable so
# that an exported graph can run a runtime's own NMS op on the same candidates.
NmsKeep = Callable[[Tensor, Tensor, Tensor, Tensor, float], Tuple[Tensor, Tensor]]


def batched_ssd_detections(cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                           anchors: Tensor, bbox_coder, num_classes: int, img_shapes: Tensor,
                           inv_scale_factors: Optional[Tensor], *, score_thr: float, nms_pre: int,
                           iou_threshold: float, max_per_img: int, min_bbox_size: float = -1,
                           topk_per_class: int = -1, nms_candidates: int = -1,
                           with_nms: bool = True, nms_iterations: int = 12,
                           nms_keep: Optional[NmsKeep] = None) -> BatchDetections:
    """Detections of every image of a batch from the head's raw outputs, padded (static shapes).

    Args:
        cls_scores: per level, Tensor[B, A_l * (C + 1), H_l, W_l] logits (background last).
        bbox_preds: per level, Tensor[B, A_l * 4, H_l, W_l] deltas.
        anchors: Tensor[sum_l H_l * W_l * A_l, 4] xyxy input pixels: every level's anchors,
            concatenated (:meth:`SSDHead.flat_anchors`).
        bbox_coder: decodes (anchors, deltas) -> boxes.
        num_classes: C, object classes (background excluded).
        img_shapes: Tensor[B, 2] (h, w) of each input image: boxes are clipped to it.
        inv_scale_factors: Tensor[B, 2] (1 / w_scale, 1 / h_scale) to map boxes to the
            original image (multiplied by), or None to stay in input pixels.
        score_thr, nms_pre, iou_threshold, max_per_img, min_bbox_size, topk_per_class:
            ``test_cfg`` values (see :class:`SSDHead`).
        nms_candidates: NMS looks at this many best candidates per image (-1 or
            more than there are: all of them).
        with_nms: False keeps every candidate (mmdetection's ``with_nms=False``).
        nms_iterations: rounds of :func:`~ssd_npu.models.layers.greedy_nms_keep`.
        nms_keep: the NMS step (see :data:`NmsKeep`); None: ``greedy_nms_keep``.
    """
    num_images = cls_scores[0].size(0)
    mlvl_scores, mlvl_indices, mlvl_boxes = [], [], []
    level_start = 0
    for cls_score, bbox_pred in zip(cls_scores, bbox_preds):
        # Softmax over the class axis of the [B, A, C + 1, H * W] layout the conv writes: no transposed
        # copy of the logits. Background (the last class) scores -1 instead of being sliced off.
        height, width = cls_score.shape[-2:]
        scores = cls_score.float().view(num_images, -1, num_classes + 1, height * width).softmax(2)
        scores[:, :, num_classes] = -1
        per_anchor = num_classes + 1
        level_size = scores.size(1) * height * width
        level_anchors = anchors[level_start:level_start + level_size]
        level_start += level_size
        num_pairs = scores[0].numel() // per_anchor * num_classes
        k = num_pairs if nms_pre <= 0 else min(nms_pre, num_pairs)
        top_scores, top_idx = scores.view(num_images, -1).topk(k, dim=1)
        # Flat index -> (anchor a, class c, location hw); mmdetection's anchor order is (hw, a).
        location = top_idx % (height * width)
        label = top_idx // (height * width) % per_anchor
        anchor_idx = location * scores.size(1) + top_idx // (per_anchor * height * width)
        deltas = bbox_pred.permute(0, 2, 3, 1).reshape(num_images, -1, 4).float()
        mlvl_boxes.append(bbox_coder.decode(level_anchors[anchor_idx],
                                            deltas.gather(1, anchor_idx[..., None].expand(-1, -1, 4)),
                                            max_shape=img_shapes))
        mlvl_scores.append(top_scores)
        mlvl_indices.append(label)
    boxes = torch.cat(mlvl_boxes, dim=1)
    scores = torch.cat(mlvl_scores, dim=1)
    labels = torch.cat(mlvl_indices, dim=1)
    valid = scores > score_thr
    if inv_scale_factors is not None:
        boxes = boxes * inv_scale_factors.to(boxes).repeat(1, 2)[:, None]
    if min_bbox_size >= 0:
        valid &= ((boxes[..., 2:] - boxes[..., :2]) > min_bbox_size).all(dim=-1)
    if topk_per_class > 0:
        valid &= _rank_within_label(torch.where(valid, scores, -1), labels) < topk_per_class

    # Best candidates first; masked ones sort last with score -1.
    total = scores.size(1)
    num_candidates = total if nms_candidates <= 0 else min(nms_candidates, total)
    scores, order = torch.where(valid, scores, -1).topk(num_candidates, dim=1)
    boxes = boxes.gather(1, order[..., None].expand(-1, -1, 4))
    labels = labels.gather(1, order)
    valid = valid.gather(1, order)
    num_valid = valid.sum(dim=1)
    if with_nms and nms_keep is not None:
        keep, converged = nms_keep(boxes, scores, labels, valid, iou_threshold)
    elif with_nms:
        keep, converged = greedy_nms_keep(boxes, labels, valid, iou_threshold, nms_iterations)
    else:
        keep, converged = valid, torch.ones_like(num_valid, dtype=torch.bool)
    num_kept = keep.sum(dim=1)
    out_size = min(max_per_img, num_candidates) if with_nms else num_candidates
    # Kept candidates are already in score order: their first out_size are the result.
    out_scores, out_index = torch.where(keep, scores, -1).topk(out_size, dim=1)
    num_dets = num_kept.clamp(max=out_size)
    filled = torch.arange(out_size, device=scores.device) < num_dets[:, None]
    # Every valid candidate took part if the window holds all pairs or some invalid ones.
    all_seen = (num_valid < num_candidates) | (num_candidates == total)
    # Or the window already holds max_per_img survivors, which later candidates cannot change.
    exact = converged & (all_seen | ((num_kept >= max_per_img) if with_nms else False))
    return BatchDetections(
        bboxes=torch.where(filled[..., None], boxes.gather(1, out_index[..., None].expand(-1, -1, 4)), 0),
        scores=torch.where(filled, out_scores, 0),
        labels=torch.where(filled, labels.gather(1, out_index), 0),
        num_dets=num_dets,
        exact=exact)


def _rank_within_label(scores: Tensor, labels: Tensor) -> Tensor:
    """LongTensor[B, N]: each candidate's rank by score among candidates of its label (0 = best)."""
    num = scores.size(1)
    positions = torch.arange(num, device=scores.device)
    by_score = scores.argsort(dim=1, descending=True)
    # Sorted by (label, rank by score): a unique key, so any sort keeps each label's candidates in
    # descending score order (no stable sort or searchsorted: both have no ONNX export).
    order = by_score.gather(1, (labels.gather(1, by_score) * num + positions).argsort(dim=1))
    sorted_labels = labels.gather(1, order)
    # Each label's group in that order: its index, size and first position.
    starts_group = torch.cat([torch.ones_like(sorted_labels[:, :1], dtype=torch.bool),
                              sorted_labels[:, 1:] != sorted_labels[:, :-1]], dim=1)
    group = starts_group.long().cumsum(dim=1) - 1
    sizes = torch.zeros_like(group).scatter_add(1, group, torch.ones_like(group))
    rank_sorted = positions - (sizes.cumsum(dim=1) - sizes).gather(1, group)
    return torch.empty_like(rank_sorted).scatter_(1, order, rank_sorted)


def shape_tensors(batch_img_metas: Sequence[dict], rescale: bool,
                  device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
    """Tensor[B, 2] of ``img_shape`` (h, w) and, with ``rescale``, Tensor[B, 2] of
    (1 / w_scale, 1 / h_scale) from ``scale_factor``: the metainfo as :func:`batched_ssd_detections` takes it.

    Raises:
        KeyError: ``rescale`` and a meta without ``scale_factor``.
    """
    img_shapes = torch.tensor([meta['img_shape'][:2] for meta in batch_img_metas], device=device)
    if not rescale:
        return img_shapes, None
    if any('scale_factor' not in meta for meta in batch_img_metas):
        raise KeyError('SSDHead.predict(rescale=True) needs metainfo scale_factor (w_scale, h_scale)')
    # Reciprocals taken in double precision, as mmdetection multiplies by ``1 / s``: bit-equal boxes.
    inverses = [[1 / s for s in meta['scale_factor'][:2]] for meta in batch_img_metas]
    return img_shapes, torch.tensor(inverses, dtype=torch.float32, device=device)


def split_detections(dets: BatchDetections) -> List[InstanceData]:
    """Per image, the first ``num_dets`` rows of a :class:`BatchDetections` as InstanceData
    (``bboxes`` Tensor[N, 4] xyxy, ``scores`` Tensor[N], ``labels`` LongTensor[N])."""
    counts = dets.num_dets.tolist()
    return [InstanceData(bboxes=boxes[:n], scores=scores[:n], labels=labels[:n])
            for boxes, scores, labels, n in zip(dets.bboxes, dets.scores, dets.labels, counts)]
