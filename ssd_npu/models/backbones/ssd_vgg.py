"""VGG backbone of SSD300/SSD512 (Liu et al. 2016, Sec. 3 "Base network")."""
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from ssd_npu.registry import MODELS

# Convolutions per stage (Simonyan & Zisserman 2015, Table 1: configurations A, B, D, E).
VGG_STAGE_BLOCKS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


@MODELS.register_module()
class SSDVGG(BaseModule):
    """Caffe-style VGG (no batch norm) turned into SSD's base network.

    ``features`` is one ``nn.Sequential`` laid out like mmcv's VGG, so that the
    state-dict keys (``features.<index>.weight``) match mmdetection's SSDVGG
    and the ``open-mmlab://vgg16_caffe`` ImageNet weights. For depth 16::

        0-22   conv1_1 ... conv4_3 + ReLU, pools 2x2/s2 (ceil mode, so 75 -> 38 at SSD300)
        23-29  pool4, conv5_1 ... conv5_3 + ReLU (the original pool5 is dropped)
        30     pool5: 3x3, stride 1, padding 1 (keeps the 19x19 resolution)
        31-32  fc6 as a 3x3 conv with dilation 6 (the paper's atrous fc6), 1024 channels, ReLU
        33-34  fc7 as a 1x1 conv, 1024 channels, ReLU

    Args:
        depth: VGG depth, one of 11, 13, 16, 19.
        with_last_pool: keep the original 2x2 pool after the last stage.
        ceil_mode: round pooled sizes up (SSD300 needs it to get 38x38 for conv4_3).
        out_indices: accepted for mmdetection config compatibility; the
            outputs are chosen by ``out_feature_indices``.
        out_feature_indices: indices in ``features`` whose outputs are returned
            (default: after conv4_3's ReLU and after fc7's ReLU).
        pretrained: deprecated path of pretrained weights, use ``init_cfg``.
        init_cfg: weight initialisation, e.g.
            ``dict(type='Pretrained', checkpoint='open-mmlab://vgg16_caffe')``.
        input_size: deprecated and ignored (mmdetection 2.x argument).
        l2_norm_scale: deprecated and ignored, L2Norm lives in ``SSDNeck``.

    Shapes: input (B, 3, H, W) float; for a 300x300 input the default outputs
    are (B, 512, 38, 38) and (B, 1024, 19, 19).
    """

    def __init__(self,
                 depth: int,
                 with_last_pool: bool = False,
                 ceil_mode: bool = True,
                 out_indices: Sequence[int] = (3, 4),
                 out_feature_indices: Sequence[int] = (22, 34),
                 pretrained: Optional[str] = None,
                 init_cfg: Union[dict, list, None] = None,
                 input_size: Optional[int] = None,
                 l2_norm_scale: Optional[float] = None) -> None:
        if depth not in VGG_STAGE_BLOCKS:
            raise KeyError(f'SSDVGG: invalid depth {depth}, expected one of {sorted(VGG_STAGE_BLOCKS)}')
        if init_cfg and pretrained:
            raise ValueError('SSDVGG: init_cfg and pretrained cannot be set at the same time')
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError(f'SSDVGG: pretrained must be a str or None, got {type(pretrained)}')
            warnings.warn('SSDVGG: pretrained is deprecated, use init_cfg=dict(type="Pretrained", ...)',
                          DeprecationWarning, stacklevel=2)
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'),
                        dict(type='Constant', val=1, layer='BatchNorm2d'),
                        dict(type='Normal', std=0.01, layer='Linear')]
        if input_size is not None:
            warnings.warn('SSDVGG: input_size is deprecated and ignored', DeprecationWarning, stacklevel=2)
        if l2_norm_scale is not None:
            warnings.warn('SSDVGG: l2_norm_scale is deprecated and ignored, set it in SSDNeck',
                          DeprecationWarning, stacklevel=2)
        super().__init__(init_cfg)
        self.out_indices = out_indices
        self.out_feature_indices = tuple(out_feature_indices)

        layers = []
        in_channels = 3
        for stage, num_convs in enumerate(VGG_STAGE_BLOCKS[depth]):
            channels = min(64 * 2**stage, 512)
            for _ in range(num_convs):
                layers += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
                in_channels = channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
        if not with_last_pool:
            layers.pop()
        layers += [
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, kernel_size=1),
            nn.ReLU(inplace=True),
        ]
        self.features = nn.Sequential(*layers)
        if max(self.out_feature_indices) >= len(self.features):
            raise ValueError(f'SSDVGG: out_feature_indices {self.out_feature_indices} out of range, '
                             f'features has {len(self.features)} layers')

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Run the base network; returns the outputs at ``out_feature_indices``."""
        outs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.out_feature_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
