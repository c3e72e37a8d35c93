import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools' / 'benchmarks'))
from pipeline_benchmark import time_pipeline  # noqa: E402


def test_times_every_step_and_counts_completed_images(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    assert cv2.imwrite(str(tmp_path / 'a.jpg'), noise)
    infos = [dict(img_path=str(tmp_path / name), img_id=i,
                  instances=[dict(bbox=[1, 1, 20, 20], bbox_label=0, ignore_flag=0)])
             for i, name in enumerate(['a.jpg', 'a.jpg', 'missing.jpg'])]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='Resize', scale=(32, 32)), dict(type='PackDetInputs')]
    np.random.seed(0)
    timing = time_pipeline(pipeline, infos, repeats=2)
    assert timing.step_names == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'PackDetInputs']
    # The missing image stops at the first step, in both passes.
    assert timing.images == 4
    assert all(s > 0 for s in timing.step_seconds) and timing.images_per_second > 0
    table = timing.table()
    assert all(name in table for name in timing.step_names) and 'img/s per core' in table
