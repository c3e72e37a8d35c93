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
