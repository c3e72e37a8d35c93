import json
import os

import numpy as np
import pytest

from ssd_npu.datasets import CocoDataset, ensure_synthetic_coco, generate_synthetic_coco, synthetic
from ssd_npu.datasets.synthetic import CLASSES, render_image

SMALL = dict(num_train=6, num_val=3, width=96, height=80, min_object=12, max_object=40)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (('a', 1), ('b', 1), ('c', 2)):
        generate_synthetic_coco(str(tmp_path / name), seed=seed, **SMALL)
    files = ['annotations/instances_train.json', 'annotations/instances_val.json',
             'train/000005.jpg', 'val/000002.jpg']
    assert all(read(tmp_path / 'a' / f) == read(tmp_path / 'b' / f) for f in files)
    assert read(tmp_path / 'a' / files[2]) != read(tmp_path / 'c' / files[2])


def test_boxes_are_the_exact_extent_of_the_drawn_pixels(monkeypatch):
    # A black background and white objects make every object pixel identifiable.
    monkeypatch.setattr(synthetic, '_background', lambda rng, h, w: np.zeros((h, w, 3), np.uint8))
    monkeypatch.setattr(synthetic, '_object_colour', lambda rng, under: np.full(3, 250.0))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        img, objects = render_image(rng, 120, 100, min_object=10, max_object=60, max_objects=1)
        (obj,) = objects
        ys, xs = np.nonzero(img.max(axis=2) > 128)
        assert obj['bbox'] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert obj['area'] == len(xs)
        seen.add(obj['category'])
    assert seen == set(CLASSES)


def test_output_is_a_coco_dataset_with_one_to_five_objects_per_image(tmp_path):
    root = str(tmp_path / 'syn')
    generate_synthetic_coco(root, seed=0, **SMALL)
    coco = json.loads(read(tmp_path / 'syn/annotations/instances_train.json'))
    assert [(c['id'], c['name']) for c in coco['categories']] == [(1, 'circle'), (2, 'square'),
                                                                  (3, 'triangle')]
    ds = CocoDataset(ann_file='annotations/instances_train.json', data_root=root,
                     data_prefix=dict(img='train/'), metainfo=dict(classes=CLASSES),
                     pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    assert len(ds) == 6 and ds.parse_problems == {}
    for i in range(len(ds)):
        sample = ds[i]
        h, w = sample['img'].shape[:2]
        assert (h, w) == (ds.get_data_info(i)['height'], ds.get_data_info(i)['width'])
        assert abs(w - 96) <= 10 and abs(h - 80) <= 8
        boxes = sample['gt_bboxes']
        assert 1 <= len(boxes) <= 5
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()


def test_ensure_generates_once(tmp_path):
    root = str(tmp_path / 'syn')
    assert ensure_synthetic_coco(root, seed=0, **SMALL) == root
    stamp = os.stat(tmp_path / 'syn/annotations/instances_train.json').st_mtime_ns
    ensure_synthetic_coco(root, seed=0, **SMALL)
    assert os.stat(tmp_path / 'syn/annotations/instances_train.json').st_mtime_ns == stamp


def test_ensure_warns_when_asked_for_other_settings(tmp_path, log_messages):
    root = str(tmp_path / 'syn')
    ensure_synthetic_coco(root, seed=0, **SMALL)
    ensure_synthetic_coco(root, seed=5, **SMALL)
    assert any("keeping it although {'seed': 5} was asked for" in m for m in log_messages)


def test_interrupted_generation_leaves_no_dataset_behind(tmp_path, monkeypatch):
    real = synthetic.render_image
    calls = []

    def render_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, 'render_image', render_then_die)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_coco(str(tmp_path / 'syn'), **SMALL)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(synthetic, 'render_image', real)
    ensure_synthetic_coco(str(tmp_path / 'syn'), **SMALL)
    assert len(os.listdir(tmp_path / 'syn/train')) == 6


def test_ensure_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / 'syn' / 'train').mkdir(parents=True)
    with pytest.raises(RuntimeError, match=r'is not a complete synthetic dataset'):
        ensure_synthetic_coco(str(tmp_path / 'syn'), **SMALL)


def test_benchmark_size_images(tmp_path):
    generate_synthetic_coco(str(tmp_path), num_train=2, num_val=1, width=640, height=480,
                            size_jitter=0, min_object=32, max_object=300)
    coco = json.loads(read(tmp_path / 'annotations/instances_train.json'))
    assert {(im['width'], im['height']) for im in coco['images']} == {(640, 480)}
