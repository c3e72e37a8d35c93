"""The SSD detector: backbone -> neck -> SSDHead (Liu et al. 2016)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample

from . import checks


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

        Raises:
            ValueError: the images are smaller than the network can take (checked
                only when a layer fails, so the normal path pays nothing).
        """
        try:
            feats = self.backbone(inputs)
            return self.neck(feats) if self.with_neck else feats
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

    def loss(self, inputs: Tensor, data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Losses of a batch: ``dict(loss_cls=scalar, loss_bbox=scalar)``.

        Args:
            inputs: normalised images (B, 3, H, W).
            data_samples: one per image, with ``gt_instances.bboxes`` (N, 4) xyxy
                in input pixels and ``gt_instances.labels`` (N,) 0-based.
        """
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

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
        results = self.bbox_head.predict(self.extract_feat(inputs), data_samples, rescale=rescale)
        for sample, pred_instances in zip(data_samples, results):
            sample.pred_instances = pred_instances
        return data_samples

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[List[DetDataSample]] = None) -> Tuple[List[Tensor], List[Tensor]]:
        """Raw head outputs: per level (B, A*(C+1), H_l, W_l) class logits and (B, A*4, H_l, W_l) deltas."""
        return self.bbox_head(self.extract_feat(inputs))

    def forward(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode``: 'loss' -> dict of losses, 'predict' -> list of
        DetDataSample, 'tensor' -> raw head outputs."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'SSD: invalid mode "{mode}", expected "loss", "predict" or "tensor"')


# mmdetection's SSD configs name the detector SingleStageDetector.
MODELS.register_module(name='SingleStageDetector', module=SSD)
