import re
import sys

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules


def _pre_2_14_key(key: str) -> str:
    """How mmdetection before 2.14 named an SSD300 key (written from the layout, the inverse of the tool)."""
    extra = re.match(r'^neck\.extra_layers\.(\d+)\.(\d+)\.conv\.(\w+)$', key)
    if extra:
        return f'backbone.extra.{int(extra.group(1)) * 2 + int(extra.group(2))}.{extra.group(3)}'
    if key == 'neck.l2_norm.weight':
        return 'backbone.l2_norm.weight'
    return re.sub(r'^bbox_head\.(cls|reg)_convs\.(\d+)\.0\.', r'bbox_head.\1_convs.\2.', key)


def test_pre_2_14_ssd300_checkpoint_loads_strictly_after_the_upgrade(tmp_path, run_tool):
    register_all_modules()
    cfg = Config.fromfile('configs/ssd300_coco.py')
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    old = {_pre_2_14_key(key): value for key, value in state.items()}
    assert 'backbone.extra.7.bias' in old and 'bbox_head.cls_convs.5.weight' in old
    meta = dict(mmdet_version='2.13.0', CLASSES=('person',) * 80, epoch=24)
    torch.save(dict(meta=meta, state_dict=old), tmp_path / 'old.pth')

    result = run_tool(['python', 'tools/model_converters/upgrade_mmdet2_ssd.py', str(tmp_path / 'old.pth'),
                       str(tmp_path / 'new.pth')], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    moved = sum(not key.startswith('backbone.') for key in state)  # the neck's and the head's
    assert f'{moved} of {len(state)} keys renamed' in result.stdout

    fresh = MODELS.build(cfg.model)
    checkpoint = load_checkpoint(fresh, str(tmp_path / 'new.pth'), map_location='cpu', strict=True)
    assert checkpoint['meta'] == meta
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)


def test_current_keys_are_kept(tmp_path):
    sys.path.insert(0, 'tools/model_converters')
    from upgrade_mmdet2_ssd import upgrade_key

    for key in ('backbone.features.0.weight', 'neck.l2_norm.weight', 'bbox_head.cls_convs.0.0.weight'):
        assert upgrade_key(key) == key
