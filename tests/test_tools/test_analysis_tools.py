"""The analysis tools run end to end on small inputs: log curves, dataset browsing, FLOPs, configs."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch.nn as nn
from repo_paths import CONFIGS_DIR

from ssd_npu.registry import MODELS
from ssd_npu.visualization.log_curves import curve, load_json_log, train_time_stats

REPO = Path(__file__).resolve().parents[2]


def _tool(relative: str):
    """Import a script of tools/ as a module (they are not a package)."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_log(path: Path, iter_times=(0.9, 0.5, 0.5, 0.7, 0.3, 0.3)) -> Path:
    """An mmengine epoch-based json log: 2 epochs x 3 logged train intervals, val after each epoch."""
    lines = []
    for i, time in enumerate(iter_times):
        epoch, step = i // 3 + 1, (i + 1) * 50
        lines.append(dict(lr=0.002, data_time=0.1, loss=3.0 - 0.2 * i, loss_cls=2.0 - 0.1 * i, loss_bbox=1.0,
                          time=time, epoch=epoch, iter=step, memory=100, step=step))
        if i % 3 == 2:
            lines.append({'coco/bbox_mAP': 0.1 * epoch, 'coco/bbox_mAP_50': 0.2 * epoch, 'data_time': 0.01,
                          'time': 0.2, 'step': epoch})
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    return path


def test_plot_curve_writes_a_png(tmp_path):
    log = _write_log(tmp_path / '20260101_000000.json')
    out = tmp_path / 'curve.png'
    _tool('tools/analysis_tools/analyze_logs.py').main(
        ['plot_curve', str(log), str(log), '--keys', 'loss', 'bbox_mAP', '--out', str(out),
         '--legend', 'run_a', 'run_b', '--title', 'ssd'])
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 400 and image.shape[1] > 400
    # Training keys run over the global iteration, metrics over the epoch, found without prefix.
    parsed = load_json_log(str(log))
    xs, ys, label = curve(parsed, 'bbox_mAP')
    assert label == 'epoch' and xs.tolist() == [1, 2] and ys.tolist() == pytest.approx([0.1, 0.2])
    xs, ys, label = curve(parsed, 'loss')
    assert label == 'iter' and xs.tolist() == [50, 100, 150, 200, 250, 300]


def test_plot_curve_unknown_key_lists_available_keys(tmp_path):
    log = load_json_log(str(_write_log(tmp_path / 'log.json')))
    with pytest.raises(KeyError, match=r"no 'segm_mAP'.*coco/bbox_mAP"):
        curve(log, 'segm_mAP')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"loss": 1, "iter": 1}\nnot json\n')
    with pytest.raises(ValueError, match='broken.json:2'):
        load_json_log(str(broken))


def test_cal_train_time(tmp_path, capsys):
    log = _write_log(tmp_path / 'log.json')
    stats = train_time_stats(load_json_log(str(log)))
    # First interval of each epoch left out: epoch 1 -> 0.5, epoch 2 -> 0.3.
    assert stats['slowest_epoch'] == 1 and stats['slowest_time'] == pytest.approx(0.5)
    assert stats['fastest_epoch'] == 2 and stats['mean_iter_time'] == pytest.approx(0.4)
    assert stats['std_over_epochs'] == pytest.approx(0.1)
    assert train_time_stats(load_json_log(str(log)), include_outliers=True)['slowest_time'] == pytest.approx(
        1.9 / 3)
    _tool('tools/analysis_tools/analyze_logs.py').main(['cal_train_time', str(log)])
    assert 'average iter time: 0.4000 s/iter' in capsys.readouterr().out


def _tiny_coco(root: Path) -> None:
    """Two 80x60 images, each with one filled rectangle annotated as 'box'."""
    (root / 'images').mkdir(parents=True)
    images, anns = [], []
    for i in range(2):
        img = np.full((60, 80, 3), 40, dtype=np.uint8)
        cv2.rectangle(img, (10 + 10 * i, 10), (50 + 10 * i, 40), (250, 250, 250), -1)
        cv2.imwrite(str(root / 'images' / f'{i}.jpg'), img)
        images.append(dict(id=i + 1, file_name=f'{i}.jpg', width=80, height=60))
        anns.append(dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[10 + 10 * i, 10, 40, 30], area=1200,
                         iscrowd=0))
    (root / 'ann.json').write_text(json.dumps(dict(images=images, annotations=anns,
                                                   categories=[dict(id=1, name='box')])))


