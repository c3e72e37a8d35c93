"""Checks that turn a mismatched config into a clear error instead of a shape error deep in a conv."""
from typing import Sequence

import torch
import torch.nn as nn
from torch import Tensor
from torch.func import functional_call


def check_num_classes(model: nn.Module, classes: Sequence[str], source: str = 'the dataset') -> None:
    """Raise ``ValueError`` when the model's head predicts another number of classes than ``classes``.

    Args:
        model: a detector with a ``bbox_head`` (wrapped in DDP or not).
        classes: class names, e.g. ``dataset.metainfo['classes']``.
        source: where ``classes`` come from, used in the message (a dataset
            or annotation file name).
    """
    detector = getattr(model, 'module', model)
    head = getattr(detector, 'bbox_head', None)
    if head is None or not hasattr(head, 'num_classes'):
        raise TypeError(f'check_num_classes: {type(detector).__name__} has no bbox_head.num_classes')
    if isinstance(classes, str):
        raise TypeError(f'check_num_classes: classes must be a sequence of names, got the string {classes!r}')
    if head.num_classes != len(classes):
        raise ValueError(
            f'The model predicts {head.num_classes} classes (model.bbox_head.num_classes) but {source} '
            f'has {len(classes)}: {tuple(classes)}. Set model.bbox_head.num_classes={len(classes)} in the '
            'config, or set the dataset metainfo classes to the ones the model was trained on.')


def min_input_size(feature_extractor: nn.Module, upper: int = 4096) -> int:
    """Smallest side length s such that an s x s image gives every feature level at least 1x1.

    The extractor runs on the ``meta`` device (shapes only, no arithmetic, the
    module's own tensors untouched), so the search costs milliseconds even for
    VGG. Convolutions and pools treat height and width independently, so an
    H x W input works iff min(H, W) >= s.

    Args:
        feature_extractor: maps a (B, 3, s, s) image batch to one tensor or a
            sequence of (B, C, h, w) feature maps, e.g. ``nn.Sequential(backbone, neck)``.
        upper: largest side tried; ``ValueError`` if even that is too small.
    """
    meta_tensors = {name: tensor.to('meta')
                    for name, tensor in feature_extractor.state_dict(keep_vars=True).items()}

    def fits(size: int) -> bool:
        # Batch of 2: batch norm in training mode refuses a single value per channel.
        image = torch.empty(2, 3, size, size, device='meta')
        try:
            feats = functional_call(feature_extractor, meta_tensors, (image,))
        except (RuntimeError, ValueError):
            return False
        feats = [feats] if isinstance(feats, Tensor) else feats
        return all(min(feat.shape[-2:]) >= 1 for feat in feats)

    if not fits(upper):
        raise ValueError(f'min_input_size: even a {upper}x{upper} input gives an empty feature level')
    low, high = 1, upper
    while low < high:
        mid = (low + high) // 2
        if fits(mid):
            high = mid
        else:
            low = mid + 1
    return low
