"""Upgrade an mmdetection 2.x SSD checkpoint to the state-dict keys of mmdetection 3.x (and ssd_npu).

    python tools/model_converters/upgrade_mmdet2_ssd.py OLD.pth NEW.pth
    python tools/test.py configs/ssd300_coco.py NEW.pth

Checkpoints of mmdetection 2.14 and later already have these keys and load as they are (the tool
then only copies them). Before 2.14, SSDVGG held the extra layers and the L2 normalisation that
``SSDNeck`` holds now, and ``SSDHead``'s convolutions sat one level higher:

* ``backbone.extra.{i}.*``          -> ``neck.extra_layers.{i // 2}.{i % 2}.conv.*``
* ``backbone.l2_norm.weight``        -> ``neck.l2_norm.weight``
* ``bbox_head.{cls,reg}_convs.{i}.*`` -> ``bbox_head.{cls,reg}_convs.{i}.0.*``

The old file is read without running pickled code; everything but the state dict (meta, optimizer)
is kept.
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict

import torch

from mmcv_patches.checkpoint import safe_load

_EXTRA = re.compile(r'^backbone\.extra\.(\d+)\.(\w+)$')
_HEAD = re.compile(r'^bbox_head\.(cls|reg)_convs\.(\d+)\.(weight|bias)$')


def upgrade_key(key: str) -> str:
    """The 3.x name of a state-dict key of a pre-2.14 SSD (other keys are returned unchanged)."""
    extra = _EXTRA.match(key)
    if extra:
        index, name = int(extra.group(1)), extra.group(2)
        return f'neck.extra_layers.{index // 2}.{index % 2}.conv.{name}'
    if key == 'backbone.l2_norm.weight':
        return 'neck.l2_norm.weight'
    head = _HEAD.match(key)
    if head:
        return f'bbox_head.{head.group(1)}_convs.{head.group(2)}.0.{head.group(3)}'
    return key


def upgrade_state_dict(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """``state_dict`` with every key upgraded, in the same order."""
    return OrderedDict((upgrade_key(key), value) for key, value in state_dict.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('old', help='mmdetection 2.x SSD checkpoint')
    parser.add_argument('new', help='where to write the upgraded checkpoint')
    args = parser.parse_args()
    checkpoint = safe_load(args.old)
    if 'state_dict' not in checkpoint:  # a bare state dict
        checkpoint = dict(state_dict=checkpoint)
    before = list(checkpoint['state_dict'])
    checkpoint['state_dict'] = upgrade_state_dict(checkpoint['state_dict'])
    renamed = sum(old != new for old, new in zip(before, checkpoint['state_dict']))
    torch.save(checkpoint, args.new)
    print(f'wrote {args.new}: {renamed} of {len(before)} keys renamed')


if __name__ == '__main__':
    main()
