"""Properties of the geometric pipeline on random scenes: boxes stay in the image and keep
covering the pixels of their object."""

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from repo_paths import CONFIGS_DIR

from ssd_npu.datasets.transforms import Expand, MinIoURandomCrop, RandomFlip, Resize

# Saturated colours far from the black background and from Expand's mean-grey canvas.
COLOURS = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255),
                    (0, 255, 255)], np.uint8)
CONFIG = CONFIGS_DIR / '_base_' / 'datasets' / 'coco_detection.py'


def random_scene(rng):
    """A black image with up to 4 non-overlapping rectangles, each of a unique colour; the
    label of a box is its colour's index."""
    h, w = rng.integers(60, 200, 2)
    img = np.zeros((h, w, 3), np.uint8)
    boxes, labels = [], []
    for colour in rng.permutation(len(COLOURS))[:rng.integers(1, 5)]:
        bw, bh = rng.integers(8, max(9, w // 2)), rng.integers(8, max(9, h // 2))
        x1, y1 = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
        box = [x1, y1, x1 + bw, y1 + bh]
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
            continue
        img[y1:y1 + bh, x1:x1 + bw] = COLOURS[colour]
        boxes.append(box)
        labels.append(colour)
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w),
                gt_bboxes=np.array(boxes, np.float32).reshape(-1, 4),
                gt_bboxes_labels=np.array(labels, np.int64),
                gt_ignore_flags=np.zeros(len(labels), bool))


def check_boxes_match_pixels(results):
    img = results['img']
    h, w = img.shape[:2]
    assert results['img_shape'] == (h, w)
    boxes = results['gt_bboxes']
    assert boxes.dtype == np.float32 and len(boxes) == len(results['gt_bboxes_labels'])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    for (x1, y1, x2, y2), label in zip(boxes, results['gt_bboxes_labels']):
        near = (np.abs(img.astype(int) - COLOURS[label]).max(axis=2) < 40)
        ys, xs = np.nonzero(near)
        # Interpolation may blend one pixel across an edge, no more.
        assert xs.min() >= x1 - 1 and xs.max() + 1 <= x2 + 1
        assert ys.min() >= y1 - 1 and ys.max() + 1 <= y2 + 1
        inside = near[int(np.ceil(y1)):int(y2), int(np.ceil(x1)):int(x2)]
        if min(x2 - x1, y2 - y1) >= 8:
            assert inside.mean() > 0.4


@pytest.mark.parametrize('seed', range(4))
def test_geometric_pipeline_keeps_boxes_on_their_pixels(seed):
    np.random.seed(seed)
    rng = np.random.default_rng(seed)
    pipeline = Compose([
        Expand(mean=(123.675, 116.28, 103.53), prob=0.5),
        MinIoURandomCrop(),
        Resize(scale=(96, 80), keep_ratio=False),
        RandomFlip(prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    ])
    for _ in range(40):
        scene = random_scene(rng)
        original = dict(zip(scene['gt_bboxes_labels'].tolist(), scene['gt_bboxes'].copy()))
        results = pipeline(scene)
        check_boxes_match_pixels(results)
        check_homography_maps_boxes(results, original)


def check_homography_maps_boxes(results, original):
    """``homography_matrix`` carries each input box onto its output box (up to clipping)."""
    matrix = results.get('homography_matrix', np.eye(3, dtype=np.float32))
    h, w = results['img'].shape[:2]
    for box, label in zip(results['gt_bboxes'], results['gt_bboxes_labels']):
        x1, y1, x2, y2 = original[int(label)]
        corners = matrix @ np.array([[x1, x2], [y1, y2], [1, 1]], np.float32)
        mapped = np.concatenate([corners[:2].min(axis=1), corners[:2].max(axis=1)])
        mapped = np.clip(mapped, 0, [w, h, w, h])
        np.testing.assert_allclose(box, mapped, atol=1e-3)


def test_each_geometric_step_alone_keeps_boxes_on_their_pixels():
    np.random.seed(0)
    rng = np.random.default_rng(0)
    steps = [Expand(prob=1.0), MinIoURandomCrop(), Resize(scale=(300, 300)),
             Resize(scale=(50, 120)), RandomFlip(prob=1.0, direction='diagonal')]
    for step in steps:
        for _ in range(10):
            check_boxes_match_pixels(step(random_scene(rng)))


def test_configured_ssd_train_pipeline_yields_the_model_contract(tmp_path):
    rng = np.random.default_rng(0)
    scene = random_scene(rng)
    cv2.imwrite(str(tmp_path / 'scene.png'), scene['img'])
    cfg = Config.fromfile(str(CONFIG))
    pipeline = Compose(cfg.train_pipeline)
    instances = [dict(bbox=b.tolist(), bbox_label=int(lab), ignore_flag=0)
                 for b, lab in zip(scene['gt_bboxes'], scene['gt_bboxes_labels'])]
    np.random.seed(0)
    for _ in range(20):
        packed = pipeline(dict(img_path=str(tmp_path / 'scene.png'), img_id=1, instances=instances))
        inputs, sample = packed['inputs'], packed['data_samples']
        # float32: PhotoMetricDistortion's default arithmetic is mmdetection's, unclipped
        assert inputs.dtype == torch.float32 and inputs.shape == (3, 300, 300)
        boxes = sample.gt_instances.bboxes
        assert boxes.dtype == torch.float32 and len(boxes) == len(sample.gt_instances.labels) >= 1
        assert (boxes >= 0).all() and (boxes <= 300).all()
        assert sample.img_shape == (300, 300) and sample.ori_shape == scene['img_shape']


def test_configured_ssd_train_pipeline_handles_an_image_without_boxes(tmp_path):
    cv2.imwrite(str(tmp_path / 'empty.png'), np.zeros((50, 70, 3), np.uint8))
    pipeline = Compose(Config.fromfile(str(CONFIG)).train_pipeline)
    np.random.seed(0)
    for _ in range(10):
        packed = pipeline(dict(img_path=str(tmp_path / 'empty.png'), img_id=1, instances=[]))
        assert packed['inputs'].shape == (3, 300, 300)
        assert packed['data_samples'].gt_instances.bboxes.shape == (0, 4)
        assert packed['data_samples'].gt_instances.labels.shape == (0,)
