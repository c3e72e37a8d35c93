"""SSD's prediction head, its training loss and its post-processing (mmdetection 3.x ``SSDHead``).

The loss is computed for the whole batch with fixed shapes: ground truth is
padded to ``M`` boxes per image, and assignment, target encoding and
hard-negative mining are masks and sorts over [B, num_anchors] tensors, with
no loop over images and no data-dependent shapes. This keeps graph-compiling
devices (Ascend NPU) from recompiling and GPUs from waiting on the host.
``ssd_head_reference.py`` holds the same loss written per image, as a test oracle.
"""
from typing import Dict, List, Optional, Sequence, Tuple

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
from ssd_npu.structures import DetDataSample

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


def top_k_per_label(scores: Tensor, labels: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` highest scores of each label (torchvision's per-class ``topk_candidates``).

    Args:
        scores: Tensor[N]; labels: LongTensor[N].

    Returns:
        LongTensor of the kept indices, best score first within each label.
    """
    by_score = scores.argsort(descending=True)
    # A stable sort by label keeps each label's candidates in descending score order.
    order = by_score[labels[by_score].argsort(stable=True)]
    sorted_labels = labels[order]
    first_of_label = torch.searchsorted(sorted_labels, sorted_labels)
    rank = torch.arange(len(order), device=scores.device) - first_of_label
    return order[rank < k]


def pad_gt_instances(batch_instances: Sequence[InstanceData], pad_size: int,
                     device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Stack per-image boxes into one padded batch tensor.

    Args:
        batch_instances: per image, ``bboxes`` (Tensor[N_i, 4], xyxy pixels)
            and, optionally, ``labels`` (LongTensor[N_i]).
        pad_size: pad to ``max(pad_size, max_i N_i, 1)`` boxes; a fixed value
            keeps the shapes of the loss identical from batch to batch.
        device: where the result goes.

    Returns:
        bboxes: Tensor[B, M, 4] float32 (padding is zeros).
        labels: LongTensor[B, M] (zeros where an image has no ``labels``).
        valid: BoolTensor[B, M]: True for real boxes of positive width and
            height. Degenerate boxes are marked invalid: they overlap no prior,
            and a forced low-quality match to one would give ``log(0)`` targets.
    """
    bboxes = [inst.bboxes.reshape(-1, 4).float().to(device) for inst in batch_instances]
    labels = [inst.labels.reshape(-1).long().to(device) if 'labels' in inst
              else torch.zeros(len(b), dtype=torch.long, device=device)
              for inst, b in zip(batch_instances, bboxes)]
    counts = torch.tensor([len(b) for b in bboxes], device=device)
    size = max([pad_size, 1] + [len(b) for b in bboxes])
    padded_bboxes = nn.utils.rnn.pad_sequence(bboxes + [bboxes[0].new_zeros(size, 4)], batch_first=True)[:-1]
    padded_labels = nn.utils.rnn.pad_sequence(labels + [labels[0].new_zeros(size)], batch_first=True)[:-1]
    valid = torch.arange(size, device=device) < counts[:, None]
    wh = padded_bboxes[..., 2:] - padded_bboxes[..., :2]
    valid = valid & (wh > 0).all(dim=-1)
    return padded_bboxes, padded_labels, valid


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
        gt_pad_size (100): GT boxes per image after padding, as the Ascend
        SSD port did; batches with more GT in one image pad to that count.

    Inference parameters (``test_cfg``): nms_pre, score_thr, nms=dict(type='nms',
        iou_threshold), min_bbox_size, max_per_img, and ours: topk_per_class (-1: off; k keeps
        each class's k best candidates of all levels before NMS, as torchvision's SSD does).
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
        if train_cfg:
            self.assigner = TASK_UTILS.build(train_cfg['assigner'])
            self._check_train_cfg(train_cfg)
        self._init_layers()
        self._anchor_cache: Dict[tuple, Tensor] = {}

    @staticmethod
    def _check_train_cfg(train_cfg: dict) -> None:
        sampler_cfg = train_cfg.get('sampler')
        if sampler_cfg is not None and not isinstance(TASK_UTILS.build(sampler_cfg), PseudoSampler):
            raise ValueError(f'SSDHead: train_cfg.sampler must be PseudoSampler (SSD mines hard negatives '
                             f'instead of sampling), got {sampler_cfg}')
        if train_cfg.get('allowed_border', -1) >= 0:
            raise ValueError('SSDHead: train_cfg.allowed_border must be -1 (SSD trains on every anchor, '
                             f"including those crossing the border), got {train_cfg['allowed_border']}")

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

    def forward(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Raw predictions of every level.

        Args:
            x: per level, Tensor[B, in_channels[i], H_i, W_i].

        Returns:
            cls_scores: per level, Tensor[B, A_i * (num_classes + 1), H_i, W_i] (logits).
            bbox_preds: per level, Tensor[B, A_i * 4, H_i, W_i] (deltas).
        """
        if len(x) != len(self.cls_convs):
            raise ValueError(f'SSDHead: got {len(x)} feature maps, expected {len(self.cls_convs)} '
                             f'(one per anchor level)')
        cls_scores = [conv(feat) for feat, conv in zip(x, self.cls_convs)]
        bbox_preds = [conv(feat) for feat, conv in zip(x, self.reg_convs)]
        return cls_scores, bbox_preds

    def flat_anchors(self, featmap_sizes: Sequence[Sequence[int]], device: torch.device) -> Tensor:
        """Tensor[A, 4] float32 xyxy pixels: every level's anchors, concatenated (cached per size/device)."""
        key = (tuple(tuple(int(v) for v in size) for size in featmap_sizes), str(device))
        if key not in self._anchor_cache:
            levels = self.prior_generator.grid_priors(featmap_sizes, dtype=torch.float32, device=device)
            self._anchor_cache[key] = torch.cat(levels)
        return self._anchor_cache[key]

    # ---------------------------------------------------------------- training
    def loss(self, x: Sequence[Tensor], batch_data_samples: Sequence[DetDataSample]) -> Dict[str, Tensor]:
        """Forward and loss.

        Args:
            x: feature maps (see :meth:`forward`).
            batch_data_samples: ``gt_instances.bboxes`` (xyxy pixels of the
                network input) and ``.labels`` (0-based); ``ignored_instances``
                take part only when the assigner's ``ignore_iof_thr > 0``.

        Returns:
            dict(loss_cls=scalar Tensor, loss_bbox=scalar Tensor), float32.
        """
        cls_scores, bbox_preds = self(x)
        batch_gt_instances = [ds.gt_instances for ds in batch_data_samples]
        no_ignored = InstanceData(bboxes=torch.zeros(0, 4))
        batch_ignored = [ds.ignored_instances if 'ignored_instances' in ds else no_ignored
                         for ds in batch_data_samples]
        return self.loss_by_feat(cls_scores, bbox_preds, batch_gt_instances, batch_ignored)

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData],
                     batch_gt_instances_ignore: Optional[Sequence[InstanceData]] = None) -> Dict[str, Tensor]:
        """Loss of SSD (paper eq. 1) with mmdetection's normalisation.

        ``loss_cls`` = (CE of all positives + CE of each image's
        ``neg_pos_ratio * num_pos_i`` hardest negatives) / N and ``loss_bbox``
        = SmoothL1 of positives' deltas / N, where N = sum over images of
        ``max(num_pos_i, 1)`` (mmdetection's ``SamplingResult`` counts at least
        one positive per image), so N >= 1 and an image without GT adds only 1 to N.
        Under DDP, N is the mean of that count over the ranks.

        Args:
            cls_scores, bbox_preds: outputs of :meth:`forward`.
            batch_gt_instances: per image, ``bboxes`` Tensor[N_i, 4] xyxy pixels, ``labels`` LongTensor[N_i].
            batch_gt_instances_ignore: per image, ``bboxes`` of ignored regions.

        Returns:
            dict(loss_cls, loss_bbox): float32 scalars.
        """
        if self.train_cfg is None:
            raise ValueError('SSDHead: loss needs train_cfg (assigner, neg_pos_ratio, smoothl1_beta)')
        if len(cls_scores) != self.prior_generator.num_levels or len(bbox_preds) != len(cls_scores):
            raise ValueError(f'SSDHead: got {len(cls_scores)} score / {len(bbox_preds)} box maps for '
                             f'{self.prior_generator.num_levels} anchor levels')
        num_images = cls_scores[0].size(0)
        device = cls_scores[0].device
        anchors = self.flat_anchors([s.shape[-2:] for s in cls_scores], device)
        with torch.autocast(device_type=device.type, enabled=False):
            all_cls_scores = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1, self.cls_out_channels)
                                        for s in cls_scores], dim=1).float()
            all_bbox_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                                        for b in bbox_preds], dim=1).float()
            gt_bboxes, gt_labels, gt_valid = pad_gt_instances(
                batch_gt_instances, self.train_cfg.get('gt_pad_size', 100), device)
            ignore_bboxes = ignore_valid = None
            if self.assigner.ignore_iof_thr > 0 and batch_gt_instances_ignore is not None:
                ignore_bboxes, _, ignore_valid = pad_gt_instances(batch_gt_instances_ignore, 0, device)
            labels, label_weights, bbox_targets, positive = self.get_targets(
                anchors, gt_bboxes, gt_labels, gt_valid, ignore_bboxes, ignore_valid)
            return self._losses(all_cls_scores, all_bbox_preds, anchors, labels, label_weights,
                                bbox_targets, positive)

    @torch.no_grad()
    def get_targets(self, anchors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
                    ignore_bboxes: Optional[Tensor] = None,
                    ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Classification and regression targets of every anchor of every image.

        Args:
            anchors: Tensor[A, 4] xyxy pixels.
            gt_bboxes, gt_labels, gt_valid: padded GT, see :func:`pad_gt_instances`.
            ignore_bboxes, ignore_valid: padded ignored regions, or None.

        Returns:
            labels: LongTensor[B, A]: GT class for positives, ``num_classes`` otherwise.
            label_weights: Tensor[B, A]: 1 (or ``pos_weight``) for positives, 1 for
                negatives, 0 for ignored anchors.
            bbox_targets: Tensor[B, A, 4]: encoded deltas (decoded boxes with
                ``reg_decoded_bbox``), meaningful for positives only.
            positive: BoolTensor[B, A].
        """
        assigned, _ = self.assigner.assign(anchors, gt_bboxes, gt_valid, ignore_bboxes, ignore_valid)
        positive = assigned > 0
        gt_index = (assigned - 1).clamp(min=0)
        labels = torch.where(positive, gt_labels.gather(1, gt_index), self.num_classes)
        pos_weight = self.train_cfg.get('pos_weight', -1)
        label_weights = torch.where(positive, pos_weight if pos_weight > 0 else 1.0, (assigned == 0).float())
        matched = gt_bboxes.gather(1, gt_index[..., None].expand(-1, -1, 4))
        # Non-positive anchors regress onto themselves so their (unused) targets stay finite.
        matched = torch.where(positive[..., None], matched, anchors)
        bbox_targets = matched if self.reg_decoded_bbox else self.bbox_coder.encode(anchors, matched)
        return labels, label_weights, bbox_targets, positive

    def _losses(self, cls_scores: Tensor, bbox_preds: Tensor, anchors: Tensor, labels: Tensor,
                label_weights: Tensor, bbox_targets: Tensor, positive: Tensor) -> Dict[str, Tensor]:
        """Softmax CE with hard-negative mining and SmoothL1, from [B, A, ...] tensors (float32)."""
        num_images, num_anchors = labels.shape
        cls_loss = F.cross_entropy(cls_scores.reshape(-1, self.cls_out_channels), labels.reshape(-1),
                                   reduction='none').view(num_images, num_anchors) * label_weights
        num_pos = positive.sum(dim=1)
        avg_factor = num_pos.clamp(min=1).sum().float()
        # Under DDP, normalise by the mean over ranks of that count: DDP averages the ranks'
        # gradients, so the step then equals one process's step on the whole distributed batch
        # (mmdetection normalises per rank, which weights ranks with few positives more).
        all_reduce(avg_factor, op='mean')

        pos_loss = (cls_loss * positive).sum()
        # Hard-negative mining (SSD paper, section 2.2): per image, the
        # neg_pos_ratio * num_pos negatives of highest loss. Sorting every
        # anchor and masking by rank keeps the shapes fixed; only the sum of the
        # top values matters, so ties do not change the result.
        neg_loss = torch.where(labels == self.num_classes, cls_loss, 0)
        sorted_neg_loss = neg_loss.sort(dim=1, descending=True).values
        rank = torch.arange(num_anchors, device=labels.device)
        hard = rank < (self.train_cfg.get('neg_pos_ratio', 3) * num_pos)[:, None]
        loss_cls = (pos_loss + (sorted_neg_loss * hard).sum()) / avg_factor

        if self.reg_decoded_bbox:
            bbox_preds = self.bbox_coder.decode(anchors, bbox_preds)
        beta = self.train_cfg.get('smoothl1_beta', 1.0)
        diff = (bbox_preds - bbox_targets).abs()
        smooth_l1 = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
        loss_bbox = (smooth_l1 * positive[..., None]).sum() / (avg_factor + _AVG_FACTOR_EPS)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    # --------------------------------------------------------------- inference
    def predict(self, x: Sequence[Tensor], batch_data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> List[InstanceData]:
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
        return self.predict_by_feat(cls_scores, bbox_preds, batch_img_metas, rescale=rescale)

    @torch.no_grad()
    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        batch_img_metas: Sequence[dict], rescale: bool = False) -> List[InstanceData]:
        """Detections of every image from raw predictions (see :meth:`predict`)."""
        if self.test_cfg is None:
            raise ValueError('SSDHead: predict needs test_cfg (score_thr, nms_pre, nms, max_per_img)')
        nms_cfg = self.test_cfg['nms']
        if nms_cfg.get('type', 'nms') != 'nms':
            raise ValueError(f"SSDHead: test_cfg.nms.type must be 'nms', got {nms_cfg['type']!r}")
        device = cls_scores[0].device
        mlvl_anchors = self.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores], device=device)
        return [self._predict_single([s[i] for s in cls_scores], [b[i] for b in bbox_preds], mlvl_anchors,
                                     img_meta, rescale)
                for i, img_meta in enumerate(batch_img_metas)]

    def _predict_single(self, cls_scores: List[Tensor], bbox_preds: List[Tensor], mlvl_anchors: List[Tensor],
                        img_meta: dict, rescale: bool) -> InstanceData:
        cfg = self.test_cfg
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        mlvl_bboxes, mlvl_scores, mlvl_labels = [], [], []
        for cls_score, bbox_pred, anchors in zip(cls_scores, bbox_preds, mlvl_anchors):
            scores = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels).float().softmax(-1)[:, :-1]
            deltas = bbox_pred.permute(1, 2, 0).reshape(-1, 4).float()
            flat_scores = scores.reshape(-1)
            # Per level: the nms_pre best (anchor, class) pairs above score_thr, as mmdetection.
            # Thresholding first keeps the top-k small (nms_pre <= 0 keeps every pair above it).
            top_idx = (flat_scores > score_thr).nonzero().squeeze(1)
            top_scores = flat_scores[top_idx]
            if 0 < nms_pre < top_scores.numel():
                top_scores, order = top_scores.topk(nms_pre)
                top_idx = top_idx[order]
            anchor_idx = top_idx // self.num_classes
            mlvl_bboxes.append(self.bbox_coder.decode(anchors[anchor_idx], deltas[anchor_idx],
                                                      max_shape=img_meta['img_shape']))
            mlvl_scores.append(top_scores)
            mlvl_labels.append(top_idx % self.num_classes)
        bboxes = torch.cat(mlvl_bboxes)
        scores = torch.cat(mlvl_scores)
        labels = torch.cat(mlvl_labels)
        topk_per_class = cfg.get('topk_per_class', -1)
        if topk_per_class > 0:
            keep = top_k_per_label(scores, labels, topk_per_class)
            bboxes, scores, labels = bboxes[keep], scores[keep], labels[keep]
        if rescale:
            if 'scale_factor' not in img_meta:
                raise KeyError('SSDHead.predict(rescale=True) needs metainfo scale_factor (w_scale, h_scale)')
            # Multiplying by the reciprocal (not dividing) gives mmdetection's numbers bit for bit.
            bboxes = bboxes * bboxes.new_tensor([1 / s for s in img_meta['scale_factor']]).repeat(2)
        min_bbox_size = cfg.get('min_bbox_size', -1)
        if min_bbox_size >= 0:
            wh = bboxes[:, 2:] - bboxes[:, :2]
            large = (wh > min_bbox_size).all(dim=1)
            bboxes, scores, labels = bboxes[large], scores[large], labels[large]
        keep = batched_nms(bboxes, scores, labels, cfg['nms']['iou_threshold'])[:cfg.get('max_per_img', 200)]
        return InstanceData(bboxes=bboxes[keep], scores=scores[keep], labels=labels[keep])
