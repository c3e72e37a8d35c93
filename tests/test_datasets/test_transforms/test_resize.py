import numpy as np

from ssd_npu.datasets.transforms import Resize


def test_ssd_resize_stretches_and_scales_boxes():
    img = np.zeros((480, 640, 3), np.uint8)
    boxes = np.array([[64, 48, 640, 480], [-10, 0, 20, 30]], np.float32)
    results = Resize(scale=(300, 300), keep_ratio=False)(dict(img=img, gt_bboxes=boxes))
    assert results['img'].shape == (300, 300, 3) and results['img_shape'] == (300, 300)
    assert results['scale_factor'] == (300 / 640, 300 / 480)
    assert results['gt_bboxes'].dtype == np.float32
    np.testing.assert_allclose(results['gt_bboxes'], [[30, 30, 300, 300], [0, 0, 9.375, 18.75]])


def test_keep_ratio_scales_both_sides_alike():
    results = Resize(scale=(300, 300), keep_ratio=True)(dict(img=np.zeros((480, 640, 3), np.uint8)))
    assert results['img_shape'] == (225, 300)
    np.testing.assert_allclose(results['scale_factor'], (300 / 640, 225 / 480))


def test_resizes_a_strided_crop_view():
    img = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    view = img[10:60, 20:90]
    results = Resize(scale=(35, 25))(dict(img=view))
    assert results['img'].shape == (25, 35, 3)


def test_homography_matrix_is_the_scaling_composed_after_earlier_ones():
    results = Resize(scale=(300, 300), keep_ratio=False)(dict(img=np.zeros((480, 600, 3), np.uint8)))
    np.testing.assert_allclose(results['homography_matrix'], [[0.5, 0, 0], [0, 0.625, 0], [0, 0, 1]])
    assert results['homography_matrix'].dtype == np.float32
    earlier = np.array([[1, 0, 10], [0, 1, 20], [0, 0, 1]], np.float32)
    results = Resize(scale=(300, 300))(dict(img=np.zeros((480, 600, 3), np.uint8), homography_matrix=earlier))
    np.testing.assert_allclose(results['homography_matrix'], [[0.5, 0, 5], [0, 0.625, 12.5], [0, 0, 1]])
