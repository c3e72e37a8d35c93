import numpy as np

from ssd_npu.datasets.pipeline_benchmark import time_pipeline


def test_times_every_step_and_counts_completed_images(tmp_path, write_jpeg):
    write_jpeg(tmp_path / 'a.jpg')
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
