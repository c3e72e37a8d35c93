"""SSD's prediction head, its training loss and its post-processing (mmdetection 3.x ``SSDHead``).

The loss is computed for the whole batch with fixed shapes: ground truth is
padded to ``M`` boxes per image (:class:`~ssd_npu.structures.PaddedGroundTruth`),
and assignment, target encoding and hard-negative mining are masks and sorts
over [B, num_anchors] tensors, with no loop over images and no data-dependent
shapes. Post-processing is batched the same way (``ssd_post_processing.py``).
This keeps graph-compiling devices (Ascend graph mode, ``torch.compile``, CUDA
graphs) from recompiling and GPUs from waiting on the host. The tests hold
the same loss written per image as an oracle.
"""
import contextlib
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.dist import all_reduce
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.models.layers import batched_nms
from ssd_npu.models.task_modules import PseudoSampler
from ssd_npu.registry import MODELS, TASK_UTILS
from ssd_npu.structures import DetDataSample, GroundTruthPadding, PaddedGroundTruth

from .npu_batch_nms import npu_nms_step
from .ssd_post_processing import BatchDetections, NmsKeep, batched_ssd_detections

# i -> (cls_scores, bbox_preds) of image i alone: the per-level head outputs of a batch of 1.
ImageOutputs = Callable[[int], Tuple[List[Tensor], List[Tensor]]]

# Constructor defaults (mmdetection's, except the anchor range: see SSDHead). Read-only: builders copy them.
SSD300_ANCHOR_GENERATOR = dict(type='SSDAnchorGenerator', scale_major=False, input_size=300,
                               strides=[8, 16, 32, 64, 100, 300],
                               ratios=([2], [2, 3], [2, 3], [2, 3], [2], [2]),
                               basesize_ratio_range=(0.15, 0.9))
UNNORMALISED_BBOX_CODER = dict(type='DeltaXYWHBBoxCoder', clip_border=True,
                               target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0])
XAVIER_INIT = dict(type='Xavier', layer='Conv2d', distribution='uniform', bias=0)

# mmdetection's ``weight_reduce_loss`` adds this to ``avg_factor`` for the regression loss.
_AVG_FACTOR_EPS = torch.finfo(torch.float32).eps


@torch.compiler.assume_constant_result
def _has_autocast(device_type: str) -> bool:
    """Whether ``device_type`` has autocast at all; a constant to TorchDynamo, which before torch 2.8
    cannot trace ``torch._C._is_autocast_available`` (a graph break in the loss region)."""
    return torch.amp.is_autocast_available(device_type)


