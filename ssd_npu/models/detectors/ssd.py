"""The SSD detector: backbone -> neck -> SSDHead (Liu et al. 2016), and its two graph entry points."""
import contextlib
import types
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from ssd_npu.models.dense_heads.ssd_post_processing import BatchDetections
from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample, GroundTruthPadding, PaddedGroundTruth

from . import checks


def plain_dict(cfg: Optional[Mapping]) -> Optional[dict]:
    """``cfg`` (a ConfigDict, say) as nested plain dicts; None stays None."""
    if cfg is None:
        return None
    return {key: plain_dict(value) if isinstance(value, Mapping) else value for key, value in cfg.items()}


@MODELS.register_module()
class SSD(BaseModel):
    """Single-stage detector with mmdetection 3.x's ``SingleStageDetector`` interface.

    Also registered as ``SingleStageDetector`` so mmdetection SSD configs build. The work of
    each mode runs in one of two graph entry points, tensors in and tensors out, which
    :meth:`compile_graphs` compiles into static graphs (``compile=True``):

    - :meth:`loss_graph`: ``_features`` (backbone, neck) -> ``bbox_head.forward`` ->
      ``bbox_head.loss_sums`` (anchors, assignment, hard-negative mining, per-image sums;
      the formula on :meth:`SSDLoss.sums <ssd_npu.models.dense_heads.ssd_loss.SSDLoss.sums>`);
    - :meth:`predict_graph`: ``_features`` -> ``bbox_head.forward`` ->
      ``bbox_head.batch_detections`` (decoding, thresholds, bounded NMS, top-k, padded).

    Call paths:

    - train (``mode='loss'``): ``data_preprocessor`` (normalisation; ground truth padded
      as ``padded_gt``) -> :meth:`loss` -> :meth:`loss_graph` -> ``bbox_head.normalise_losses``
      (division by mmdetection's ``avg_factor``, a DDP collective, so outside the graph);
    - val / test (``mode='predict'``): ``data_preprocessor`` -> :meth:`predict` ->
      ``bbox_head.detections`` -> :meth:`predict_graph`, then ``bbox_head.final_detections``
      recomputes eagerly the rare image whose bounded NMS was not final;
    - ONNX export (:class:`~ssd_npu.deployment.exportable_ssd.ExportableSSD`):
      ``data_preprocessor.normalise`` -> :meth:`extract_feat` -> ``bbox_head.forward`` ->
      ``bbox_head.batch_detections`` with every candidate and ONNX's NMS, no eager step.

    mmdetection's head methods (``bbox_head.loss``, ``loss_by_feat``, ``predict``,
    ``predict_by_feat``) compute the same losses and detections eagerly.

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
        self.gt_padding: Optional[GroundTruthPadding] = None
        self._use_gt_padding(static=False)

    def _use_gt_padding(self, static: bool) -> None:
        """Pad training ground truth as ``train_cfg.gt_pad_size`` says, in ``static`` mode (its bucket
        sizes, for compiled graphs) or not (powers of two, eagerly; see :class:`GroundTruthPadding`),
        here and in the data preprocessor, which is handed the padding explicitly."""
        head_train_cfg = getattr(self.bbox_head, 'train_cfg', None)
        if head_train_cfg is None:
            self.gt_padding = None
        else:
            self.gt_padding = GroundTruthPadding(head_train_cfg.get('gt_pad_size', 100), static=static)
        if hasattr(self.data_preprocessor, 'set_gt_padding'):
            with_ignored = self.gt_padding is not None and self.bbox_head.uses_ignored_regions
            self.data_preprocessor.set_gt_padding(self.gt_padding, with_ignored=with_ignored)

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

    # ------------------------------------------------------------ graph entry points
    def loss_graph(self, inputs: Tensor, gt_bboxes: Tensor, gt_labels: Tensor, gt_valid: Tensor,
                   ignore_bboxes: Optional[Tensor] = None,
                   ignore_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Network and loss sums from tensors only: one static graph after :meth:`compile_graphs`.

        Args:
            inputs: normalised images (B, 3, H, W).
            gt_bboxes ... ignore_valid: see :class:`~ssd_npu.structures.PaddedGroundTruth`.

        Returns:
            cls_sums Tensor[B], bbox_sums Tensor[B], num_pos LongTensor[B] (see ``SSDLoss.sums``).
        """
        cls_scores, bbox_preds = self.bbox_head(self._features(inputs))
        return self.bbox_head.loss_sums(cls_scores, bbox_preds, gt_bboxes, gt_labels, gt_valid,
                                        ignore_bboxes, ignore_valid)

    def predict_graph(self, inputs: Tensor, img_shapes: Tensor, inv_scale_factors: Optional[Tensor] = None,
                      test_cfg: Optional[dict] = None) -> BatchDetections:
        """Network and batched post-processing from tensors only: one static graph after
        :meth:`compile_graphs`.

        Args:
            inputs: normalised images (B, 3, H, W).
            img_shapes: Tensor[B, 2] (h, w) of the inputs; inv_scale_factors: Tensor[B, 2] or None.
            test_cfg: overrides the head's ``test_cfg``.

        Returns:
            The batch's detections, padded to ``max_per_img`` (xyxy pixels).
        """
        cls_scores, bbox_preds = self.bbox_head(self._features(inputs))
        return self.bbox_head.batch_detections(cls_scores, bbox_preds, img_shapes, inv_scale_factors,
                                               cfg=test_cfg)

    def compile_graphs(self, **compile_kwargs) -> None:
        """Replace :meth:`loss_graph` and :meth:`predict_graph` on this instance (and the data
        preprocessor's normalisation) by their ``torch.compile(fullgraph=True, dynamic=False)``
        versions, same signatures; training ground truth is padded statically from now on.

        ``fullgraph`` makes any graph break an error instead of a silent slow path, and
        static shapes are what graph-mode devices need: the ground truth is padded to
        ``train_cfg.gt_pad_size``'s bucket sizes, not to eager mode's powers of two, so that
        few shapes reach the loss graph. ``compile_kwargs`` go to ``torch.compile``
        (``backend``, ``mode``, ``options``, ...). Unlike ``nn.Module.compile`` it leaves
        ``forward`` eager: the optimizer step, logging and the exact-NMS fallback stay outside.
        """
        kwargs = dict(fullgraph=True, dynamic=False, **compile_kwargs)
        self._use_gt_padding(static=True)
        # Compiled from the class's methods, so that compiling twice does not compile a compiled function.
        compiled_loss = torch.compile(types.MethodType(SSD.loss_graph, self), **kwargs)
        compiled_predict = torch.compile(types.MethodType(SSD.predict_graph, self), **kwargs)

        def predict_graph(inputs: Tensor, img_shapes: Tensor, inv_scale_factors: Optional[Tensor] = None,
                          test_cfg: Optional[dict] = None) -> BatchDetections:
            # test_cfg enters the graph as a plain dict, read afresh at each call: TorchDynamo before
            # torch 2.8 cannot trace mmengine's ConfigDict.get (a graph break), and a user may change it.
            test_cfg = plain_dict(self.bbox_head.test_cfg if test_cfg is None else test_cfg)
            return compiled_predict(inputs, img_shapes, inv_scale_factors, test_cfg)

        self.loss_graph = compiled_loss
        self.predict_graph = predict_graph
        if hasattr(self.data_preprocessor, 'compile_normalisation'):
            self.data_preprocessor.compile_normalisation(**kwargs)

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
            if self.gt_padding is None:
                raise ValueError('SSD: loss needs train_cfg (assigner, neg_pos_ratio, smoothl1_beta)')
            padded_gt = self.gt_padding.pad_data_samples(data_samples, inputs.device,
                                                         with_ignored=head.uses_ignored_regions)
        with self._input_size_hint(inputs):
            sums = self.loss_graph(inputs, *padded_gt)
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

        def batch_detector(img_shapes: Tensor, inv_scale_factors: Optional[Tensor]) -> BatchDetections:
            with self._input_size_hint(inputs):
                return self.predict_graph(inputs, img_shapes, inv_scale_factors)

        # The graph returns detections only: the rare image whose bounded NMS was not final runs
        # the network again, alone.
        results = head.detections([s.metainfo for s in data_samples], rescale, inputs.device, batch_detector,
                                  lambda i: head(self._features(inputs[i:i + 1])))
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
