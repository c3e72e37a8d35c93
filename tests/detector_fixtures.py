"""Random but well-conditioned detectors, a comparison of detections that tolerates float noise, and
the quarter-width demo model's config with a runner for the tools (shared by the deployment tests)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from repo_paths import CONFIGS_DIR
from tiny_configs import QUARTER_WIDTH, REPO, tiny_demo_config

from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

CONFIGS = CONFIGS_DIR
def write_quarter_width_demo(folder: Path, generator: dict, extra: str = '') -> Path:
    """``folder/tiny_demo.py``: the demo model at quarter width, its data in ``folder/synthetic``
    (generated on first use with ``generator``, e.g. ``dict(num_train=4, num_val=8)``), with
    ``extra`` config lines appended."""
    config = folder / 'tiny_demo.py'
    config.write_text(tiny_demo_config(folder / 'synthetic', generator, 8, QUARTER_WIDTH)
                      + textwrap.dedent(extra))
    return config


def run_script(args: list, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python *args`` in the repository root, one thread; with ``check``, it must exit 0."""
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1'}
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check:
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def random_detector(config: Union[str, Path], size: int, seed: int = 0,
                    options: Optional[dict] = None) -> nn.Module:
    """The model of ``config`` (a path, or relative to ``configs/``) with random weights that give
    varied scores and boxes.

    Default initialisations make nearly constant outputs (exact score ties, whose order is
    arbitrary); here convolutions are He-initialised, batch-norm statistics are those of
    random images (activations stay O(1)), and each level's class logits get std 2 and box
    deltas std 0.5, like a trained model.
    """
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / config))
    cfg.model.backbone.init_cfg = None
    cfg.merge_from_dict(options or {})
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, std=0.1)
            module.reset_running_stats()
            module.momentum = None   # a cumulative average: the statistics of the batch below
    images = model.data_preprocessor.normalise(torch.rand(4, 3, size, size) * 255)
    with torch.no_grad():
        model.train()
        model.extract_feat(images)
        model.eval()
        cls_scores, bbox_preds = model.bbox_head(model.extract_feat(images))
        head = model.bbox_head
        for level, (cls_score, bbox_pred) in enumerate(zip(cls_scores, bbox_preds)):
            for conv, output, std in ((head.cls_convs[level][-1], cls_score, 2.0),
                                      (head.reg_convs[level][-1], bbox_pred, 0.5)):
                conv.weight.mul_(std / output.std())
                conv.bias.mul_(std / output.std())
    return model


def torch_detections(model: nn.Module, images: torch.Tensor) -> list:
    """``model.predict(..., rescale=False)`` on float BGR 0..255 images [B, 3, H, W]."""
    samples = [DetDataSample(metainfo=dict(img_shape=tuple(images.shape[-2:]))) for _ in images]
    with torch.no_grad():
        results = model.predict(model.data_preprocessor.normalise(images), samples, rescale=False)
    return [result.pred_instances for result in results]


def assert_same_detections(expected, actual, box_tol: float = 1e-3, score_tol: float = 1e-5) -> None:
    """Same count, and each detection of ``actual`` equals one of ``expected`` (label equal, box within
    ``box_tol`` pixels, score within ``score_tol``). Both are sorted by score; detections whose scores
    differ by less than the float noise may come in either order, so a row is matched among those."""
    assert len(actual) == len(expected), f'{len(actual)} detections, expected {len(expected)}'
    rows = list(zip(expected.bboxes.tolist(), expected.scores.tolist(), expected.labels.tolist()))
    unmatched = list(range(len(rows)))
    for box, score, label in zip(actual.bboxes.tolist(), actual.scores.tolist(), actual.labels.tolist()):
        match = next((j for j in unmatched if abs(rows[j][1] - score) <= score_tol and rows[j][2] == label
                      and max(abs(a - b) for a, b in zip(rows[j][0], box)) <= box_tol), None)
        assert match is not None, f'no detection like {box} {score} label {label} in {rows[:5]}...'
        unmatched.remove(match)


SMALL_CLASSES = ('circle', 'square', 'triangle')


def small_ssdlite_config(num_classes: int = 3, metainfo: bool = True) -> Config:
    """Quarter-width SSDLite on 96x96 inputs with a COCO-style test pipeline."""
    cfg = Config.fromfile(str(CONFIGS_DIR / '_base_' / 'models' / 'ssdlite_mobilenetv2.py'))
    cfg.model.backbone.update(widen_factor=0.25, init_cfg=None)
    channels = (24, 1280, 64, 32, 32, 16)
    cfg.model.neck.update(in_channels=channels[:2], out_channels=channels)
    cfg.model.bbox_head.update(in_channels=channels, num_classes=num_classes)
    dataset = dict(type='CocoDataset', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(96, 96), keep_ratio=False),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ])
    if metainfo:
        dataset['metainfo'] = dict(classes=SMALL_CLASSES)
    cfg.test_dataloader = dict(dataset=dataset)
    return cfg