@MODELS.register_module()
class SSDHead(BaseModule):
    """SSD head (Liu et al. 2016): per level, a 3x3 conv for class scores and one for box deltas.

    Constructor arguments, submodule names and parameter shapes are those of
    mmdetection 3.x, so its configs and checkpoints (``bbox_head.cls_convs.0.0.weight``
    ...) load unchanged. Background is the last class (index ``num_classes``).

    Architecture:
        num_classes: object classes, background excluded.
        in_channels: channels of each input feature map (one per anchor level).
        stacked_convs, feat_channels: optional conv tower before the predictors.
        use_depthwise: SSDLite head: depthwise 3x3 ConvModule, then 1x1 predictors.
        conv_cfg, norm_cfg, act_cfg: mmcv configs for the tower / depthwise convs.
        anchor_generator, bbox_coder: configs of :class:`SSDAnchorGenerator`
            and :class:`DeltaXYWHBBoxCoder`. The default anchor range is
            SSD300-COCO's (0.15, 0.9): mmdetection's default (0.1, 0.9) is
            rejected by its own generator for input 300.
        reg_decoded_bbox: regress decoded boxes (xyxy pixels) instead of deltas.

    Loss parameters (``train_cfg``, mmdetection's SSD keys):
        assigner (MaxIoUAssigner config), sampler (PseudoSampler only),
        neg_pos_ratio (3), smoothl1_beta (1.0), pos_weight (-1: weight 1),
        allowed_border (-1 only: every anchor takes part), and ours:
        gt_pad_size (100): GT boxes per image after padding (an int, a list of
        bucket sizes, or 0 for the batch's largest count), see
        :class:`~ssd_npu.structures.GroundTruthPadding`.

    Inference parameters (``test_cfg``): nms_pre, score_thr, nms=dict(type='nms',
        iou_threshold), min_bbox_size, max_per_img, and ours: topk_per_class (-1: off; k keeps
        each class's k best candidates of all levels before NMS, as torchvision's SSD does),
        nms_candidates (2 * max_per_img: the best candidates the static NMS looks at; the
        result stays exact, see ``ssd_post_processing.py``).
    """

    def __init__(self,
                 num_classes: int = 80,
                 in_channels: Sequence[int] = (512, 1024, 512, 256, 256, 256),
                 stacked_convs: int = 0,
                 feat_channels: int = 256,
                 use_depthwise: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 anchor_generator: dict = SSD300_ANCHOR_GENERATOR,
                 bbox_coder: dict = UNNORMALISED_BBOX_CODER,
                 reg_decoded_bbox: bool = False,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = XAVIER_INIT,
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.cls_out_channels = num_classes + 1  # + background, the last index
        self.in_channels = tuple(in_channels)
        self.stacked_convs = stacked_convs
        self.feat_channels = feat_channels
        self.use_depthwise = use_depthwise
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.prior_generator = TASK_UTILS.build(anchor_generator)
        self.num_base_priors = self.prior_generator.num_base_priors
        if len(self.in_channels) != self.prior_generator.num_levels:
            raise ValueError(f'SSDHead: in_channels names {len(self.in_channels)} feature maps but the '
                             f'anchor generator has {self.prior_generator.num_levels} levels '
                             f'(boxes per location {self.num_base_priors})')
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.reg_decoded_bbox = reg_decoded_bbox
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg is not None:
            self._read_train_cfg(train_cfg)
        self._init_layers()
        self._anchor_cache: Dict[tuple, Tensor] = {}

    def _read_train_cfg(self, train_cfg: dict) -> None:
        """Check ``train_cfg`` and keep its values (read once: a bad config fails here, not mid-training)."""
        if 'assigner' not in train_cfg:
            raise ValueError(f'SSDHead: train_cfg needs an assigner (e.g. dict(type="MaxIoUAssigner", '
                             f'pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.)), got {dict(train_cfg)}')
        self.assigner = TASK_UTILS.build(train_cfg['assigner'])
        sampler_cfg = train_cfg.get('sampler')
        if sampler_cfg is not None and not isinstance(TASK_UTILS.build(sampler_cfg), PseudoSampler):
            raise ValueError(f'SSDHead: train_cfg.sampler must be PseudoSampler (SSD mines hard negatives '
                             f'instead of sampling), got {sampler_cfg}')
        if train_cfg.get('allowed_border', -1) >= 0:
            raise ValueError('SSDHead: train_cfg.allowed_border must be -1 (SSD trains on every anchor, '
                             f"including those crossing the border), got {train_cfg['allowed_border']}")
        self.neg_pos_ratio = train_cfg.get('neg_pos_ratio', 3)
        self.smoothl1_beta = train_cfg.get('smoothl1_beta', 1.0)
        self.pos_weight = train_cfg.get('pos_weight', -1)
        self.gt_padding = GroundTruthPadding(train_cfg.get('gt_pad_size', 100))

    @property
    def uses_ignored_regions(self) -> bool:
        """Whether ``ignored_instances`` take part in assignment (the assigner's ``ignore_iof_thr > 0``)."""
        return self.assigner.ignore_iof_thr > 0

    def _init_layers(self) -> None:
        """Per level: ``cls_convs[i]`` / ``reg_convs[i]``, each an ``nn.Sequential`` as in mmdetection.

        Layers are created in mmdetection's order (cls and reg interleaved), so a
        given seed draws the same default initial weights.
        """
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        tower_conv = DepthwiseSeparableConvModule if self.use_depthwise else ConvModule
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        kernel = 1 if self.use_depthwise else 3
        for channels, num_base_priors in zip(self.in_channels, self.num_base_priors):
            cls_layers, reg_layers = [], []
            in_channel = channels
            for _ in range(self.stacked_convs):
                for layers in (cls_layers, reg_layers):
                    layers.append(tower_conv(in_channel, self.feat_channels, 3, padding=1, **conv_args))
                in_channel = self.feat_channels
            if self.use_depthwise:
                # SSDLite (MobileNetV2 paper, section 6.2): depthwise 3x3, then 1x1 predictors.
                for layers in (cls_layers, reg_layers):
                    layers.append(ConvModule(in_channel, in_channel, 3, padding=1, groups=in_channel,
                                             **conv_args))
            cls_layers.append(nn.Conv2d(in_channel, num_base_priors * self.cls_out_channels, kernel,
                                        padding=kernel // 2))
            reg_layers.append(nn.Conv2d(in_channel, num_base_priors * 4, kernel, padding=kernel // 2))
            self.cls_convs.append(nn.Sequential(*cls_layers))
            self.reg_convs.append(nn.Sequential(*reg_layers))

    def forward(self, x: Iterable[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Raw predictions of every level.

        Args:
            x: per level, Tensor[B, in_channels[i], H_i, W_i] (any sequence or iterable).

        Returns:
            cls_scores: per level, Tensor[B, A_i * (num_classes + 1), H_i, W_i] (logits).
            bbox_preds: per level, Tensor[B, A_i * 4, H_i, W_i] (deltas).
        """
        x = tuple(x)
        if len(x) != len(self.cls_convs):
            raise ValueError(f'SSDHead: got {len(x)} feature maps, expected {len(self.cls_convs)} '
                             f'(one per anchor level)')
        cls_scores = [conv(feat) for feat, conv in zip(x, self.cls_convs)]
        bbox_preds = [conv(feat) for feat, conv in zip(x, self.reg_convs)]
        return cls_scores, bbox_preds

    def flat_anchors(self, featmap_sizes: Sequence[Sequence[int]], device: torch.device) -> Tensor:
        """Tensor[A, 4] float32 xyxy pixels: every level's anchors, concatenated (cached per size/device).

        Inside a compiled graph they are computed, not cached: a graph folds them into
        constants anyway, and filling a cache while tracing would change the guards.
        """
        if torch.compiler.is_compiling():
            levels = self.prior_generator.grid_priors(featmap_sizes, dtype=torch.float32, device=device)
            return torch.cat(levels)
        key = (tuple(tuple(int(v) for v in size) for size in featmap_sizes), str(device))
        if key not in self._anchor_cache:
            levels = self.prior_generator.grid_priors(featmap_sizes, dtype=torch.float32, device=device)
            self._anchor_cache[key] = torch.cat(levels)
        return self._anchor_cache[key]

    # ---------------------------------------------------------------- training
    def loss(self, x: Iterable[Tensor],
             batch_data_samples: Sequence[DetDataSample]) -> Dict[str, List[Tensor]]:
        """Forward and loss (mmdetection's entry point).

        Args:
            x: feature maps (see :meth:`forward`).
            batch_data_samples: ``gt_instances.bboxes`` (xyxy pixels of the
                network input) and ``.labels`` (0-based); ``ignored_instances``
                take part only when the assigner's ``ignore_iof_thr > 0``.

        Returns:
            dict(loss_cls=[per-image scalar], loss_bbox=[per-image scalar]), float32.
        """
        cls_scores, bbox_preds = self(x)
        gt = self.gt_padding.pad_data_samples(batch_data_samples, cls_scores[0].device,
                                              with_ignored=self.uses_ignored_regions)
        return self.loss_by_padded_gt(cls_scores, bbox_preds, gt)

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Optional[Sequence[InstanceData]] = None
                     ) -> Dict[str, List[Tensor]]:
        """Loss of SSD from raw predictions and per-image ground truth (mmdetection's signature).

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            batch_gt_instances: per image, ``bboxes`` Tensor[N_i, 4] xyxy pixels, ``labels`` LongTensor[N_i].
            batch_img_metas: per image, its metainfo (unused: SSD's anchors cover the whole input).
            batch_gt_instances_ignore: per image, ``bboxes`` of ignored regions, or None.

        Returns:
            See :meth:`loss_by_padded_gt`.
        """
        device = cls_scores[0].device
        ignored = batch_gt_instances_ignore if self.uses_ignored_regions else None
        gt = self.gt_padding.pad(batch_gt_instances, device, ignored)
        return self.loss_by_padded_gt(cls_scores, bbox_preds, gt)

    def loss_by_padded_gt(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                          gt: PaddedGroundTruth) -> Dict[str, List[Tensor]]:
        """Loss of SSD (paper eq. 1) with mmdetection's normalisation, from fixed-shape ground truth.

        Per image ``i``: ``loss_cls[i]`` = (CE of its positives + CE of its
        ``neg_pos_ratio * num_pos_i`` hardest negatives) / N and ``loss_bbox[i]``
        = SmoothL1 of its positives' deltas / N, where N = sum over images of
        ``max(num_pos_i, 1)`` (mmdetection's ``SamplingResult`` counts at least
        one positive per image). Under DDP, N is the mean of that count over the
        ranks, so that N processes compute what one process would on the whole batch.

        Returns:
            dict(loss_cls=[B scalars], loss_bbox=[B scalars]), float32, as
            mmdetection returns them (mmengine's ``parse_losses`` sums the lists).
        """
        cls_sums, bbox_sums, num_pos = self.loss_sums(cls_scores, bbox_preds, *gt)
        return self.normalise_losses(cls_sums, bbox_sums, num_pos)

    def loss_sums(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], gt_bboxes: Tensor,
                  gt_labels: Tensor, gt_valid: Tensor, ignore_bboxes: Optional[Tensor] = None,
                  ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Per-image loss sums before normalisation: the static-shape part of the loss.

        Tensors in, tensors out, no host synchronisation and no data-dependent
        shape, so that it compiles into one graph with the network.

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            gt_bboxes, gt_labels, gt_valid, ignore_bboxes, ignore_valid: see
                :class:`~ssd_npu.structures.PaddedGroundTruth`.

        Returns:
            cls_sums: Tensor[B]: CE of positives + hardest negatives.
            bbox_sums: Tensor[B]: SmoothL1 of positives.
            num_pos: LongTensor[B]: positive anchors.
        """
        if self.train_cfg is None:
            raise ValueError('SSDHead: loss needs train_cfg (assigner, neg_pos_ratio, smoothl1_beta)')
        if len(cls_scores) != self.prior_generator.num_levels or len(bbox_preds) != len(cls_scores):
            raise ValueError(f'SSDHead: got {len(cls_scores)} score / {len(bbox_preds)} box maps for '
                             f'{self.prior_generator.num_levels} anchor levels')
        num_images = cls_scores[0].size(0)
        device = cls_scores[0].device
        anchors = self.flat_anchors([s.shape[-2:] for s in cls_scores], device)
        # The loss runs in float32 under AMP (where the device type has autocast at all).
        no_autocast = (torch.autocast(device_type=device.type, enabled=False)
                       if _has_autocast(device.type) else contextlib.nullcontext())
        with no_autocast:
            all_cls_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1, self.cls_out_channels)
                                        for s in cls_scores], dim=1).float()
            all_bbox_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                                        for b in bbox_preds], dim=1).float()
            labels, label_weights, bbox_targets, positive = self.get_targets(
                anchors, gt_bboxes.float(), gt_labels, gt_valid, ignore_bboxes, ignore_valid)
            return self._loss_sums(all_cls_scores, all_bbox_preds, anchors, labels, label_weights,
                                   bbox_targets, positive)

    @staticmethod
    def normalise_losses(cls_sums: Tensor, bbox_sums: Tensor, num_pos: Tensor) -> Dict[str, List[Tensor]]:
        """Divide per-image sums by mmdetection's ``avg_factor`` (see :meth:`loss_by_padded_gt`)."""
        avg_factor = num_pos.clamp(min=1).sum().float()
        # DDP averages the ranks' gradients; normalising by the mean count makes the step equal
        # one process's step on the whole distributed batch.
        all_reduce(avg_factor, op='mean')
        return dict(loss_cls=list((cls_sums / avg_factor).unbind()),
                    loss_bbox=list((bbox_sums / (avg_factor + _AVG_FACTOR_EPS)).unbind()))

    @torch.no_grad()
    def get_targets(self, anchors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
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
            bbox_targets: Tensor[B, A, 4]: encoded deltas (decoded boxes with
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

    def _loss_sums(self, cls_scores: Tensor, bbox_preds: Tensor, anchors: Tensor, labels: Tensor,
                   label_weights: Tensor, bbox_targets: Tensor,
                   positive: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Softmax CE with hard-negative mining and SmoothL1, from [B, A, ...] tensors (float32)."""
        num_images, num_anchors = labels.shape
        cls_loss = F.cross_entropy(cls_scores.reshape(-1, self.cls_out_channels), labels.reshape(-1),
                                   reduction='none').view(num_images, num_anchors) * label_weights
        num_pos = positive.sum(dim=1)
        pos_loss = (cls_loss * positive).sum(dim=1)
        # Hard-negative mining (SSD paper, section 2.2): per image, the
        # neg_pos_ratio * num_pos negatives of highest loss. Sorting every
        # anchor and masking by rank keeps the shapes fixed; only the sum of the
        # top values matters, so ties do not change the result.
        neg_loss = torch.where(labels == self.num_classes, cls_loss, 0)
        sorted_neg_loss = neg_loss.sort(dim=1, descending=True).values
        rank = torch.arange(num_anchors, device=labels.device)
        hard = rank < (self.neg_pos_ratio * num_pos)[:, None]
        cls_sums = pos_loss + (sorted_neg_loss * hard).sum(dim=1)

        if self.reg_decoded_bbox:
            bbox_preds = self.bbox_coder.decode(anchors, bbox_preds)
        beta = self.smoothl1_beta
        diff = (bbox_preds - bbox_targets).abs()
        smooth_l1 = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
        bbox_sums = (smooth_l1 * positive[..., None]).sum(dim=(1, 2))
        return cls_sums, bbox_sums, num_pos

    # --------------------------------------------------------------- inference
    def predict(self, x: Iterable[Tensor], batch_data_samples: Sequence[DetDataSample],
                rescale: bool = False) -> List[InstanceData]:
        """Forward and post-processing.

        Args:
            x: feature maps (see :meth:`forward`).
            batch_data_samples: metainfo ``img_shape`` (h, w) and, with
                ``rescale``, ``scale_factor`` (w_scale, h_scale).
            rescale: map boxes back to the original image (divide by ``scale_factor``).

        Returns:
            per image, InstanceData with ``bboxes`` Tensor[N, 4] (xyxy pixels),
            ``scores`` Tensor[N] and ``labels`` LongTensor[N] (0-based), by decreasing score.
        """
        cls_scores, bbox_preds = self(x)
        batch_img_metas = [ds.metainfo for ds in batch_data_samples]
        return self.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=batch_img_metas, rescale=rescale)

    @torch.no_grad()
    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        score_factors: Optional[Sequence[Tensor]] = None,
                        batch_img_metas: Optional[Sequence[dict]] = None, cfg: Optional[dict] = None,
                        rescale: bool = False, with_nms: bool = True) -> List[InstanceData]:
        """Detections of every image from raw predictions (mmdetection's signature; see :meth:`predict`).

        The whole batch is post-processed at once with static shapes
        (:meth:`batch_detections`); an image for which the bounded NMS could
        not be final is recomputed with every candidate (:meth:`exact_detections`),
        so the result equals mmdetection's per-image post-processing.
        """
        if score_factors is not None:
            raise ValueError('SSDHead.predict_by_feat: SSD has no score factors (centerness); pass None')
        if batch_img_metas is None:
            raise ValueError('SSDHead.predict_by_feat needs batch_img_metas (img_shape, and scale_factor '
                             'with rescale=True)')
        img_shapes, inv_scale_factors = self.shape_tensors(batch_img_metas, rescale, cls_scores[0].device)
        dets = self.batch_detections(cls_scores, bbox_preds, img_shapes, inv_scale_factors, cfg, with_nms)
        return self.final_detections(dets, self.outputs_of_image(cls_scores, bbox_preds), img_shapes,
                                     inv_scale_factors, cfg, with_nms)

    def final_detections(self, dets: BatchDetections, image_outputs: ImageOutputs, img_shapes: Tensor,
                         inv_scale_factors: Optional[Tensor] = None, cfg: Optional[dict] = None,
                         with_nms: bool = True) -> List[InstanceData]:
        """Per image, the detections of :meth:`batch_detections` where they are exact; an image whose
        bounded NMS could not be final (rare) is recomputed by :meth:`exact_detections` from
        ``image_outputs(i)``, its own head outputs (a batch of 1), asked for only then.

        Args:
            dets: the output of :meth:`batch_detections` (eager, compiled or exported).
            image_outputs: ``i -> (cls_scores, bbox_preds)`` of image ``i`` alone.
            img_shapes, inv_scale_factors, cfg, with_nms: as given to :meth:`batch_detections`.
        """
        results = self.split_detections(dets)
        for i in (~dets.exact).nonzero().flatten().tolist():
            image = slice(i, i + 1)
            inv_scale = None if inv_scale_factors is None else inv_scale_factors[image]
            results[i] = self.exact_detections(*image_outputs(i), img_shapes[image], inv_scale, cfg, with_nms)
        return results

    @staticmethod
    def outputs_of_image(cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor]) -> ImageOutputs:
        """``i -> (cls_scores, bbox_preds)`` of image ``i`` of a batch's head outputs, for
        :meth:`final_detections`."""
        return lambda i: ([s[i:i + 1] for s in cls_scores], [b[i:i + 1] for b in bbox_preds])

    def batch_detections(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], img_shapes: Tensor,
                         inv_scale_factors: Optional[Tensor] = None, cfg: Optional[dict] = None,
                         with_nms: bool = True, nms_candidates: Optional[int] = None,
                         nms_iterations: int = 12, nms_keep: Optional[NmsKeep] = None) -> BatchDetections:
        """Static-shape detections of a batch (tensors in, tensors out: compiles and exports).

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            img_shapes: Tensor[B, 2] (h, w) of the network inputs (boxes are clipped to it).
            inv_scale_factors: Tensor[B, 2] (1 / w_scale, 1 / h_scale) to map boxes to the
                original images, or None for input pixels.
            cfg: overrides ``test_cfg``.
            nms_candidates: overrides ``test_cfg.nms_candidates`` (-1: all).
            nms_keep: the NMS step (None: ``torch_npu.npu_batch_nms`` on an NPU that has it, see
                ``npu_batch_nms.py``, else the static greedy NMS of ``ssd_post_processing.py``).
        """
        cfg = self.test_cfg if cfg is None else cfg
        if cfg is None:
            raise ValueError('SSDHead: predict needs test_cfg (score_thr, nms_pre, nms, max_per_img)')
        nms_cfg = cfg['nms']
        if nms_cfg.get('type', 'nms') != 'nms':
            raise ValueError(f"SSDHead: test_cfg.nms.type must be 'nms', got {nms_cfg['type']!r}")
        max_per_img = cfg.get('max_per_img', 200)
        if nms_candidates is None:
            nms_candidates = cfg.get('nms_candidates', 2 * max_per_img)
        mlvl_anchors = self.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores],
                                                        device=cls_scores[0].device)
        return batched_ssd_detections(
            cls_scores, bbox_preds, mlvl_anchors, self.bbox_coder, self.num_classes, img_shapes,
            inv_scale_factors,
            score_thr=cfg.get('score_thr', 0), nms_pre=cfg.get('nms_pre', -1),
            iou_threshold=nms_cfg['iou_threshold'], max_per_img=max_per_img,
            min_bbox_size=cfg.get('min_bbox_size', -1), topk_per_class=cfg.get('topk_per_class', -1),
            nms_candidates=nms_candidates, with_nms=with_nms, nms_iterations=nms_iterations,
            nms_keep=nms_keep or npu_nms_step(cls_scores[0].device, nms_candidates, self.num_classes))

    def exact_detections(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], img_shape: Tensor,
                         inv_scale_factor: Optional[Tensor] = None, cfg: Optional[dict] = None,
                         with_nms: bool = True) -> InstanceData:
        """One image (a batch of 1): every candidate of :meth:`batch_detections` through class-aware
        NMS with data-dependent shapes (torchvision's kernel where the device has it), the exact path."""
        cfg = self.test_cfg if cfg is None else cfg
        candidates = self.split_detections(self.batch_detections(
            cls_scores, bbox_preds, img_shape, inv_scale_factor, cfg, with_nms=False, nms_candidates=-1))[0]
        if not with_nms:
            return candidates
        iou_threshold = cfg['nms']['iou_threshold']
        keep = batched_nms(candidates.bboxes, candidates.scores, candidates.labels, iou_threshold)
        return candidates[keep[:cfg.get('max_per_img', 200)]]

    @staticmethod
    def shape_tensors(batch_img_metas: Sequence[dict], rescale: bool,
                      device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
        """Tensor[B, 2] of ``img_shape`` (h, w) and, with ``rescale``, Tensor[B, 2] of 1 / scale_factor."""
        img_shapes = torch.tensor([meta['img_shape'][:2] for meta in batch_img_metas], device=device)
        if not rescale:
            return img_shapes, None
        if any('scale_factor' not in meta for meta in batch_img_metas):
            raise KeyError('SSDHead.predict(rescale=True) needs metainfo scale_factor (w_scale, h_scale)')
        # Reciprocals taken in double precision, as mmdetection multiplies by ``1 / s``: bit-equal boxes.
        inverses = [[1 / s for s in meta['scale_factor'][:2]] for meta in batch_img_metas]
        return img_shapes, torch.tensor(inverses, dtype=torch.float32, device=device)

    @staticmethod
    def split_detections(dets: BatchDetections) -> List[InstanceData]:
        """Per image, the first ``num_dets`` rows of a :class:`BatchDetections` as InstanceData."""
        counts = dets.num_dets.tolist()
        return [InstanceData(bboxes=boxes[:n], scores=scores[:n], labels=labels[:n])
                for boxes, scores, labels, n in zip(dets.bboxes, dets.scores, dets.labels, counts)]
