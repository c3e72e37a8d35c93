"""Test oracles for SSDHead, written plainly one image at a time as mmdetection 3.x does.

- :func:`ssd_loss_reference`: ``SSDHead.loss_by_feat``'s algorithm (index lists, ``topk``);
- :func:`assign_per_image`: ``MaxIoUAssigner.assign``;
- :func:`detections_reference`: ``predict_by_feat``'s post-processing (per level
  threshold + top-k, decode, rescale, class-aware NMS with torchvision's kernel).

The tests assert that the batched, fixed-shape code gives the same numbers and
``tools/benchmarks/benchmark_head.py`` times both. Training never uses them.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torchvision
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.models.layers import bbox_overlaps
from ssd_npu.models.task_modules import MaxIoUAssigner


def assign_per_image(assigner: MaxIoUAssigner, priors: Tensor, gt_bboxes: Tensor,
                     gt_bboxes_ignore: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """mmdetection's ``MaxIoUAssigner.assign`` for one image, step by step.

    Args:
        assigner: supplies the thresholds and flags.
        priors: Tensor[A, 4], xyxy pixels.
        gt_bboxes: Tensor[M, 4], xyxy pixels (no padding).
        gt_bboxes_ignore: Tensor[K, 4] of ignored regions, or None.

    Returns:
        gt_inds: LongTensor[A]: -1 ignored, 0 negative, k + 1 matched to GT k.
        max_overlaps: Tensor[A]: each prior's best IoU.
    """
    num_gts, num_priors = gt_bboxes.size(0), priors.size(0)
    if num_gts == 0:
        return priors.new_zeros(num_priors, dtype=torch.long), priors.new_zeros(num_priors)
    overlaps = bbox_overlaps(gt_bboxes.float(), priors.float())
    if assigner.ignore_iof_thr > 0 and gt_bboxes_ignore is not None and gt_bboxes_ignore.numel() > 0:
        if assigner.ignore_wrt_candidates:
            ignore_max = bbox_overlaps(priors.float(), gt_bboxes_ignore.float(), mode='iof').max(dim=1).values
        else:
            ignore_max = bbox_overlaps(gt_bboxes_ignore.float(), priors.float(), mode='iof').max(dim=0).values
        overlaps[:, ignore_max > assigner.ignore_iof_thr] = -1

    gt_inds = torch.full((num_priors,), -1, dtype=torch.long, device=priors.device)
    max_overlaps, argmax_overlaps = overlaps.max(dim=0)
    gt_max_overlaps, gt_argmax_overlaps = overlaps.max(dim=1)
    if isinstance(assigner.neg_iou_thr, (int, float)):
        gt_inds[(max_overlaps >= 0) & (max_overlaps < assigner.neg_iou_thr)] = 0
    else:
        low, high = assigner.neg_iou_thr
        gt_inds[(max_overlaps >= low) & (max_overlaps < high)] = 0
    positive = max_overlaps >= assigner.pos_iou_thr
    gt_inds[positive] = argmax_overlaps[positive] + 1
    if assigner.match_low_quality:
        for i in range(num_gts):
            if gt_max_overlaps[i] >= assigner.min_pos_iou:
                if assigner.gt_max_assign_all:
                    gt_inds[overlaps[i] == gt_max_overlaps[i]] = i + 1
                else:
                    gt_inds[gt_argmax_overlaps[i]] = i + 1
    return gt_inds, max_overlaps


def ssd_loss_reference(head, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                       batch_gt_instances: Sequence[InstanceData],
                       batch_gt_instances_ignore: Optional[Sequence[InstanceData]] = None
                       ) -> Dict[str, Tensor]:
    """SSD loss with a Python loop over images, index lists and ``topk`` (mmdetection's way).

    Args:
        head: an :class:`SSDHead`; its anchors, coder, assigner, ``train_cfg``
            and ``num_classes`` are used, not its batched loss code.
        cls_scores, bbox_preds: the head's ``forward`` outputs.
        batch_gt_instances: per image, ``bboxes`` Tensor[N_i, 4] xyxy pixels and ``labels``.
        batch_gt_instances_ignore: per image, ignored regions, or None.

    Returns:
        dict(loss_cls, loss_bbox): scalars, each the sum over images as mmengine sums mmdetection's lists.
    """
    cfg = head.train_cfg
    num_images = cls_scores[0].size(0)
    num_classes = head.num_classes
    device = cls_scores[0].device
    anchors = torch.cat(head.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores], device=device))
    all_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1, num_classes + 1)
                            for s in cls_scores], dim=1).float()
    all_deltas = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                            for b in bbox_preds], dim=1).float()

    targets = []
    avg_factor = 0
    for i in range(num_images):
        gt = batch_gt_instances[i]
        ignore = batch_gt_instances_ignore[i].bboxes if batch_gt_instances_ignore is not None else None
        gt_bboxes = gt.bboxes.float().to(device)
        gt_inds, _ = assign_per_image(head.assigner, anchors, gt_bboxes, ignore)
        pos_inds = torch.nonzero(gt_inds > 0).reshape(-1)
        neg_inds = torch.nonzero(gt_inds == 0).reshape(-1)
        labels = torch.full((anchors.size(0),), num_classes, dtype=torch.long, device=device)
        label_weights = anchors.new_zeros(anchors.size(0))
        bbox_targets = torch.zeros_like(anchors)
        bbox_weights = torch.zeros_like(anchors)
        if len(pos_inds) > 0:
            pos_gt = gt_bboxes[gt_inds[pos_inds] - 1]
            bbox_targets[pos_inds] = (pos_gt if head.reg_decoded_bbox
                                      else head.bbox_coder.encode(anchors[pos_inds], pos_gt))
            bbox_weights[pos_inds] = 1.0
            labels[pos_inds] = gt.labels.to(device)[gt_inds[pos_inds] - 1]
            label_weights[pos_inds] = 1.0 if cfg.get('pos_weight', -1) <= 0 else cfg['pos_weight']
        label_weights[neg_inds] = 1.0
        targets.append((labels, label_weights, bbox_targets, bbox_weights))
        avg_factor += max(len(pos_inds), 1)

    losses_cls, losses_bbox = [], []
    for i, (labels, label_weights, bbox_targets, bbox_weights) in enumerate(targets):
        loss_cls_all = F.cross_entropy(all_scores[i], labels, reduction='none') * label_weights
        pos_inds = ((labels >= 0) & (labels < num_classes)).nonzero().reshape(-1)
        neg_inds = (labels == num_classes).nonzero().reshape(-1)
        num_neg = min(cfg.get('neg_pos_ratio', 3) * pos_inds.size(0), neg_inds.size(0))
        topk_neg, _ = loss_cls_all[neg_inds].topk(num_neg)
        losses_cls.append((loss_cls_all[pos_inds].sum() + topk_neg.sum()) / avg_factor)

        pred = head.bbox_coder.decode(anchors, all_deltas[i]) if head.reg_decoded_bbox else all_deltas[i]
        beta = cfg.get('smoothl1_beta', 1.0)
        diff = (pred - bbox_targets).abs()
        smooth_l1 = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
        losses_bbox.append((smooth_l1 * bbox_weights).sum() / (avg_factor + torch.finfo(torch.float32).eps))
    return dict(loss_cls=sum(losses_cls), loss_bbox=sum(losses_bbox))


def detections_reference(head, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                         img_metas: Sequence[dict], rescale: bool) -> list:
    """mmdetection's per-image post-processing; per image ``(bboxes, scores, labels)`` by decreasing score."""
    cfg = head.test_cfg
    mlvl_anchors = head.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores],
                                                    device=cls_scores[0].device)
    results = []
    for i, meta in enumerate(img_metas):
        mlvl_bboxes, mlvl_scores, mlvl_labels = [], [], []
        for cls_score, bbox_pred, anchors in zip(cls_scores, bbox_preds, mlvl_anchors):
            logits = cls_score[i].permute(1, 2, 0).reshape(-1, head.cls_out_channels).float()
            scores = logits.softmax(-1)[:, :-1]
            deltas = bbox_pred[i].permute(1, 2, 0).reshape(-1, 4).float()
            flat = scores.reshape(-1)
            idx = (flat > cfg.get('score_thr', 0)).nonzero().squeeze(1)
            top = flat[idx]
            if 0 < cfg.get('nms_pre', -1) < top.numel():
                top, order = top.topk(cfg['nms_pre'])
                idx = idx[order]
            anchor_idx = idx // head.num_classes
            mlvl_bboxes.append(head.bbox_coder.decode(anchors[anchor_idx], deltas[anchor_idx],
                                                      max_shape=meta['img_shape']))
            mlvl_scores.append(top)
            mlvl_labels.append(idx % head.num_classes)
        bboxes, scores, labels = torch.cat(mlvl_bboxes), torch.cat(mlvl_scores), torch.cat(mlvl_labels)
        if rescale:
            bboxes = bboxes * bboxes.new_tensor([1 / s for s in meta['scale_factor']]).repeat(2)
        if cfg.get('min_bbox_size', -1) >= 0:
            large = ((bboxes[:, 2:] - bboxes[:, :2]) > cfg['min_bbox_size']).all(dim=1)
            bboxes, scores, labels = bboxes[large], scores[large], labels[large]
        keep = torchvision.ops.batched_nms(bboxes, scores, labels, cfg['nms']['iou_threshold'])
        keep = keep[:cfg.get('max_per_img', 200)]
        results.append((bboxes[keep], scores[keep], labels[keep]))
    return results
