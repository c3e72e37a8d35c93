"""MobileNetV2 backbone (Sandler et al. 2018), the base network of SSDLite."""
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.utils.checkpoint as checkpoint
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ssd_npu.registry import MODELS

# Defaults of mmdetection's MobileNetV2 (module constants: never mutated).
BATCH_NORM = dict(type='BN')
RELU6 = dict(type='ReLU6')


def make_divisible(value: float, divisor: int, min_ratio: float = 0.9) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10%.

    This is the rounding of the TensorFlow MobileNet reference, which the
    published MobileNetV2 widths (and mmdetection's checkpoints) follow.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < min_ratio * value:
        rounded += divisor
    return rounded


class InvertedResidual(BaseModule):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection (paper Table 1).

    Submodule names (``expand_conv``, ``depthwise_conv``, ``linear_conv``)
    match mmdetection's so its checkpoints load. The shortcut is added when
    the block keeps resolution and width.

    Shapes: (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, stride: int,
                 conv_cfg: Optional[dict], norm_cfg: Optional[dict], act_cfg: Optional[dict],
                 with_cp: bool = False) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'InvertedResidual: stride must be 1 or 2, got {stride}')
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp = with_cp
        self.with_expand_conv = mid_channels != in_channels
        if self.with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, conv_cfg=conv_cfg,
                                          norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, 3, stride=stride, padding=1,
                                         groups=mid_channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)
        # No activation after the projection: the "linear bottleneck" of the paper (Sec. 3.2).
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, conv_cfg=conv_cfg,
                                      norm_cfg=norm_cfg, act_cfg=None)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        return self.linear_conv(self.depthwise_conv(out))

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            out = checkpoint.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return x + out if self.with_res_shortcut else out


@MODELS.register_module()
class MobileNetV2(BaseModule):
    """MobileNetV2 with mmdetection's layout (``conv1``, ``layer1`` ... ``layer7``, ``conv2``).

    Args:
        widen_factor: width multiplier applied to every stage.
        out_indices: which of ``layer1`` ... ``layer7`` (0-6) and ``conv2`` (7)
            to return. SSDLite uses (4, 7): stride 16 with 96 channels and
            stride 32 with 1280 channels.
        frozen_stages: freeze ``conv1`` and ``layer1`` ... ``layer<frozen_stages>``
            (-1: nothing frozen).
        conv_cfg, norm_cfg, act_cfg: mmcv ConvModule configs.
        norm_eval: keep batch-norm layers in eval mode while training.
        with_cp: gradient checkpointing in the blocks (saves memory, costs time).
        pretrained: deprecated path of pretrained weights, use ``init_cfg``.
        init_cfg: weight initialisation.

    Shapes: input (B, 3, H, W); the strides of ``layer1`` ... ``layer7``, ``conv2``
    are 2, 4, 8, 16, 16, 32, 32, 32 (a 320x320 input gives 20x20 and 10x10 at (4, 7)).
    """

    # expand ratio, output channels, number of blocks, stride of the first block (paper Table 2).
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                     [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self,
                 widen_factor: float = 1.,
                 out_indices: Sequence[int] = (1, 2, 4, 7),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = BATCH_NORM,
                 act_cfg: Optional[dict] = RELU6,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Union[dict, list, None] = None) -> None:
        if init_cfg and pretrained:
            raise ValueError('MobileNetV2: init_cfg and pretrained cannot be set at the same time')
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError(f'MobileNetV2: pretrained must be a str or None, got {type(pretrained)}')
            warnings.warn('MobileNetV2: pretrained is deprecated, use init_cfg=dict(type="Pretrained", ...)',
                          DeprecationWarning, stacklevel=2)
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'),
                        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
        super().__init__(init_cfg)
        if not set(out_indices).issubset(range(8)):
            raise ValueError(f'MobileNetV2: out_indices must be a subset of range(0, 8), got {out_indices}')
        if frozen_stages not in range(-1, 8):
            raise ValueError(f'MobileNetV2: frozen_stages must be in range(-1, 8), got {frozen_stages}')
        self.widen_factor = widen_factor
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = []
        for index, (expand_ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            blocks = []
            for block in range(num_blocks):
                blocks.append(InvertedResidual(in_channels, out_channels,
                                               int(round(in_channels * expand_ratio)),
                                               stride if block == 0 else 1, conv_cfg, norm_cfg, act_cfg,
                                               with_cp))
                in_channels = out_channels
            self.add_module(f'layer{index + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{index + 1}')
        # The last 1x1 conv only widens, never narrows (paper: 1280 channels for multipliers <= 1).
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(in_channels, self.out_channel, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.layers.append('conv2')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for index, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False
        for index in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{index}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'MobileNetV2':
        """Switch mode, keeping frozen stages (and all BN layers if ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