def test_browse_dataset_draws_the_augmented_ground_truth(tmp_path):
    _tiny_coco(tmp_path / 'data')
    config = tmp_path / 'browse_cfg.py'
    config.write_text(f"""
default_scope = 'ssd_npu'
train_dataloader = dict(dataset=dict(
    type='RepeatDataset', times=2,
    dataset=dict(type='CocoDataset', data_root='{tmp_path / 'data'}/', ann_file='ann.json',
                 data_prefix=dict(img='images/'), metainfo=dict(classes=('box',)),
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                           dict(type='Resize', scale=(64, 48), keep_ratio=False),
                           dict(type='PackDetInputs')])))
visualizer = dict(type='DetLocalVisualizer', name='browse_test', line_width=2)
""")
    out_dir = tmp_path / 'vis'
    _tool('tools/analysis_tools/browse_dataset.py').main(
        [str(config), '--output-dir', str(out_dir), '--not-show', '--max-samples', '3'])
    written = sorted(p.name for p in out_dir.iterdir())
    # Index-prefixed names: the repeated dataset shows image 0 twice without overwriting.
    assert written == ['000000_0.jpg', '000001_1.jpg', '000002_0.jpg']
    drawn = cv2.imread(str(out_dir / '000000_0.jpg'))
    assert drawn.shape == (48, 64, 3)
    # The box (10..50 x 10..40 in 80x60, i.e. 8..40 x 8..32 at 64x48) has a coloured edge on its left.
    edge = drawn[20, 8].astype(int)
    assert edge.max() - edge.min() > 40


@MODELS.register_module(force=True)
class TinyFlopsNet(nn.Module):
    """A stand-in model whose FLOPs are easy to count by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.conv(inputs)


def test_get_flops_on_a_stand_in_model(tmp_path, capsys):
    config = tmp_path / 'flops_cfg.py'
    config.write_text("model = dict(type='TinyFlopsNet')\n")
    tool = _tool('tools/analysis_tools/get_flops.py')
    from mmengine.config import Config
    result = tool.model_complexity(Config.fromfile(str(config)), 8, 10)
    # 8 x 10 outputs x 4 channels x (3 x 3 x 3) multiply-adds; 4 x 27 weights + 4 biases.
    assert result == dict(flops=8 * 10 * 4 * 27, params=4 * 27 + 4)
    tool.main([str(config), '--shape', '16'])
    out = capsys.readouterr().out
    assert 'Input shape: (1, 3, 16, 16)' in out and 'Flops: 27.648K' in out and 'Params: 0.112K' in out


@pytest.mark.slow
def test_get_flops_ssd300_matches_the_published_size():
    """SSD300 (COCO, 80 classes): 34.3M parameters (mmdetection's model zoo), ~34 GFLOPs
    (torchvision's ssd300_vgg16: 34.9 with 91 classes)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIGS_DIR / '_base_' / 'models' / 'ssd300.py'))
    cfg.model.backbone.init_cfg = None
    result = _tool('tools/analysis_tools/get_flops.py').model_complexity(cfg, 300, 300)
    assert result['params'] == pytest.approx(34.3e6, rel=0.01)
    assert 33e9 < result['flops'] < 36e9


def test_print_config_merges_options(tmp_path, capsys):
    base = tmp_path / 'base.py'
    base.write_text("train_dataloader = dict(batch_size=8, num_workers=2)\nlr = 0.1\n")
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base.py']\nlr = 0.01\n")
    _tool('tools/misc/print_config.py').main([str(child), '--cfg-options', 'train_dataloader.batch_size=4'])
    out = capsys.readouterr().out
    assert 'batch_size=4' in out and 'num_workers=2' in out and 'lr = 0.01' in out
