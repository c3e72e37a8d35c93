"""SSD default boxes ("anchors"), as mmdetection 3.x's ``SSDAnchorGenerator`` lays them out."""
import math
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ssd_npu.errors import InvalidArgumentError
from ssd_npu.registry import TASK_UTILS

# When sizes come from ``basesize_ratio_range``, the first level gets a hand-picked
# smaller size (percent of the input), as in the SSD paper's COCO/VOC models and
# mmdetection: {input_size: {range start: (min %, max %)}}.
_FIRST_LEVEL_PERCENT = {
    300: {0.15: (7, 15), 0.2: (10, 20)},   # SSD300 COCO, VOC
    512: {0.1: (4, 10), 0.15: (7, 15)},    # SSD512 COCO, VOC
}


def _pair(stride: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(stride, (int, float)):
        return stride, stride
    if len(stride) != 2:
        raise InvalidArgumentError(f'SSDAnchorGenerator: a stride is an int or a (w, h) pair, got {stride!r}')
    return tuple(stride)


def sizes_from_ratio_range(basesize_ratio_range: Sequence[float], input_size: int,
                           num_levels: int) -> Tuple[List[int], List[int]]:
    """Min/max default-box sizes (pixels) of every level, spaced linearly in ``basesize_ratio_range``.

    mmdetection's integer arithmetic is kept so sizes are identical
    (SSD300 COCO: min 21, 45, 99, 153, 207, 261; max 45, 99, ..., 315).
    """
    if num_levels < 3:
        raise InvalidArgumentError(f'SSDAnchorGenerator: basesize_ratio_range needs >= 3 levels, '
                                   f'got {num_levels}')
    if input_size not in _FIRST_LEVEL_PERCENT:
        raise ValueError(f'SSDAnchorGenerator: without min_sizes/max_sizes, input_size must be 300 or 512, '
                         f'got {input_size}')
    first_level = _FIRST_LEVEL_PERCENT[input_size]
    range_start = basesize_ratio_range[0]
    if range_start not in first_level:
        raise ValueError(f'SSDAnchorGenerator: basesize_ratio_range[0] must be one of {sorted(first_level)} '
                         f'for input_size {input_size}, got {range_start}')
    min_percent = int(basesize_ratio_range[0] * 100)
    max_percent = int(basesize_ratio_range[1] * 100)
    step = int((max_percent - min_percent) / (num_levels - 2))
    percents = list(range(min_percent, max_percent + 1, step))
    if len(percents) != num_levels - 1:
        raise InvalidArgumentError(f'SSDAnchorGenerator: basesize_ratio_range {tuple(basesize_ratio_range)} '
                                   f'gives {len(percents) + 1} levels, but strides name {num_levels}')
    min_sizes = [int(input_size * p / 100) for p in percents]
    max_sizes = [int(input_size * (p + step) / 100) for p in percents]
    first_min, first_max = first_level[range_start]
    min_sizes.insert(0, int(input_size * first_min / 100))
    max_sizes.insert(0, int(input_size * first_max / 100))
    return min_sizes, max_sizes


@TASK_UTILS.register_module()
class SSDAnchorGenerator:
    """Default boxes of SSD (Liu et al. 2016, section 2.2 "Choosing scales and aspect ratios").

    At each location of level ``k`` (in this order): a square of side
    ``min_sizes[k]``, a square of side ``sqrt(min_sizes[k] * max_sizes[k])``,
    then for every ``r`` in ``ratios[k]`` a wide box (h/w = 1/r) and a tall
    box (h/w = r), all of area ``min_sizes[k]**2``. Centres sit at
    ``(i + 0.5) * stride``. Boxes are xyxy in input-image pixels and are not
    clipped to the image unless ``clip_base_wh``.

    Args:
        strides: per level, an int or (w, h) pair: the distance between centres (pixels).
        ratios: per level, the aspect ratios ``r`` (each adds two boxes).
        min_sizes, max_sizes: per level, box sizes in pixels; when both are
            None they are derived from ``basesize_ratio_range`` and ``input_size``.
        basesize_ratio_range: (smallest, largest) box size as a fraction of the input.
        input_size: side of the (square) network input in pixels.
        scale_major: mmdetection's base-box enumeration order before selecting
            the boxes above; SSD configs set False, and True reproduces
            mmdetection's (different) selection for that flag.
        clip_base_wh: clamp every box's width and height to ``input_size``,
            which is what torchvision's ``DefaultBoxGenerator(clip=True)`` does
            (it clamps the normalised w, h to 1); together with
            ``min_sizes = scales[:-1] * 300``, ``max_sizes = scales[1:] * 300``
            this reproduces torchvision's ``ssd300_vgg16`` boxes.
        use_box_type: mmdetection's option to wrap the boxes in its box type; only False
            (plain tensors) is supported.

    Argument errors are raised as :class:`InvalidArgumentError` (a ``ValueError`` that is also
    the ``AssertionError`` mmdetection raises) or, where mmdetection raises one, ``ValueError``.
    """

    def __init__(self,
                 strides: Sequence[Union[int, Sequence[int]]],
                 ratios: Sequence[Sequence[float]],
                 min_sizes: Optional[Sequence[float]] = None,
                 max_sizes: Optional[Sequence[float]] = None,
                 basesize_ratio_range: Sequence[float] = (0.15, 0.9),
                 input_size: int = 300,
                 scale_major: bool = True,
                 clip_base_wh: bool = False,
                 use_box_type: bool = False) -> None:
        if len(strides) != len(ratios):
            raise InvalidArgumentError(f'SSDAnchorGenerator: {len(strides)} strides but '
                                       f'{len(ratios)} ratio lists')
        if (min_sizes is None) != (max_sizes is None):
            raise InvalidArgumentError('SSDAnchorGenerator: give both min_sizes and max_sizes, or neither')
        if use_box_type:
            raise InvalidArgumentError('SSDAnchorGenerator: use_box_type=True is not supported by ssd_npu '
                                       '(anchors are plain Tensor[N, 4], xyxy)')
        self.strides = [_pair(s) for s in strides]
        self.centers = [(sw / 2., sh / 2.) for sw, sh in self.strides]
        self.input_size = input_size
        self.basesize_ratio_range = tuple(basesize_ratio_range)
        if min_sizes is None:
            if len(basesize_ratio_range) != 2 or not all(isinstance(r, float) for r in basesize_ratio_range):
                raise InvalidArgumentError(f'SSDAnchorGenerator: basesize_ratio_range is a pair of floats, '
                                           f'got {basesize_ratio_range!r}')
            min_sizes, max_sizes = sizes_from_ratio_range(basesize_ratio_range, input_size, len(strides))
        if not len(min_sizes) == len(max_sizes) == len(strides):
            raise InvalidArgumentError(f'SSDAnchorGenerator: {len(min_sizes)} min_sizes and '
                                       f'{len(max_sizes)} max_sizes for {len(strides)} levels')
        self.min_sizes = list(min_sizes)
        self.max_sizes = list(max_sizes)
        self.ratios = [list(r) for r in ratios]
        self.scale_major = scale_major
        self.clip_base_wh = clip_base_wh
        self.use_box_type = use_box_type
        self.base_anchors = [self._level_base_anchors(k) for k in range(len(self.strides))]

    @property
    def num_levels(self) -> int:
        """Number of feature levels."""
        return len(self.strides)

    @property
    def num_base_priors(self) -> List[int]:
        """Boxes per location of each level (2 + 2 * len(ratios[k]))."""
        return [b.size(0) for b in self.base_anchors]

    @property
    def num_base_anchors(self) -> List[int]:
        """mmdetection's older name of :attr:`num_base_priors`."""
        return self.num_base_priors

    def _level_base_anchors(self, k: int) -> Tensor:
        """Tensor[num_base_priors[k], 4]: the boxes of one location centred at ``centers[k]``.

        The float32 arithmetic follows mmdetection's order so values are bit-identical.
        """
        size = self.min_sizes[k]
        scales = torch.tensor([1., math.sqrt(self.max_sizes[k] / self.min_sizes[k])], dtype=torch.float32)
        box_ratios = [1.]
        for r in self.ratios[k]:
            box_ratios += [1 / r, r]
        h_ratios = torch.sqrt(torch.tensor(box_ratios, dtype=torch.float32))
        w_ratios = 1 / h_ratios
        if self.scale_major:
            ws = (size * w_ratios[:, None] * scales[None, :]).reshape(-1)
            hs = (size * h_ratios[:, None] * scales[None, :]).reshape(-1)
        else:
            ws = (size * scales[:, None] * w_ratios[None, :]).reshape(-1)
            hs = (size * scales[:, None] * h_ratios[None, :]).reshape(-1)
        if self.clip_base_wh:
            ws = ws.clamp(max=self.input_size)
            hs = hs.clamp(max=self.input_size)
        cx, cy = self.centers[k]
        boxes = torch.stack([cx - 0.5 * ws, cy - 0.5 * hs, cx + 0.5 * ws, cy + 0.5 * hs], dim=-1)
        # Keep: (scale 1, ratio 1), (scale 2, ratio 1), then scale 1 with every other ratio.
        num_ratios = len(box_ratios)
        keep = [0, num_ratios] + list(range(1, num_ratios))
        return boxes[keep]

    def single_level_grid_priors(self, featmap_size: Sequence[int], level_idx: int,
                                 dtype: torch.dtype = torch.float32,
                                 device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Tensor[H * W * A, 4]: boxes of one level, location-major (row by row), then the A boxes."""
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        base = self.base_anchors[level_idx].to(device=device, dtype=dtype)
        shift_x = torch.arange(feat_w, device=device).to(dtype) * stride_w
        shift_y = torch.arange(feat_h, device=device).to(dtype) * stride_h
        yy, xx = torch.meshgrid(shift_y, shift_x, indexing='ij')
        shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
        return (shifts + base[None]).reshape(-1, 4)

    def grid_priors(self, featmap_sizes: Sequence[Sequence[int]], dtype: torch.dtype = torch.float32,
                    device: Union[str, torch.device] = 'cpu') -> List[Tensor]:
        """Boxes of every level for feature maps of the given (H, W) sizes.

        Returns:
            list of Tensor[H_k * W_k * A_k, 4], xyxy pixels; the order matches the
            head's ``permute(0, 2, 3, 1)`` flattening of its A_k * C channels.
        """
        self._check_num_levels(featmap_sizes)
        return [self.single_level_grid_priors(size, k, dtype, device) for k, size in enumerate(featmap_sizes)]

    def grid_anchors(self, featmap_sizes: Sequence[Sequence[int]],
                     device: Union[str, torch.device] = 'cpu') -> List[Tensor]:
        """Deprecated (as in mmdetection): :meth:`grid_priors` in float32."""
        warnings.warn('SSDAnchorGenerator.grid_anchors is deprecated, use grid_priors', FutureWarning,
                      stacklevel=2)
        return self.grid_priors(featmap_sizes, device=device)

    def sparse_priors(self, prior_idxs: Tensor, featmap_size: Sequence[int], level_idx: int,
                      dtype: torch.dtype = torch.float32,
                      device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Tensor[N, 4]: the boxes at the given indices of level ``level_idx``'s :meth:`grid_priors`.

        Args:
            prior_idxs: Tensor[N] (int64), indices into the level's H * W * A boxes.
            featmap_size: (H, W) of the level.
        """
        feat_h, feat_w = featmap_size
        num_base = self.num_base_priors[level_idx]
        stride_w, stride_h = self.strides[level_idx]
        location = prior_idxs // num_base
        x = (location % feat_w).to(dtype) * stride_w
        y = (location // feat_w % feat_h).to(dtype) * stride_h
        base = self.base_anchors[level_idx].to(device=prior_idxs.device, dtype=dtype)[prior_idxs % num_base]
        return (torch.stack([x, y, x, y], dim=1) + base).to(device)

    def valid_flags(self, featmap_sizes: Sequence[Sequence[int]], pad_shape: Sequence[int],
                    device: Union[str, torch.device] = 'cpu') -> List[Tensor]:
        """Per level, Tensor[H * W * A] (bool): True for the boxes whose centre-grid cell lies
        inside the padded image ``pad_shape`` (h, w[, c]), ``ceil(h / stride)`` cells down and
        ``ceil(w / stride)`` across (mmdetection's rule)."""
        self._check_num_levels(featmap_sizes)
        img_h, img_w = pad_shape[:2]
        flags = []
        for k, (feat_h, feat_w) in enumerate(featmap_sizes):
            stride_w, stride_h = self.strides[k]
            valid_h = min(math.ceil(img_h / stride_h), feat_h)
            valid_w = min(math.ceil(img_w / stride_w), feat_w)
            flags.append(self.single_level_valid_flags((feat_h, feat_w), (valid_h, valid_w),
                                                       self.num_base_priors[k], device))
        return flags

    @staticmethod
    def single_level_valid_flags(featmap_size: Sequence[int], valid_size: Sequence[int],
                                 num_base_anchors: int, device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Tensor[H * W * A] (bool): True for the A boxes of every cell in the top-left
        ``valid_size`` (h, w) corner of a ``featmap_size`` (H, W) grid."""
        (feat_h, feat_w), (valid_h, valid_w) = featmap_size, valid_size
        if valid_h > feat_h or valid_w > feat_w:
            raise InvalidArgumentError(f'SSDAnchorGenerator: valid size {tuple(valid_size)} exceeds the '
                                       f'feature map size {tuple(featmap_size)}')
        valid_y = torch.arange(feat_h, device=device) < valid_h
        valid_x = torch.arange(feat_w, device=device) < valid_w
        valid = valid_y[:, None] & valid_x[None, :]
        return valid.reshape(-1, 1).expand(-1, num_base_anchors).reshape(-1)

    def _check_num_levels(self, featmap_sizes: Sequence[Sequence[int]]) -> None:
        if len(featmap_sizes) != self.num_levels:
            raise InvalidArgumentError(f'SSDAnchorGenerator: got {len(featmap_sizes)} feature map sizes for '
                                       f'{self.num_levels} levels')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(strides={self.strides}, ratios={self.ratios}, '
                f'min_sizes={self.min_sizes}, max_sizes={self.max_sizes}, scale_major={self.scale_major}, '
                f'input_size={self.input_size}, clip_base_wh={self.clip_base_wh})')
