"""The SSD detector: backbone -> neck -> SSDHead (Liu et al. 2016)."""
import contextlib
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from ssd_npu.models.dense_heads.ssd_post_processing import BatchDetections
from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample, PaddedGroundTruth

from . import checks


def plain_dict(cfg: Optional[Mapping]) -> Optional[dict]:
    """``cfg`` (a ConfigDict, say) as nested plain dicts; None stays None."""
    if cfg is None:
        return None
    return {key: plain_dict(value) if isinstance(value, Mapping) else value for key, value in cfg.items()}


@MODELS.register_module()
class SSD(BaseModel):
    """Single-stage detector with mmdetection 3.x's ``SingleStageDetector`` interface.

    One training step reads: ``extract_feat`` (backbone, then neck) ->
    ``bbox_head.loss`` (anchors, assignment, hard-negative mining, losses).
    Also registered as ``SingleStageDetector`` so mmdetection SSD configs build.

    Args:
        backbone: config of the backbone (``SSDVGG``, ``MobileNetV2``).
        neck: config of the neck (``SSDNeck``) or None.
        bbox_head: config of the head (``SSDHead``); ``train_cfg`` and
            ``test_cfg`` are passed into it, as mmdetection does.
        train_cfg: assigner/sampler/hard-negative settings of the head.
        test_cfg: post-processing settings (score_thr, nms, max_per_img ...).
        data_preprocessor: config of the ``DetDataPreprocessor``.
        init_cfg: weight initialisation of the whole detector.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 bbox_head: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Union[dict, nn.Module, None] = None,
                 init_cfg: Union[dict, list, None] = None) -> None:
        if bbox_head is None:
            raise ValueError('SSD: bbox_head config is required')
        if isinstance(data_preprocessor, dict):
            # Built from our registry so it resolves without a default scope being set.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.bbox_head = MODELS.build({**bbox_head, 'train_cfg': train_cfg, 'test_cfg': test_cfg})
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self._min_input_size: Optional[int] = None
        self._regions: Dict[str, Callable] = {}
        if hasattr(self.data_preprocessor, 'gt_padding'):
            # The preprocessor delivers the ground truth padded as the head's train_cfg says.
            self.data_preprocessor.gt_padding = getattr(self.bbox_head, 'gt_padding', None)
            self.data_preprocessor.pad_ignored_regions = (self.data_preprocessor.gt_padding is not None
                                                          and self.bbox_head.uses_ignored_regions)

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def min_input_size(self) -> int:
        """Smallest image height/width for which every feature level is at least 1x1 (computed once)."""
        if self._min_input_size is None:
            extractor = nn.Sequential(self.backbone, self.neck) if self.with_neck else self.backbone
            self._min_input_size = checks.min_input_size(extractor)
        return self._min_input_size

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Multi-level features of a batch.

        Args:
            inputs: normalised images (B, 3, H, W).

        Returns:
            Feature maps (B, C_l, H_l, W_l) from fine to coarse (SSD300: 38, 19, 10, 5, 3, 1).
        """
        with self._input_size_hint(inputs):
            return self._features(inputs)

    def _features(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        feats = self.backbone(inputs)
        return self.neck(feats) if self.with_neck else feats

    @contextlib.contextmanager
    def _input_size_hint(self, inputs: Tensor) -> Iterator[None]:
        """Turn a layer failure on too small images into a ValueError naming the minimum size
        (checked only when a layer fails, so the normal path pays nothing)."""
        try:
            yield
        except RuntimeError as error:
            height, width = inputs.shape[-2:]
            if min(height, width) >= self.min_input_size:
                raise
            parts = [type(self.backbone).__name__] + ([type(self.neck).__name__] if self.with_neck else [])
            raise ValueError(
                f'Input images of {height}x{width} pixels are too small for this {"+".join(parts)} model: '
                f'height and width must be >= {self.min_input_size} so that the last feature level is at '
                'least 1x1. Resize images to the size the model was configured for (the Resize scale of '
                'the pipeline).') from error

    # ------------------------------------------------------------ graph regions
    def loss_region(self, inputs: Tensor, gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
                    ignore_bboxes: Optional[Tensor] = None,
                    ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Network and loss from tensors only: what ``compile`` turns into one static graph.

        Args:
            inputs: normalised images (B, 3, H, W).
            gt_bboxes ... ignore_valid: see :class:`~ssd_npu.structures.PaddedGroundTruth`.

        Returns:
            Per-image loss sums and positive counts (see :meth:`SSDHead.loss_sums`).
        """
        cls_scores, bbox_preds = self.bbox_head(self._features(inputs))
        return self.bbox_head.loss_sums(cls_scores, bbox_preds, gt_bboxes, gt_labels, gt_valid,
                                        ignore_bboxes, ignore_valid)

    def predict_region(self, inputs: Tensor, img_shapes: Tensor, inv_scale_factors: Optional[Tensor] = None,
                       test_cfg: Optional[dict] = None) -> BatchDetections:
        """Network and batched post-processing from tensors only (compiled by ``compile``).

        Args:
            inputs: normalised images (B, 3, H, W).
            img_shapes: Tensor[B, 2] (h, w) of the inputs; inv_scale_factors: Tensor[B, 2] or None.
            test_cfg: overrides the head's ``test_cfg``.
        """
        cls_scores, bbox_preds = self.bbox_head(self._features(inputs))
        return self.bbox_head.batch_detections(cls_scores, bbox_preds, img_shapes, inv_scale_factors,
                                               cfg=test_cfg)

    def compile(self, **compile_kwargs) -> None:
        """Compile :meth:`loss_region` and :meth:`predict_region` (and the data preprocessor's
        normalisation) with ``torch.compile(fullgraph=True, dynamic=False)``.

        ``fullgraph`` makes any graph break an error instead of a silent slow path,
        and static shapes are what graph-mode devices need. ``compile_kwargs`` go
        to ``torch.compile`` (``backend``, ``mode``, ``options``, ...).
        """
        kwargs = dict(fullgraph=True, dynamic=False, **compile_kwargs)
        if getattr(self.bbox_head, 'gt_padding', None) is not None:
            self.bbox_head.gt_padding.static = True   # train_cfg.gt_pad_size's fixed shapes from now on
        compiled_predict = torch.compile(self.predict_region, **kwargs)

        def predict(inputs: Tensor, img_shapes: Tensor,
                    inv_scale_factors: Optional[Tensor] = None) -> BatchDetections:
            # test_cfg enters the graph as a plain dict, read afresh at each call: TorchDynamo before
            # torch 2.8 cannot trace mmengine's ConfigDict.get (a graph break), and a user may change it.
            test_cfg = plain_dict(self.bbox_head.test_cfg)
            return compiled_predict(inputs, img_shapes, inv_scale_factors, test_cfg)

        self._regions = dict(loss=torch.compile(self.loss_region, **kwargs), predict=predict)
        if hasattr(self.data_preprocessor, 'compile_normalisation'):
            self.data_preprocessor.compile_normalisation(**kwargs)

    def region(self, name: str) -> Callable:
        """``'loss'`` or ``'predict'``: the compiled region after :meth:`compile`, else the eager method."""
        return self._regions.get(name, getattr(self, f'{name}_region'))

    # ------------------------------------------------------------------- modes
    def loss(self, inputs: Tensor, data_samples: List[DetDataSample],
             padded_gt: Optional[PaddedGroundTruth] = None) -> Dict[str, List[Tensor]]:
        """Losses of a batch: ``dict(loss_cls=[per image], loss_bbox=[per image])``.

        Args:
            inputs: normalised images (B, 3, H, W).
            data_samples: one per image, with ``gt_instances.bboxes`` (N, 4) xyxy
                in input pixels and ``gt_instances.labels`` (N,) 0-based.
            padded_gt: the same ground truth as fixed-size tensors, as the data
                preprocessor delivers it in training; built from ``data_samples`` when None.
        """
        head = self.bbox_head
        if padded_gt is None:
            padded_gt = head.gt_padding.pad_data_samples(data_samples, inputs.device,
                                                        with_ignored=head.uses_ignored_regions)
        with self._input_size_hint(inputs):
            sums = self.region('loss')(inputs, *padded_gt)
        return head.normalise_losses(*sums)

    def predict(self, inputs: Tensor, data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detections of a batch, written into ``data_samples[i].pred_instances``.

        Args:
            inputs: normalised images (B, 3, H, W).
            data_samples: one per image, metainfo with ``img_shape``,
                ``scale_factor`` (w, h) and ``ori_shape``.
            rescale: boxes in original-image pixels (True) or input pixels.

        Returns:
            The same samples, with ``pred_instances.bboxes`` (N, 4) xyxy,
            ``.scores`` (N,) and ``.labels`` (N,) 0-based, best score first.
        """
        head = self.bbox_head
        img_shapes, inv_scale_factors = head.shape_tensors([s.metainfo for s in data_samples], rescale,
                                                       inputs.device)
        with self._input_size_hint(inputs):
            dets = self.region('predict')(inputs, img_shapes, inv_scale_factors)
        # The compiled region returns detections only: the rare image whose bounded NMS was not
        # final runs the network again, alone.
        results = head.final_detections(dets, lambda i: head(self._features(inputs[i:i + 1])), img_shapes,
                                        inv_scale_factors)
        for sample, pred_instances in zip(data_samples, results):
            sample.pred_instances = pred_instances
        return data_samples

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[List[DetDataSample]] = None) -> Tuple[List[Tensor], List[Tensor]]:
        """Raw head outputs: per level (B, A*(C+1), H_l, W_l) class logits and (B, A*4, H_l, W_l) deltas."""
        return self.bbox_head(self.extract_feat(inputs))

    def forward(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None,
                mode: str = 'tensor', padded_gt: Optional[PaddedGroundTruth] = None):
        """Dispatch on ``mode``: 'loss' -> dict of losses, 'predict' -> list of
        DetDataSample, 'tensor' -> raw head outputs. ``padded_gt`` (from the data
        preprocessor) is used in 'loss' mode."""
        if mode == 'loss':
            return self.loss(inputs, data_samples, padded_gt)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'SSD: invalid mode "{mode}", expected "loss", "predict" or "tensor"')


# mmdetection's SSD configs name the detector SingleStageDetector.
MODELS.register_module(name='SingleStageDetector', module=SSD)
