"""IoU-threshold matching of priors to ground truth, batched over images with padded GT."""
from typing import Optional, Tuple, Union

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.models.layers import bbox_overlaps
from ssd_npu.registry import TASK_UTILS

from .assign_result import AssignResult


@TASK_UTILS.register_module()
class MaxIoUAssigner:
    """mmdetection's ``MaxIoUAssigner`` rules, for a whole batch at once with fixed shapes.

    Each prior gets, in this order (later steps overwrite earlier ones):

    1. ``-1`` (ignored);
    2. ``0`` (negative) if its best IoU with any GT is in ``[0, neg_iou_thr)``
       (or in ``[neg_iou_thr[0], neg_iou_thr[1])`` for a tuple);
    3. ``k + 1`` if its best IoU, with GT ``k``, is ``>= pos_iou_thr``;
    4. with ``match_low_quality``: every GT whose best IoU is ``>= min_pos_iou``
       claims its best prior (all priors tied at that IoU with
       ``gt_max_assign_all``), later GTs winning a shared prior, so that every
       GT is matched at least once (SSD paper, section 2.2 "Matching strategy").

    An image without GT gets all zeros. GT is given padded to a common count
    ``M`` with a validity mask; padded entries never match a prior.

    Args:
        pos_iou_thr: IoU at or above which a prior is positive.
        neg_iou_thr: IoU below which a prior is negative, or a (low, high) range.
        min_pos_iou: least IoU for a low-quality match (step 4).
        gt_max_assign_all: in step 4, give a GT every prior tied at its best IoU.
        ignore_iof_thr: priors covered by an ignored box by more than this
            fraction (IoF) are ignored; negative disables it.
        ignore_wrt_candidates: IoF relative to the prior's area (True) or to the ignored box's.
        match_low_quality: enable step 4.
    """

    def __init__(self,
                 pos_iou_thr: float,
                 neg_iou_thr: Union[float, Tuple[float, float]],
                 min_pos_iou: float = 0.,
                 gt_max_assign_all: bool = True,
                 ignore_iof_thr: float = -1,
                 ignore_wrt_candidates: bool = True,
                 match_low_quality: bool = True) -> None:
        if not isinstance(neg_iou_thr, (int, float)) and len(neg_iou_thr) != 2:
            raise ValueError(f'MaxIoUAssigner: neg_iou_thr must be a float or a (low, high) pair, '
                             f'got {neg_iou_thr!r}')
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr
        self.ignore_wrt_candidates = ignore_wrt_candidates
        self.match_low_quality = match_low_quality

    @torch.no_grad()
    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None, **kwargs) -> AssignResult:
        """mmdetection's entry point: one image, instances in, :class:`AssignResult` out.

        Args:
            pred_instances: ``priors`` (or ``bboxes``) Tensor[A, 4], xyxy pixels.
            gt_instances: ``bboxes`` Tensor[M, 4], xyxy pixels, and ``labels`` LongTensor[M].
            gt_instances_ignore: ``bboxes`` of ignored regions, or None.

        Returns:
            AssignResult with ``gt_inds`` and ``max_overlaps`` of :meth:`assign_batch`
            for this one image and ``labels`` (the matched GT's label, -1 elsewhere).
        """
        priors = pred_instances.priors if 'priors' in pred_instances else pred_instances.bboxes
        gt_bboxes = getattr(gt_instances.bboxes, 'tensor', gt_instances.bboxes).reshape(-1, 4)
        gt_labels = gt_instances.labels.reshape(-1)
        ignore_bboxes = None
        if gt_instances_ignore is not None:
            ignore_bboxes = getattr(gt_instances_ignore.bboxes, 'tensor', gt_instances_ignore.bboxes)[None]
        # Every box counts, degenerate ones included, as in mmdetection's per-image assigner.
        gt_valid = gt_bboxes.new_ones((1, len(gt_bboxes)), dtype=torch.bool)
        gt_inds, max_overlaps = self.assign_batch(priors, gt_bboxes[None], gt_valid, ignore_bboxes)
        gt_inds, max_overlaps = gt_inds[0], max_overlaps[0]
        labels = torch.full_like(gt_inds, -1)
        positive = gt_inds > 0
        labels[positive] = gt_labels[gt_inds[positive] - 1]
        return AssignResult(len(gt_bboxes), gt_inds, max_overlaps, labels)

    @torch.no_grad()
    def assign_batch(self, priors: Tensor, gt_bboxes: Tensor, gt_valid: Tensor,
               ignore_bboxes: Optional[Tensor] = None,
               ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Match priors to GT for every image of a batch.

        Args:
            priors: Tensor[A, 4], xyxy pixels (shared by all images).
            gt_bboxes: Tensor[B, M, 4], xyxy pixels, padded.
            gt_valid: BoolTensor[B, M], False for padding.
            ignore_bboxes: Tensor[B, K, 4] of ignored regions, padded; used
                only when ``ignore_iof_thr > 0``.
            ignore_valid: BoolTensor[B, K], False for padding.

        Returns:
            assigned_gt_inds: LongTensor[B, A]: -1 ignored, 0 negative, k + 1 matched to GT k.
            max_overlaps: Tensor[B, A] float32: each prior's best IoU with a
                valid GT (-1 where ignore regions removed it; 0 without GT).
        """
        num_images, num_gts = gt_bboxes.shape[:2]
        num_priors = priors.size(0)
        if num_gts == 0 or num_priors == 0:
            zeros = priors.new_zeros((num_images, num_priors), dtype=torch.float32)
            return zeros.long(), zeros
        # overlaps[b, k, a]: IoU of GT k with prior a; -1 marks padding so that it never wins a max.
        overlaps = bbox_overlaps(gt_bboxes.float(), priors.float()[None])
        overlaps.masked_fill_(~gt_valid[..., None], -1)
        if self.ignore_iof_thr > 0 and ignore_bboxes is not None and ignore_bboxes.size(1) > 0:
            ignored = self._ignored_priors(priors, ignore_bboxes, ignore_valid)
            overlaps.masked_fill_(ignored[:, None], -1)

        max_overlaps, argmax_gt = overlaps.max(dim=1)          # [B, A]: best GT per prior
        gt_max_overlaps, gt_argmax = overlaps.max(dim=2)       # [B, M]: best prior per GT

        if isinstance(self.neg_iou_thr, (int, float)):
            negative = (max_overlaps >= 0) & (max_overlaps < self.neg_iou_thr)
        else:
            negative = (max_overlaps >= self.neg_iou_thr[0]) & (max_overlaps < self.neg_iou_thr[1])
        assigned = torch.where(negative, 0, -1)
        assigned = torch.where(max_overlaps >= self.pos_iou_thr, argmax_gt + 1, assigned)

        if self.match_low_quality:
            claims = gt_valid & (gt_max_overlaps >= self.min_pos_iou)               # [B, M]
            # mmdetection loops over GT in order, so the highest-numbered claimant keeps a prior.
            gt_numbers = torch.arange(1, num_gts + 1, device=priors.device, dtype=torch.int32)
            if self.gt_max_assign_all:
                claimed = (overlaps == gt_max_overlaps[..., None]) & claims[..., None]  # [B, M, A]
                low_quality = torch.where(claimed, gt_numbers[:, None], 0).amax(dim=1)  # [B, A]
            else:
                # Each claiming GT takes its one best prior: a scatter of B x M numbers
                # instead of another pass over the B x M x A overlaps.
                low_quality = torch.zeros((num_images, num_priors), dtype=torch.int32, device=priors.device)
                low_quality.scatter_reduce_(1, gt_argmax, torch.where(claims, gt_numbers, 0), reduce='amax')
            assigned = torch.where(low_quality > 0, low_quality.long(), assigned)

        has_gt = gt_valid.any(dim=1, keepdim=True)
        assigned = torch.where(has_gt, assigned, 0)
        max_overlaps = torch.where(has_gt, max_overlaps, 0)
        return assigned, max_overlaps

    def _ignored_priors(self, priors: Tensor, ignore_bboxes: Tensor,
                        ignore_valid: Optional[Tensor]) -> Tensor:
        """BoolTensor[B, A]: priors covered by an ignored region by more than ``ignore_iof_thr``."""
        if ignore_valid is None:
            ignore_valid = ignore_bboxes.new_ones(ignore_bboxes.shape[:2], dtype=torch.bool)
        if self.ignore_wrt_candidates:
            iof = bbox_overlaps(priors.float()[None], ignore_bboxes.float(), mode='iof')   # [B, A, K]
            iof = iof.masked_fill(~ignore_valid[:, None, :], 0)
            return iof.amax(dim=2) > self.ignore_iof_thr
        iof = bbox_overlaps(ignore_bboxes.float(), priors.float()[None], mode='iof')       # [B, K, A]
        iof = iof.masked_fill(~ignore_valid[..., None], 0)
        return iof.amax(dim=1) > self.ignore_iof_thr
