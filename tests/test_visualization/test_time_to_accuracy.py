"""tools/analysis_tools/time_to_accuracy.py on hand-written logs: the clock ssd_npu logs (a resumed
run in two folders), the clock estimated from an mmdetection log, the table and the plot."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssd_npu.visualization.time_to_accuracy import accuracy_curve, format_table

REPO = Path(__file__).resolve().parents[2]


def write_log(work_dir: Path, timestamp: str, records: list, config: str = '') -> None:
    folder = work_dir / timestamp / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(''.join(json.dumps(record) + '\n' for record in records))
    if config:
        (folder / 'config.py').write_text(config)


def val(step: int, value: float, seconds: float = None, images: int = None, val_seconds: float = 5.0) -> dict:
    record = {'coco/bbox_mAP': value, 'coco/bbox_mAP_50': min(1.0, 2 * value), 'time': 0.1, 'step': step}
    if seconds is not None:
        record.update(train_seconds=seconds, train_images=images, val_seconds=val_seconds)
    return record


@pytest.fixture
def ours(tmp_path):
    """Validations after epochs 1-3 at 60, 120, 180 s of training (16 images per epoch); the run was
    resumed from epoch 2, which it validated again."""
    work_dir = tmp_path / 'ours'
    write_log(work_dir, '20260101_000000', [
        {'loss': 2.0, 'time': 1.0, 'epoch': 1, 'iter': 4, 'step': 4, 'train_seconds': 60.0,
         'train_images': 16},
        val(1, 0.20, 60.0, 16), val(2, 0.40, 120.0, 32)])
    write_log(work_dir, '20260101_010000', [val(2, 0.41, 120.0, 32), val(3, 0.55, 180.0, 48)])
    return work_dir


@pytest.fixture
def mmdetection(tmp_path):
    """An mmdetection log: window-averaged iteration times every 2 iterations, 4 iterations per
    epoch, batch 8 in the dumped config (whose inf does not execute)."""
    work_dir = tmp_path / 'mmdet'
    train = [{'loss': 1.0, 'time': t, 'epoch': epoch, 'iter': it, 'step': it}
             for epoch, it, t in [(1, 2, 1.0), (1, 4, 2.0), (2, 6, 1.5), (2, 8, 1.5)]]
    config = ('optim_wrapper = dict(clip_grad=dict(max_norm=inf))\n'
              'train_dataloader = dict(\n    batch_size=8,\n)\n')
    write_log(work_dir, '20260101_000000', [*train[:2], val(1, 0.35), *train[2:], val(2, 0.6)], config)
    return work_dir


def test_our_clock_is_read_from_the_validations_of_every_folder(ours):
    curve = accuracy_curve(str(ours))
    assert curve.metric == 'coco/bbox_mAP' and not curve.estimated
    assert curve.values == [0.20, 0.41, 0.55]   # the resumed run's validation of epoch 2 counts
    assert curve.train_time == [60.0, 120.0, 180.0] and curve.train_images == [16, 32, 48]
    assert curve.time_to(0.3) == 120.0 and curve.time_to(0.5) == 180.0 and curve.time_to(0.6) is None
    assert curve.images_to(0.5) == 48 and curve.images_per_second == pytest.approx(48 / 180)
    assert curve.val_time == 15.0


def test_an_mmdetection_log_gets_an_estimated_clock(mmdetection):
    curve = accuracy_curve(str(mmdetection), 'bbox_mAP_50')
    assert curve.metric == 'coco/bbox_mAP_50' and curve.estimated
    # epoch 1: 2 iterations at 1.0 s + 2 at 2.0 s; epoch 2 adds 4 at 1.5 s
    assert curve.train_time == [6.0, 12.0] and curve.train_images == [32, 64]
    assert curve.values == [0.7, 1.0]


def test_the_table_gives_minutes_and_images_to_each_target(ours, mmdetection):
    table = format_table([accuracy_curve(str(ours)), accuracy_curve(str(mmdetection))], [0.3, 0.5])
    lines = table.splitlines()
    assert lines[0] == ('| run | final coco/bbox_mAP | train min | img/s | min to 0.3 | min to 0.5 | '
                        'images to 0.3 | images to 0.5 | val min |')
    assert lines[2] == '| ours | 0.550 | 3.00 | 0.3 | 2.00 | 3.00 | 32 | 48 | 0.25 |'
    assert lines[3] == '| mmdet (estimated clock) | 0.600 | 0.20 | 5.3 | 0.10 | 0.20 | 32 | 64 | - |'


def run(args: list) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    tool = REPO / 'tools' / 'analysis_tools' / 'time_to_accuracy.py'
    return subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_command_writes_the_plot_and_prints_the_table(ours, mmdetection, tmp_path):
    out = tmp_path / 'tta.png'
    result = run([str(ours), str(mmdetection), '--out', str(out), '--names', 'A', 'B', '--targets', '0.5'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert '| A | 0.550 | 3.00 |' in result.stdout and '| B (estimated clock) | 0.600 |' in result.stdout
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize('extra, message', [
    (['--names', 'only-one', 'two'], '--names needs 1 names'),
    (['--metric', 'segm_mAP'], "has no 'segm_mAP'"),
])
def test_mistakes_are_one_line_errors(ours, tmp_path, extra, message):
    result = run([str(ours), '--out', str(tmp_path / 'x.png'), *extra])
    assert result.returncode == 1 and message in result.stderr and 'Traceback' not in result.stderr
    result = run([str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'x.png')])
    assert result.returncode == 1 and 'has no <timestamp>/vis_data/scalars.json' in result.stderr
