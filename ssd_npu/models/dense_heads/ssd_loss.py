"""SSD's training loss (Liu et al. 2016, eq. 1) with mmdetection's normalisation, for a whole batch at once.

Ground truth comes padded to ``M`` boxes per image
(:class:`~ssd_npu.structures.PaddedGroundTruth`); assignment, target encoding and
hard-negative mining are masks and sorts over [B, A] tensors (A anchors), with no
loop over images and no data-dependent shape. So the loss compiles into one
static graph with the network (graph-mode devices, ``torch.compile``, CUDA graphs)
and never waits on the host. ``ssd_npu.testing.ssd_head_oracle`` holds the same
loss written per image, as mmdetection does, and the tests compare the two.

The loss is computed in two steps, because the second needs a collective:

1. :meth:`SSDLoss.sums` (inside the compiled loss graph): per image, the loss sums;
2. :func:`normalise_losses` (eager): division by mmdetection's ``avg_factor``.
"""
import contextlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from torch import Tensor

from ssd_npu.models.task_modules import PseudoSampler
from ssd_npu.registry import TASK_UTILS

# mmdetection's ``weight_reduce_loss`` adds this to ``avg_factor`` for the regression loss.
_AVG_FACTOR_EPS = torch.finfo(torch.float32).eps


@torch.compiler.assume_constant_result
def _has_autocast(device_type: str) -> bool:
    """Whether ``device_type`` has autocast at all; a constant to TorchDynamo, which before torch 2.8
    cannot trace ``torch._C._is_autocast_available`` (a graph break in the loss graph)."""
    return torch.amp.is_autocast_available(device_type)


