"""SSD's prediction head (mmdetection 3.x ``SSDHead``): the network, its anchors, and the mmdetection
entry points ``loss``, ``loss_by_feat``, ``predict`` and ``predict_by_feat``.

The loss lives in ``ssd_loss.py`` (:class:`SSDLoss`, batched over padded ground truth) and the
post-processing in ``ssd_post_processing.py`` (batched, static shapes); this head holds the
network and the anchors both use, and delegates to them.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.models.layers import batched_nms
from ssd_npu.models.task_modules import MaxIoUAssigner
from ssd_npu.registry import MODELS, TASK_UTILS
from ssd_npu.structures import DetDataSample, GroundTruthPadding

from .npu_batch_nms import npu_nms_step
from .ssd_loss import SSDLoss, normalise_losses
from .ssd_post_processing import (
    BatchDetections,
    NmsKeep,
    batched_ssd_detections,
    shape_tensors,
    split_detections,
)

# i -> (cls_scores, bbox_preds) of image i alone: the per-level head outputs of a batch of 1.
ImageOutputs = Callable[[int], Tuple[List[Tensor], List[Tensor]]]
# (img_shapes Tensor[B, 2], inv_scale_factors Tensor[B, 2] or None) -> the batch's static-shape detections.
BatchDetector = Callable[[Tensor, Optional[Tensor]], BatchDetections]

# Constructor defaults (mmdetection's, except the anchor range: see SSDHead). Read-only: builders copy them.
SSD300_ANCHOR_GENERATOR = dict(type='SSDAnchorGenerator', scale_major=False, input_size=300,
                               strides=[8, 16, 32, 64, 100, 300],
                               ratios=([2], [2, 3], [2, 3], [2, 3], [2], [2]),
                               basesize_ratio_range=(0.15, 0.9))
UNNORMALISED_BBOX_CODER = dict(type='DeltaXYWHBBoxCoder', clip_border=True,
                               target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0])
XAVIER_INIT = dict(type='Xavier', layer='Conv2d', distribution='uniform', bias=0)


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

    Loss parameters (``train_cfg``, mmdetection's SSD keys, see :class:`SSDLoss`):
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
        # The loss settings, checked once here (a bad config fails at construction, not mid-training).
        self.ssd_loss: Optional[SSDLoss] = None
        self.gt_padding: Optional[GroundTruthPadding] = None
        if train_cfg is not None:
            self.ssd_loss = SSDLoss(train_cfg, num_classes, self.bbox_coder, reg_decoded_bbox)
            # Eager padding for loss / loss_by_feat; the detector builds its own for the data preprocessor.
            self.gt_padding = GroundTruthPadding(train_cfg.get('gt_pad_size', 100))
        self._init_layers()
        self._anchor_cache: Dict[tuple, Tensor] = {}

    @property
    def assigner(self) -> MaxIoUAssigner:
        """The loss's :class:`MaxIoUAssigner` (``train_cfg.assigner``)."""
        return self._checked_loss().assigner

    @property
    def uses_ignored_regions(self) -> bool:
        """Whether ``ignored_instances`` take part in assignment (the assigner's ``ignore_iof_thr > 0``)."""
        return self.ssd_loss is not None and self.ssd_loss.uses_ignored_regions

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
        """Tensor[A, 4] float32 xyxy pixels: every level's anchors, concatenated in the order of the
        flattened head outputs (level, then location, then anchor); the one anchor source of the loss
        and of the post-processing, cached per feature-map sizes and device.

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
        """Forward and loss (mmdetection's entry point; the detector's training calls :meth:`loss_sums`
        and :meth:`normalise_losses` itself, see :class:`~ssd_npu.models.detectors.SSD`).

        Args:
            x: feature maps (see :meth:`forward`).
            batch_data_samples: ``gt_instances.bboxes`` (xyxy pixels of the
                network input) and ``.labels`` (0-based); ``ignored_instances``
                take part only when the assigner's ``ignore_iof_thr > 0``.

        Returns:
            dict(loss_cls=[per-image scalar], loss_bbox=[per-image scalar]), float32.
        """
        cls_scores, bbox_preds = self(x)
        gt = self._checked_padding().pad_data_samples(batch_data_samples, cls_scores[0].device,
                                                       with_ignored=self.uses_ignored_regions)
        return self.normalise_losses(*self.loss_sums(cls_scores, bbox_preds, *gt))

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
            dict(loss_cls=[per-image scalar], loss_bbox=[per-image scalar]), float32.
        """
        ignored = batch_gt_instances_ignore if self.uses_ignored_regions else None
        gt = self._checked_padding().pad(batch_gt_instances, cls_scores[0].device, ignored)
        return self.normalise_losses(*self.loss_sums(cls_scores, bbox_preds, *gt))

    def loss_sums(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], gt_bboxes: Tensor,
                  gt_labels: Tensor, gt_valid: Tensor, ignore_bboxes: Optional[Tensor] = None,
                  ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Per-image loss sums of SSD, before normalisation: :meth:`SSDLoss.sums` (the formula is
        documented there) on this head's anchors. Static shapes: it compiles with the network.

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            gt_bboxes, gt_labels, gt_valid, ignore_bboxes, ignore_valid: see
                :class:`~ssd_npu.structures.PaddedGroundTruth`.

        Returns:
            cls_sums: Tensor[B]; bbox_sums: Tensor[B]; num_pos: LongTensor[B].
        """
        ssd_loss = self._checked_loss()
        if len(cls_scores) != self.prior_generator.num_levels or len(bbox_preds) != len(cls_scores):
            raise ValueError(f'SSDHead: got {len(cls_scores)} score / {len(bbox_preds)} box maps for '
                             f'{self.prior_generator.num_levels} anchor levels')
        anchors = self.flat_anchors([s.shape[-2:] for s in cls_scores], cls_scores[0].device)
        return ssd_loss.sums(cls_scores, bbox_preds, anchors, gt_bboxes, gt_labels, gt_valid,
                             ignore_bboxes, ignore_valid)

    # SSD's losses from the sums of :meth:`loss_sums` (the normalisation of every path: eager, compiled).
    normalise_losses = staticmethod(normalise_losses)

    def _checked_loss(self) -> SSDLoss:
        if self.train_cfg is None or self.ssd_loss is None:
            raise ValueError('SSDHead: loss needs train_cfg (assigner, neg_pos_ratio, smoothl1_beta)')
        return self.ssd_loss

    def _checked_padding(self) -> GroundTruthPadding:
        self._checked_loss()
        return self.gt_padding

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
        """Detections of every image from raw predictions (mmdetection's signature; see :meth:`predict`),
        through :meth:`detections` with :meth:`batch_detections` on these outputs."""
        if score_factors is not None:
            raise ValueError('SSDHead.predict_by_feat: SSD has no score factors (centerness); pass None')
        if batch_img_metas is None:
            raise ValueError('SSDHead.predict_by_feat needs batch_img_metas (img_shape, and scale_factor '
                             'with rescale=True)')

        def batch_detector(img_shapes: Tensor, inv_scale_factors: Optional[Tensor]) -> BatchDetections:
            return self.batch_detections(cls_scores, bbox_preds, img_shapes, inv_scale_factors, cfg, with_nms)
        return self.detections(batch_img_metas, rescale, cls_scores[0].device, batch_detector,
                               self.outputs_of_image(cls_scores, bbox_preds), cfg, with_nms)

    def detections(self, batch_img_metas: Sequence[dict], rescale: bool, device: torch.device,
                   batch_detector: BatchDetector, image_outputs: ImageOutputs, cfg: Optional[dict] = None,
                   with_nms: bool = True) -> List[InstanceData]:
        """The inference path of the head (:meth:`predict_by_feat`) and of the detector (``SSD.predict``).

        The metainfo becomes tensors (:func:`shape_tensors`), ``batch_detector`` post-processes
        the whole batch at once with static shapes (:meth:`batch_detections`, eager, or the
        detector's compiled ``predict_graph``), and :meth:`final_detections` recomputes the rare
        image whose bounded NMS could not be final, so the result equals mmdetection's
        per-image post-processing.

        Args:
            batch_img_metas: per image, ``img_shape`` (h, w) and, with ``rescale``, ``scale_factor``.
            rescale: boxes in original-image pixels (True) or input pixels.
            device: where the detections are computed.
            batch_detector: ``(img_shapes, inv_scale_factors) -> BatchDetections`` of the batch.
            image_outputs: ``i -> (cls_scores, bbox_preds)`` of image ``i`` alone, asked for only
                when its detections must be recomputed.
            cfg, with_nms: as given to :meth:`batch_detections` (cfg None: ``test_cfg``).

        Returns:
            per image, InstanceData (see :meth:`predict`).
        """
        img_shapes, inv_scale_factors = shape_tensors(batch_img_metas, rescale, device)
        dets = batch_detector(img_shapes, inv_scale_factors)
        return self.final_detections(dets, image_outputs, img_shapes, inv_scale_factors, cfg, with_nms)

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
        results = split_detections(dets)
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
        """Static-shape detections of a batch (tensors in, tensors out: compiles and exports):
        :func:`batched_ssd_detections` with ``test_cfg``'s values and this head's anchors.

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            img_shapes: Tensor[B, 2] (h, w) of the network inputs (boxes are clipped to it).
            inv_scale_factors: Tensor[B, 2] (1 / w_scale, 1 / h_scale) to map boxes to the
                original images, or None for input pixels.
            cfg: overrides ``test_cfg``.
            nms_candidates: overrides ``test_cfg.nms_candidates`` (-1: all).
            nms_keep: the NMS step (None: ``torch_npu.npu_batch_nms`` on an NPU that has it, see
                ``npu_batch_nms.py``, else :func:`~ssd_npu.models.layers.greedy_nms_keep`).
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
        device = cls_scores[0].device
        anchors = self.flat_anchors([s.shape[-2:] for s in cls_scores], device)
        return batched_ssd_detections(
            cls_scores, bbox_preds, anchors, self.bbox_coder, self.num_classes, img_shapes, inv_scale_factors,
            score_thr=cfg.get('score_thr', 0), nms_pre=cfg.get('nms_pre', -1),
            iou_threshold=nms_cfg['iou_threshold'], max_per_img=max_per_img,
            min_bbox_size=cfg.get('min_bbox_size', -1), topk_per_class=cfg.get('topk_per_class', -1),
            nms_candidates=nms_candidates, with_nms=with_nms, nms_iterations=nms_iterations,
            nms_keep=nms_keep or npu_nms_step(device, nms_candidates, self.num_classes))

    def exact_detections(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor], img_shape: Tensor,
                         inv_scale_factor: Optional[Tensor] = None, cfg: Optional[dict] = None,
                         with_nms: bool = True) -> InstanceData:
        """One image (a batch of 1): every candidate of :meth:`batch_detections` through class-aware
        NMS with data-dependent shapes (torchvision's kernel where the device has it), the exact path."""
        cfg = self.test_cfg if cfg is None else cfg
        candidates = split_detections(self.batch_detections(
            cls_scores, bbox_preds, img_shape, inv_scale_factor, cfg, with_nms=False, nms_candidates=-1))[0]
        if not with_nms:
            return candidates
        iou_threshold = cfg['nms']['iou_threshold']
        keep = batched_nms(candidates.bboxes, candidates.scores, candidates.labels, iou_threshold)
        return candidates[keep[:cfg.get('max_per_img', 200)]]

    # Kept as methods for the tools that call them on a head (see ``ssd_post_processing.py``).
    shape_tensors = staticmethod(shape_tensors)
    split_detections = staticmethod(split_detections)
