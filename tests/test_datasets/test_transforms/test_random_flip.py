import numpy as np
import pytest

from ssd_npu.datasets.transforms import RandomFlip


def sample():
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    boxes = np.array([[1, 2, 11, 22], [30, 5, 60, 40]], np.float32)
    return dict(img=img, gt_bboxes=boxes)


def test_horizontal_flip_hand_values():
    source = sample()
    results = RandomFlip(prob=1.0)(dict(source))
    assert results['flip'] is True and results['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(results['img'], source['img'][:, ::-1])
    np.testing.assert_array_equal(results['gt_bboxes'], [[49, 2, 59, 22], [0, 5, 30, 40]])
    assert results['img'].flags.c_contiguous


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flipping_twice_is_the_identity(direction):
    source = sample()
    flip = RandomFlip(prob=1.0, direction=direction)
    once = flip(dict(source))
    assert not np.array_equal(once['img'], source['img'])
    twice = flip(dict(once))
    np.testing.assert_array_equal(twice['img'], source['img'])
    np.testing.assert_array_equal(twice['gt_bboxes'], source['gt_bboxes'])


def test_prob_zero_records_no_flip():
    results = RandomFlip(prob=0.0)(sample())
    assert results['flip'] is False and results['flip_direction'] is None


@pytest.mark.parametrize('direction, matrix', [
    ('horizontal', [[-1, 0, 60], [0, 1, 0], [0, 0, 1]]),
    ('vertical', [[1, 0, 0], [0, -1, 40], [0, 0, 1]]),
    ('diagonal', [[-1, 0, 60], [0, -1, 40], [0, 0, 1]]),
])
def test_flip_records_mmdetections_homography_matrix(direction, matrix):
    results = RandomFlip(prob=1.0, direction=direction)(sample())
    np.testing.assert_array_equal(results['homography_matrix'], matrix)
    assert results['homography_matrix'].dtype == np.float32
    scaled = RandomFlip(prob=1.0, direction=direction)(dict(sample(), homography_matrix=np.diag(
        np.array([2, 2, 1], np.float32))))
    np.testing.assert_array_equal(scaled['homography_matrix'], np.array(matrix) @ np.diag([2, 2, 1]))


def test_no_flip_leaves_the_homography_matrix_unset():
    assert 'homography_matrix' not in RandomFlip(prob=0.0)(sample())