class SSDLoss:
    """SSD's loss settings (``train_cfg``, mmdetection's SSD keys) and the batched loss computation.

    Args:
        train_cfg: assigner (MaxIoUAssigner config), sampler (PseudoSampler only),
            neg_pos_ratio (3), smoothl1_beta (1.0), pos_weight (-1: weight 1),
            allowed_border (-1 only: every anchor takes part); ``gt_pad_size`` is read by
            :class:`~ssd_npu.structures.GroundTruthPadding`, not here.
        num_classes: object classes, background excluded (background is class ``num_classes``).
        bbox_coder: the head's :class:`DeltaXYWHBBoxCoder` (targets are its deltas).
        reg_decoded_bbox: regress decoded boxes (xyxy pixels) instead of deltas.

    Raises:
        ValueError: ``train_cfg`` has no assigner, a sampler other than PseudoSampler, or
            ``allowed_border >= 0`` (read once: a bad config fails at construction, not mid-training).
    """

    def __init__(self, train_cfg: dict, num_classes: int, bbox_coder, reg_decoded_bbox: bool = False) -> None:
        if 'assigner' not in train_cfg:
            raise ValueError(f'SSDHead: train_cfg needs an assigner (e.g. dict(type="MaxIoUAssigner", '
                             f'pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.)), got {dict(train_cfg)}')
        sampler_cfg = train_cfg.get('sampler')
        if sampler_cfg is not None and not isinstance(TASK_UTILS.build(sampler_cfg), PseudoSampler):
            raise ValueError(f'SSDHead: train_cfg.sampler must be PseudoSampler (SSD mines hard negatives '
                             f'instead of sampling), got {sampler_cfg}')
        if train_cfg.get('allowed_border', -1) >= 0:
            raise ValueError('SSDHead: train_cfg.allowed_border must be -1 (SSD trains on every anchor, '
                             f"including those crossing the border), got {train_cfg['allowed_border']}")
        self.assigner = TASK_UTILS.build(train_cfg['assigner'])
        self.num_classes = num_classes
        self.bbox_coder = bbox_coder
        self.reg_decoded_bbox = reg_decoded_bbox
        self.neg_pos_ratio: float = train_cfg.get('neg_pos_ratio', 3)
        self.smoothl1_beta: float = train_cfg.get('smoothl1_beta', 1.0)
        self.pos_weight: float = train_cfg.get('pos_weight', -1)

    @property
    def uses_ignored_regions(self) -> bool:
        """Whether ignored regions take part in assignment (the assigner's ``ignore_iof_thr > 0``)."""
        return self.assigner.ignore_iof_thr > 0

    def sums(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], anchors: Tensor,
             gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor, ignore_bboxes: Optional[Tensor] = None,
             ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Per-image sums of SSD's loss, before normalisation (what the compiled loss graph computes).

        For image ``i`` with ``num_pos_i`` positive anchors (assigned by the assigner):

        - ``cls_sums[i]`` = softmax CE (weighted by ``pos_weight``) of its positives + CE of its
          ``neg_pos_ratio * num_pos_i`` hardest negatives (hard-negative mining, paper section 2.2);
        - ``bbox_sums[i]`` = SmoothL1 (``smoothl1_beta``) of its positives' deltas (decoded
          boxes with ``reg_decoded_bbox``) against the encoded matched GT boxes.

        :func:`normalise_losses` then divides both by N. Computed in float32 (also under
        AMP); tensors in, tensors out, with no host synchronisation and no data-dependent shape.

        Args:
            cls_scores: per level, Tensor[B, A_l * (num_classes + 1), H_l, W_l] logits.
            bbox_preds: per level, Tensor[B, A_l * 4, H_l, W_l] deltas.
            anchors: Tensor[A, 4] float32 xyxy pixels, every level's anchors in the head's order.
            gt_bboxes, gt_labels, gt_valid, ignore_bboxes, ignore_valid: the fields of a
                :class:`~ssd_npu.structures.PaddedGroundTruth` (Tensor[B, M, 4] xyxy pixels,
                LongTensor[B, M], BoolTensor[B, M]; ignored regions or None).

        Returns:
            cls_sums: Tensor[B]; bbox_sums: Tensor[B]; num_pos: LongTensor[B].
        """
        num_images = cls_scores[0].size(0)
        device = cls_scores[0].device
        no_autocast = (torch.autocast(device_type=device.type, enabled=False)
                       if _has_autocast(device.type) else contextlib.nullcontext())
        with no_autocast:
            # [B, A, num_classes + 1] and [B, A, 4] in the anchors' order (level, location, anchor).
            all_cls_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1, self.num_classes + 1)
                                        for s in cls_scores], dim=1).float()
            all_bbox_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                                        for b in bbox_preds], dim=1).float()
            labels, label_weights, bbox_targets, positive = self.targets(
                anchors, gt_bboxes.float(), gt_labels, gt_valid, ignore_bboxes, ignore_valid)
            cls_sums, num_pos = self._classification_sums(all_cls_scores, labels, label_weights, positive)
            bbox_sums = self._regression_sums(all_bbox_preds, anchors, bbox_targets, positive)
        return cls_sums, bbox_sums, num_pos

    @torch.no_grad()
    def targets(self, anchors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
                ignore_bboxes: Optional[Tensor] = None,
                ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Classification and regression targets of every anchor of every image.

        Args:
            anchors: Tensor[A, 4] xyxy pixels.
            gt_bboxes, gt_labels, gt_valid: padded GT, see :class:`~ssd_npu.structures.PaddedGroundTruth`.
            ignore_bboxes, ignore_valid: padded ignored regions, or None.

        Returns:
            labels: LongTensor[B, A]: GT class for positives, ``num_classes`` otherwise.
            label_weights: Tensor[B, A]: 1 (or ``pos_weight``) for positives, 1 for
                negatives, 0 for ignored anchors.
            bbox_targets: Tensor[B, A, 4]: encoded deltas (decoded xyxy boxes with
                ``reg_decoded_bbox``), meaningful for positives only.
            positive: BoolTensor[B, A].
        """
        assigned, _ = self.assigner.assign_batch(anchors, gt_bboxes, gt_valid, ignore_bboxes, ignore_valid)
        positive = assigned > 0
        gt_index = (assigned - 1).clamp(min=0)
        labels = torch.where(positive, gt_labels.gather(1, gt_index), self.num_classes)
        label_weights = torch.where(positive, self.pos_weight if self.pos_weight > 0 else 1.0,
                                    (assigned == 0).float())
        matched = gt_bboxes.gather(1, gt_index[..., None].expand(-1, -1, 4))
        # Non-positive anchors regress onto themselves so their (unused) targets stay finite.
        matched = torch.where(positive[..., None], matched, anchors)
        bbox_targets = matched if self.reg_decoded_bbox else self.bbox_coder.encode(anchors, matched)
        return labels, label_weights, bbox_targets, positive

    def _classification_sums(self, cls_scores: Tensor, labels: Tensor, label_weights: Tensor,
                             positive: Tensor) -> Tuple[Tensor, Tensor]:
        """Per image, CE of the positives + CE of the hardest negatives, and the positive count.

        Args:
            cls_scores: Tensor[B, A, num_classes + 1] float32 logits.
            labels, label_weights, positive: [B, A], from :meth:`targets`.

        Returns:
            cls_sums: Tensor[B]; num_pos: LongTensor[B].
        """
        num_images, num_anchors = labels.shape
        cls_loss = F.cross_entropy(cls_scores.reshape(-1, self.num_classes + 1), labels.reshape(-1),
                                   reduction='none').view(num_images, num_anchors) * label_weights
        num_pos = positive.sum(dim=1)
        pos_loss = (cls_loss * positive).sum(dim=1)
        # Hard-negative mining: sorting every anchor's loss and masking by rank keeps the shapes fixed
        # (no topk of a data-dependent k); only the sum of the top values matters, so ties do not
        # change the result.
        neg_loss = torch.where(labels == self.num_classes, cls_loss, 0)
        sorted_neg_loss = neg_loss.sort(dim=1, descending=True).values
        rank = torch.arange(num_anchors, device=labels.device)
        hard = rank < (self.neg_pos_ratio * num_pos)[:, None]
        return pos_loss + (sorted_neg_loss * hard).sum(dim=1), num_pos

    def _regression_sums(self, bbox_preds: Tensor, anchors: Tensor, bbox_targets: Tensor,
                         positive: Tensor) -> Tensor:
        """Per image, SmoothL1 of the positives (Tensor[B]) from Tensor[B, A, 4] predictions and targets."""
        if self.reg_decoded_bbox:
            bbox_preds = self.bbox_coder.decode(anchors, bbox_preds)
        beta = self.smoothl1_beta
        diff = (bbox_preds - bbox_targets).abs()
        smooth_l1 = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
        return (smooth_l1 * positive[..., None]).sum(dim=(1, 2))


