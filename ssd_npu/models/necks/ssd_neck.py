"""SSD's extra feature layers (Liu et al. 2016, Fig. 2) and the conv4_3 L2 normalisation."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule
from torch import Tensor

from ssd_npu.registry import MODELS

# Defaults of mmdetection's SSDNeck (module constants: never mutated).
RELU = dict(type='ReLU')
XAVIER_INIT = [dict(type='Xavier', distribution='uniform', layer='Conv2d'),
               dict(type='Constant', val=1, layer='BatchNorm2d')]


class L2Norm(nn.Module):
    """Per-position L2 normalisation over channels with a learned per-channel scale.

    conv4_3 features have a much larger magnitude than the deeper ones; ParseNet
    (Liu et al. 2015) normalises them and learns the scale, initialised to 20 in SSD.
    The norm is computed in fp32 so fp16/bf16 training neither overflows the sum of
    squares nor loses the small values.

    Shapes: (B, C, H, W) -> (B, C, H, W), same dtype as the input.
    """

    def __init__(self, n_dims: int, scale: float = 20., eps: float = 1e-10) -> None:
        super().__init__()
        self.n_dims = n_dims
        self.scale = scale
        self.eps = eps
        self.weight = nn.Parameter(torch.full((n_dims,), float(scale)))

    def forward(self, x: Tensor) -> Tensor:
        x_float = x.float()
        norm = x_float.pow(2).sum(1, keepdim=True).sqrt() + self.eps
        return (self.weight.float()[None, :, None, None] * x_float / norm).type_as(x)


@MODELS.register_module()
class SSDNeck(BaseModule):
    """Turns the backbone outputs into SSD's pyramid of feature maps.

    The backbone levels pass through (the first one L2-normalised); each extra
    level is a 1x1 conv halving the width followed by a 3x3 conv (or, with
    ``use_depthwise``, a depthwise-separable 3x3 conv as in SSDLite) with the
    given stride and padding. Keys follow mmdetection's SSDNeck:
    ``l2_norm.weight``, ``extra_layers.<i>.0.conv.*`` and ``extra_layers.<i>.1.conv.*``
    (``extra_layers.<i>.1.depthwise_conv.*`` / ``.pointwise_conv.*`` when depthwise).

    Args:
        in_channels: channels of the backbone outputs, e.g. (512, 1024).
        out_channels: channels of all output levels; starts with ``in_channels``.
        level_strides: stride of the 3x3 conv of each extra level.
        level_paddings: padding of the 3x3 conv of each extra level.
        l2_norm_scale: initial L2Norm scale on the first level; None or 0 disables it.
        last_kernel_size: kernel of the last extra level's second conv (4 in SSD512).
        use_depthwise: depthwise-separable second convs (SSDLite).
        conv_cfg, norm_cfg, act_cfg: mmcv ConvModule configs.
        init_cfg: weight initialisation (Xavier uniform by default, as in the paper's Caffe code).

    Shapes: SSD300 with a 300x300 input maps (B, 512, 38, 38), (B, 1024, 19, 19) to
    six levels of sizes 38, 19, 10, 5, 3, 1.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Sequence[int],
                 level_strides: Sequence[int],
                 level_paddings: Sequence[int],
                 l2_norm_scale: Optional[float] = 20.,
                 last_kernel_size: int = 3,
                 use_depthwise: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = RELU,
                 init_cfg: Union[dict, list, None] = XAVIER_INIT) -> None:
        in_channels, out_channels = tuple(in_channels), tuple(out_channels)
        num_extra = len(out_channels) - len(in_channels)
        if num_extra <= 0 or out_channels[:len(in_channels)] != in_channels:
            raise ValueError(f'SSDNeck: out_channels {out_channels} must start with in_channels '
                             f'{in_channels} and add at least one level')
        if not len(level_strides) == len(level_paddings) == num_extra:
            raise ValueError(f'SSDNeck: need one stride and one padding per extra level ({num_extra}), got '
                             f'level_strides={tuple(level_strides)}, level_paddings={tuple(level_paddings)}')
        init_cfg = list(init_cfg) if isinstance(init_cfg, (list, tuple)) else [init_cfg] if init_cfg else []
        if l2_norm_scale:
            # The scale must survive init_weights: the Xavier/Constant rules above do not touch it.
            init_cfg.append(dict(type='Constant', val=l2_norm_scale, override=dict(name='l2_norm')))
        super().__init__(init_cfg or None)
        if l2_norm_scale:
            self.l2_norm = L2Norm(in_channels[0], l2_norm_scale)

        second_conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.extra_layers = nn.ModuleList()
        for level, (channels, stride, padding) in enumerate(zip(out_channels[len(in_channels):],
                                                                level_strides, level_paddings)):
            kernel_size = last_kernel_size if level == num_extra - 1 else 3
            self.extra_layers.append(nn.Sequential(
                ConvModule(out_channels[len(in_channels) - 1 + level], channels // 2, 1,
                           conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg),
                second_conv(channels // 2, channels, kernel_size, stride=stride, padding=padding,
                            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        outs = list(inputs)
        if hasattr(self, 'l2_norm'):
            outs[0] = self.l2_norm(outs[0])
        feat = outs[-1]
        for layer in self.extra_layers:
            feat = layer(feat)
            outs.append(feat)
        return tuple(outs)
