import numpy as np
import pytest

from ssd_npu.datasets.transforms import Expand

MEAN_RGB = (123.675, 116.28, 103.53)


def sample(h=20, w=30):
    img = np.full((h, w, 3), 7, np.uint8)
    return dict(img=img, img_shape=(h, w), gt_bboxes=np.array([[1, 2, 11, 12]], np.float32))


def test_places_the_image_at_the_drawn_offset_on_a_mean_canvas(monkeypatch):
    expand = Expand(mean=MEAN_RGB, to_rgb=True, prob=1.0)
    monkeypatch.setattr(expand, '_random_params', lambda h, w: (2.5, 9, 4))
    results = expand(sample())
    img = results['img']
    assert img.shape == (50, 75, 3) and results['img_shape'] == (50, 75)
    assert (img[4:24, 9:39] == 7).all()
    np.testing.assert_array_equal(results['homography_matrix'], [[1, 0, 9], [0, 1, 4], [0, 0, 1]])
    # The canvas is the mean in the image's BGR order, rounded to uint8.
    assert img[0, 0].tolist() == [104, 116, 124] and img[49, 74].tolist() == [104, 116, 124]
    assert (img != 7).any(axis=2).sum() == 50 * 75 - 20 * 30
    np.testing.assert_array_equal(results['gt_bboxes'], [[10, 6, 20, 16]])
    assert results['gt_bboxes'].dtype == np.float32


def test_random_offset_keeps_the_image_on_the_canvas():
    expand = Expand(ratio_range=(1, 4), prob=1.0)
    np.random.seed(0)
    for _ in range(200):
        ratio, left, top = expand._random_params(37, 53)
        assert 1 <= ratio <= 4
        assert 0 <= left <= int(53 * ratio) - 53 and 0 <= top <= int(37 * ratio) - 37


def test_prob_zero_leaves_the_sample_alone():
    results = Expand(prob=0.0)(sample())
    assert results['img'].shape == (20, 30, 3)


def test_ratio_below_one_is_rejected():
    with pytest.raises(ValueError, match='ratio_range must start at >= 1'):
        Expand(ratio_range=(0.5, 2))