def normalise_losses(cls_sums: Tensor, bbox_sums: Tensor, num_pos: Tensor) -> Dict[str, List[Tensor]]:
    """SSD's losses from the per-image sums of :meth:`SSDLoss.sums`: each divided by N.

    N = sum over images of ``max(num_pos_i, 1)`` (mmdetection's ``SamplingResult`` counts
    at least one positive per image); the regression loss divides by ``N + eps`` as
    mmdetection's ``weight_reduce_loss`` does. Under DDP, N is the mean of that count over
    the ranks (a collective: this step runs outside the compiled graph).

    Args:
        cls_sums, bbox_sums: Tensor[B]; num_pos: LongTensor[B].

    Returns:
        dict(loss_cls=[B scalars], loss_bbox=[B scalars]), float32, as mmdetection returns
        them (mmengine's ``parse_losses`` sums the lists).
    """
    avg_factor = num_pos.clamp(min=1).sum().float()
    # DDP averages the ranks' gradients; normalising by the mean count makes the step equal
    # one process's step on the whole distributed batch.
    all_reduce(avg_factor, op='mean')
    return dict(loss_cls=list((cls_sums / avg_factor).unbind()),
                loss_bbox=list((bbox_sums / (avg_factor + _AVG_FACTOR_EPS)).unbind()))
