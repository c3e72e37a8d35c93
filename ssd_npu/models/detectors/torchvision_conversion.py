"""Convert torchvision's ``ssd300_vgg16`` weights into this package's SSD300 layout.

torchvision and mmdetection build the same network (VGG16 conv1_1 ... fc7,
L2-normalised conv4_3, four extra levels, one 3x3 conv per level and task)
with different module names, and they order the class logits differently:

- torchvision: 91 logits per box, index 0 is the background and index ``i``
  is COCO category id ``i`` (ten ids are unused, "N/A").
- here (mmdetection): ``num_classes + 1`` logits per box, the foreground
  classes first, in the order of the dataset's classes (for COCO, ascending
  category id), and the background LAST.

Both heads lay a level's channels out anchor-major: channel ``a * K + k`` is
class (or box coordinate) ``k`` of anchor ``a``, so selecting classes is a
reshape, an index along the class axis, and a reshape back. The regression
deltas need no change: torchvision's BoxCoder weights (10, 10, 5, 5) are the
reciprocals of the coder's target stds (0.1, 0.1, 0.2, 0.2).
"""
from collections import OrderedDict
from typing import Dict, Mapping, Sequence

import torch
from torch import Tensor

# COCO category id of each of the 80 classes, in mmdetection's (ascending id) class order.
COCO_CATEGORY_IDS = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)

NUM_LEVELS = 6


def _renamed_keys() -> Dict[str, str]:
    """torchvision name -> our name, for every tensor except the head's."""
    names = {'backbone.scale_weight': 'neck.l2_norm.weight'}
    conv_prefixes = {}
    # conv1_1 ... conv4_3 keep their index in the VGG features Sequential.
    for index in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21):
        conv_prefixes[f'backbone.features.{index}'] = f'backbone.features.{index}'
    # torchvision's extra.0 = [pool4, conv5_1, relu, conv5_2, relu, conv5_3, relu,
    #                         fc = (pool5, fc6, relu, fc7, relu)].
    for tv_index, index in ((1, 24), (3, 26), (5, 28)):
        conv_prefixes[f'backbone.extra.0.{tv_index}'] = f'backbone.features.{index}'
    conv_prefixes['backbone.extra.0.7.1'] = 'backbone.features.31'
    conv_prefixes['backbone.extra.0.7.3'] = 'backbone.features.33'
    # Extra levels: [1x1 conv, relu, 3x3 conv, relu] -> SSDNeck's two ConvModules.
    for level in range(1, 5):
        conv_prefixes[f'backbone.extra.{level}.0'] = f'neck.extra_layers.{level - 1}.0.conv'
        conv_prefixes[f'backbone.extra.{level}.2'] = f'neck.extra_layers.{level - 1}.1.conv'
    for tv_prefix, prefix in conv_prefixes.items():
        for param in ('weight', 'bias'):
            names[f'{tv_prefix}.{param}'] = f'{prefix}.{param}'
    for level in range(NUM_LEVELS):
        for param in ('weight', 'bias'):
            tv_name = f'head.regression_head.module_list.{level}.{param}'
            names[tv_name] = f'bbox_head.reg_convs.{level}.0.{param}'
    return names


def _select_classes(tensor: Tensor, num_anchors: int, class_indices: Tensor) -> Tensor:
    """Keep and reorder the class axis of an anchor-major conv weight (A*K, ...) or bias (A*K,)."""
    per_anchor = tensor.reshape(num_anchors, -1, *tensor.shape[1:])
    return per_anchor.index_select(1, class_indices).reshape(-1, *tensor.shape[1:])


def convert_torchvision_ssd300_vgg16(
        state_dict: Mapping[str, Tensor],
        category_ids: Sequence[int] = COCO_CATEGORY_IDS) -> 'OrderedDict[str, Tensor]':
    """Map a ``torchvision.models.detection.ssd300_vgg16`` state dict onto our SSD300.

    The result loads into ``configs/ssd300_coco_torchvision.py``'s model.

    Args:
        state_dict: torchvision's ``model.state_dict()`` (91 classes for the COCO weights).
        category_ids: for each of our classes, in order, its torchvision class
            index (= COCO category id for torchvision's COCO weights; 1..N for a
            model fine-tuned with ``num_classes=N + 1``). Index 0, torchvision's
            background, becomes our last class channel.

    Returns:
        Our SSD's state dict (``backbone.*``, ``neck.*``, ``bbox_head.*``) with
        ``len(category_ids) + 1`` class channels per anchor.
    """
    renamed = _renamed_keys()
    head_keys = {f'head.classification_head.module_list.{level}.{param}'
                 for level in range(NUM_LEVELS) for param in ('weight', 'bias')}
    missing = sorted((set(renamed) | head_keys) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(renamed) - head_keys)
    if missing or unexpected:
        raise KeyError('Not a torchvision ssd300_vgg16 state dict: '
                       f'missing {missing[:8]}{" ..." if len(missing) > 8 else ""}, '
                       f'unexpected {unexpected[:8]}{" ..." if len(unexpected) > 8 else ""}')

    converted = OrderedDict((renamed[key], value) for key, value in state_dict.items() if key in renamed)
    for level in range(NUM_LEVELS):
        num_anchors = state_dict[f'head.regression_head.module_list.{level}.bias'].numel() // 4
        cls_bias = state_dict[f'head.classification_head.module_list.{level}.bias']
        num_tv_classes = cls_bias.numel() // num_anchors
        bad = [i for i in category_ids if not 0 < i < num_tv_classes]
        if bad:
            raise ValueError(f'category_ids {bad} are not foreground classes of this torchvision model, '
                             f'which has {num_tv_classes} classes with index 0 the background')
        class_indices = torch.tensor([*category_ids, 0], dtype=torch.long)
        for param in ('weight', 'bias'):
            tensor = state_dict[f'head.classification_head.module_list.{level}.{param}']
            converted[f'bbox_head.cls_convs.{level}.0.{param}'] = _select_classes(tensor, num_anchors,
                                                                                  class_indices)
    return converted
