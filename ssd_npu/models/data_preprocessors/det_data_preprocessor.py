"""Batch collation and normalisation on the target device (mmdetection 3.x's DetDataPreprocessor)."""
import math
from numbers import Number
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor
from torch import Tensor

from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample, GroundTruthPadding


@MODELS.register_module()
class DetDataPreprocessor(ImgDataPreprocessor):
    """Moves a batch to the model's device, then stacks, converts and normalises it there.

    Images travel to the device in the dtype the pipeline gave them (test
    images uint8, a quarter of float32's bytes; training images float32 after
    mmdetection's ``PhotoMetricDistortion`` arithmetic, uint8 with
    ``saturate=True``) and the float conversion, BGR->RGB swap,
    ``(x - mean) / std`` and padding run on the device, in :meth:`normalise` for every
    path (eager, compiled, exported to ONNX). When every image of the batch has the same
    shape (SSD resizes to a fixed size) they are stacked first, so the
    normalisation is one batched op instead of one op per image.

    Args:
        mean, std: per-channel values in the channel order after the
            optional swap (RGB for ``bgr_to_rgb=True``), in 0-255 pixel units.
        pad_size_divisor: pad height and width up to a multiple of this.
        pad_value: value of the padded pixels (after normalisation).
        bgr_to_rgb, rgb_to_bgr: swap the channel order of 3-channel inputs.
        boxtype2tensor: replace box objects with a ``.tensor`` attribute (mmdetection's
            ``HorizontalBoxes``) in ``gt_instances.bboxes`` by plain tensors.
        non_blocking: asynchronous host-to-device copies.
        batch_augments: configs of batch augmentations applied in training,
            each a module called as ``inputs, data_samples = aug(inputs, data_samples)``.

    Input ``data``: ``dict(inputs=list of uint8/float32 Tensor[3, H, W] or Tensor[B, 3, H, W],
    data_samples=list of DetDataSample)``. Output: ``dict(inputs=float Tensor[B, 3, H', W'],
    data_samples=...)`` with ``batch_input_shape`` (H', W') and ``pad_shape`` (each image's
    own padded size) added to every sample's metainfo. In training, when the detector handed
    it a padding (:meth:`set_gt_padding`; SSD does, from ``train_cfg.gt_pad_size``), also
    ``padded_gt``: the ground truth as fixed-size tensors on the device
    (:class:`~ssd_npu.structures.PaddedGroundTruth`), which the detector's loss graph takes.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 pad_size_divisor: int = 1,
                 pad_value: Union[float, int] = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 boxtype2tensor: bool = True,
                 non_blocking: Optional[bool] = False,
                 batch_augments: Optional[List[dict]] = None) -> None:
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         bgr_to_rgb=bgr_to_rgb, rgb_to_bgr=rgb_to_bgr, non_blocking=non_blocking)
        self.boxtype2tensor = boxtype2tensor
        # Handed over by the detector (set_gt_padding); None: no padded GT.
        self.gt_padding: Optional[GroundTruthPadding] = None
        self.pad_ignored_regions = False
        self._normalise_batch: Optional[Callable[[Tensor], Tensor]] = None
        self.batch_augments = (nn.ModuleList([MODELS.build(aug) for aug in batch_augments])
                               if batch_augments is not None else None)

    def set_gt_padding(self, padding: Optional[GroundTruthPadding], with_ignored: bool = False) -> None:
        """Deliver training ground truth padded by ``padding`` (None: no ``padded_gt``), with the
        ``ignored_instances`` padded too when ``with_ignored``."""
        self.gt_padding = padding
        self.pad_ignored_regions = with_ignored

    def forward(self, data: dict, training: bool = False) -> dict:
        """Collate, normalise and pad a batch; see the class docstring for the format."""
        inputs = data['inputs']
        if isinstance(inputs, Sequence) and len({tuple(img.shape) for img in inputs}) == 1:
            data = {**data, 'inputs': torch.stack(list(inputs))}
        pad_shapes = self._pad_shapes(data['inputs'])
        padded_gt = None
        if training and self.gt_padding is not None and data.get('data_samples') is not None:
            # Padded where the boxes are (the host), then one copy per tensor to the device.
            padded_gt = self.gt_padding.pad_data_samples(data['data_samples'], self.device,
                                                         with_ignored=self.pad_ignored_regions)
        data = self.cast_data(data)
        data.setdefault('data_samples', None)
        # Always without autograd (images need no gradient).
        with torch.no_grad():
            if isinstance(data['inputs'], Tensor):   # (B, C, H, W): checked by _pad_shapes
                # On float images (training batches are float32 after PhotoMetricDistortion, test
                # batches uint8), so that training and testing share one compiled graph.
                normalise = self._normalise_batch or self.normalise
                data['inputs'] = normalise(data['inputs'].float())
            else:
                data['inputs'] = self._normalise_images(data['inputs'])
        inputs, data_samples = data['inputs'], data['data_samples']
        if data_samples is not None:
            batch_input_shape = tuple(inputs.shape[-2:])
            for sample, pad_shape in zip(data_samples, pad_shapes):
                sample.set_metainfo({'batch_input_shape': batch_input_shape, 'pad_shape': pad_shape})
            if self.boxtype2tensor:
                _boxes_to_tensors(data_samples)
        if training and self.batch_augments is not None:
            for augment in self.batch_augments:
                inputs, data_samples = augment(inputs, data_samples)
            if padded_gt is not None:   # the augments may have moved boxes
                padded_gt = self.gt_padding.pad_data_samples(data_samples, self.device,
                                                             with_ignored=self.pad_ignored_regions)
        if padded_gt is not None:
            return {'inputs': inputs, 'data_samples': data_samples, 'padded_gt': padded_gt}
        return {'inputs': inputs, 'data_samples': data_samples}

    def normalise(self, inputs: Tensor) -> Tensor:
        """Tensor[B, C, H, W] (any dtype, on the device) -> float, channels swapped, ``(x - mean) / std``,
        padded to ``pad_size_divisor``: what mmengine's ImgDataPreprocessor computes, as one function."""
        if self._channel_conversion and inputs.size(1) == 3:
            inputs = inputs.flip(1)
        inputs = inputs.float()
        if self._enable_normalize:
            inputs = (inputs - self.mean) / self.std
        height, width = inputs.shape[-2:]
        pad_h = math.ceil(height / self.pad_size_divisor) * self.pad_size_divisor - height
        pad_w = math.ceil(width / self.pad_size_divisor) * self.pad_size_divisor - width
        if pad_h or pad_w:
            inputs = F.pad(inputs, (0, pad_w, 0, pad_h), 'constant', self.pad_value)
        return inputs

    def _normalise_images(self, images: Sequence[Tensor]) -> Tensor:
        """Images of different sizes, each Tensor[C, H_i, W_i]: each through :meth:`normalise`, then
        padded with ``pad_value`` to the batch's largest (divisor-padded) size and stacked."""
        normalised = [self.normalise(image[None])[0] for image in images]
        height = max(image.size(-2) for image in normalised)
        width = max(image.size(-1) for image in normalised)
        return torch.stack([F.pad(image, (0, width - image.size(-1), 0, height - image.size(-2)),
                                  'constant', self.pad_value) for image in normalised])

    def compile_normalisation(self, **compile_kwargs) -> None:
        """Run :meth:`normalise` through ``torch.compile`` for stacked batches (SSD's fixed-size inputs)."""
        self._normalise_batch = torch.compile(self.normalise, **compile_kwargs)

    def _pad_shapes(self, inputs: Union[Tensor, Sequence[Tensor]]) -> List[Tuple[int, int]]:
        """Each image's (h, w) after padding to ``pad_size_divisor``."""
        if isinstance(inputs, Tensor):
            if inputs.dim() != 4:
                raise ValueError(f'DetDataPreprocessor: a batched input must be (B, C, H, W), '
                                 f'got shape {tuple(inputs.shape)}')
            sizes = [tuple(inputs.shape[-2:])] * inputs.shape[0]
        else:
            sizes = [tuple(img.shape[-2:]) for img in inputs]
        divisor = self.pad_size_divisor
        return [(math.ceil(h / divisor) * divisor, math.ceil(w / divisor) * divisor) for h, w in sizes]


def _boxes_to_tensors(data_samples: Sequence[DetDataSample]) -> None:
    """Unwrap box objects (anything with a ``.tensor``) into plain (N, 4) tensors, in place."""
    for sample in data_samples:
        for field in ('gt_instances', 'pred_instances', 'ignored_instances'):
            instances = getattr(sample, field, None)
            if instances is not None and 'bboxes' in instances and hasattr(instances.bboxes, 'tensor'):
                instances.bboxes = instances.bboxes.tensor
