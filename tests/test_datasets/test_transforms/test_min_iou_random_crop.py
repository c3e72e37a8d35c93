import numpy as np

from ssd_npu.datasets.transforms import MinIoURandomCrop
from ssd_npu.datasets.transforms.min_iou_random_crop import box_iou


def sample():
    img = np.arange(100 * 120 * 3, dtype=np.int64).reshape(100, 120, 3).astype(np.uint8)
    boxes = np.array([[10, 10, 50, 50],     # centre (30, 30): inside the patch below
                      [90, 60, 130, 99],    # centre (110, 79.5): inside, reaches past it
                      [0, 0, 8, 8]],        # centre (4, 4): outside, dropped
                     np.float32)
    return dict(img=img, img_shape=(100, 120), gt_bboxes=boxes,
                gt_bboxes_labels=np.array([0, 1, 2]), gt_ignore_flags=np.array([False, True, False]))


def test_box_iou_hand_values():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(boxes, np.array([[0, 0, 10, 10]])),
                               [[1.0, 25 / 175, 0.0]])


def test_crop_shifts_clips_and_drops_boxes(monkeypatch):
    crop = MinIoURandomCrop()
    monkeypatch.setattr(crop, '_random_mode', lambda: 0.0)
    monkeypatch.setattr(crop, '_random_patches',
                        lambda h, w: np.tile([[5, 8, 115, 90]], (50, 1)))
    source = sample()
    results = crop(dict(source))
    assert results['img_shape'] == (82, 110)
    np.testing.assert_array_equal(results['homography_matrix'], [[1, 0, -5], [0, 1, -8], [0, 0, 1]])
    np.testing.assert_array_equal(results['img'], source['img'][8:90, 5:115])
    np.testing.assert_array_equal(results['gt_bboxes'], [[5, 2, 45, 42], [85, 52, 110, 82]])
    assert results['gt_bboxes_labels'].tolist() == [0, 1]
    assert results['gt_ignore_flags'].tolist() == [False, True]


def test_no_crop_mode_keeps_everything(monkeypatch):
    crop = MinIoURandomCrop()
    monkeypatch.setattr(crop, '_random_mode', lambda: None)
    results = crop(sample())
    assert results['img'].shape == (100, 120, 3) and len(results['gt_bboxes']) == 3


def test_accepted_patches_meet_the_iou_size_and_aspect_rules(monkeypatch):
    crop = MinIoURandomCrop(min_ious=(0.5,), min_crop_size=0.3)
    chosen = []
    real_apply = crop._apply
    monkeypatch.setattr(crop, '_apply', lambda r, patch, inside: (chosen.append(patch),
                                                                   real_apply(r, patch, inside)))
    boxes = np.array([[20, 20, 80, 70]], np.float32)
    np.random.seed(0)
    for _ in range(100):
        crop(dict(img=np.zeros((100, 120, 3), np.uint8), img_shape=(100, 120), gt_bboxes=boxes))
    assert len(chosen) > 20
    for x1, y1, x2, y2 in chosen:
        w, h = x2 - x1, y2 - y1
        assert 0.3 * 120 - 1 <= w <= 120 and 0.3 * 100 - 1 <= h <= 100 and 0.5 <= h / w <= 2
        # Mode 0 ("any crop") or 0.5: either way the single box's centre is inside.
        assert x1 < 50 < x2 and y1 < 45 < y2


def test_images_without_boxes_are_cropped_too(monkeypatch):
    crop = MinIoURandomCrop()
    monkeypatch.setattr(crop, '_random_mode', lambda: 0.9)
    results = crop(dict(img=np.zeros((100, 120, 3), np.uint8), img_shape=(100, 120),
                        gt_bboxes=np.zeros((0, 4), np.float32), gt_bboxes_labels=np.zeros(0, int),
                        gt_ignore_flags=np.zeros(0, bool)))
    assert results['img'].shape[:2] == results['img_shape'] and results['gt_bboxes'].shape == (0, 4)
