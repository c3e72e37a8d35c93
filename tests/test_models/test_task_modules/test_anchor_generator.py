"""SSDAnchorGenerator: the numbers of mmdetection's SSD configs and of torchvision's ssd300_vgg16."""
import pytest
import torch
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from ssd_npu.models.task_modules import SSDAnchorGenerator

SSD300_SIZES = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
SSD300_RATIOS = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
SSD300_STRIDES = [8, 16, 32, 64, 100, 300]


def ssd300(**overrides) -> SSDAnchorGenerator:
    args = dict(scale_major=False, input_size=300, basesize_ratio_range=(0.15, 0.9), strides=SSD300_STRIDES,
                ratios=SSD300_RATIOS)
    return SSDAnchorGenerator(**{**args, **overrides})


def test_ssd300_matches_mmdetection_layout():
    gen = ssd300()
    assert gen.min_sizes == [21, 45, 99, 153, 207, 261]
    assert gen.max_sizes == [45, 99, 153, 207, 261, 315]
    assert gen.num_base_priors == [4, 6, 6, 6, 4, 4]
    assert gen.num_levels == 6
    levels = gen.grid_priors(SSD300_SIZES)
    assert [len(a) for a in levels] == [5776, 2166, 600, 150, 36, 4]
    assert sum(len(a) for a in levels) == 8732
    # Base anchors of mmdetection's SSD300 (first and last level), see shared REFERENCE.md.
    torch.testing.assert_close(gen.base_anchors[0], torch.tensor([
        [-6.5, -6.5, 14.5, 14.5], [-11.3704, -11.3704, 19.3704, 19.3704],
        [-10.8492, -3.4246, 18.8492, 11.4246], [-3.4246, -10.8492, 11.4246, 18.8492]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(gen.base_anchors[-1], torch.tensor([
        [19.5, 19.5, 280.5, 280.5], [6.6342, 6.6342, 293.3658, 293.3658],
        [-34.5549, 57.7226, 334.5549, 242.2774], [57.7226, -34.5549, 242.2774, 334.5549]]), atol=1e-4, rtol=0)
    # Location-major order: the 4 boxes at (4, 4), then the 4 at (12, 4); the second row starts at y = 12.
    centres = (levels[0][:, :2] + levels[0][:, 2:]) / 2
    torch.testing.assert_close(centres[:4], torch.tensor([[4., 4.]] * 4))
    torch.testing.assert_close(centres[4:8], torch.tensor([[12., 4.]] * 4))
    torch.testing.assert_close(centres[38 * 4], torch.tensor([4., 12.]))
    torch.testing.assert_close((levels[5][:, :2] + levels[5][:, 2:]) / 2, torch.tensor([[150., 150.]] * 4))


def test_dtype_and_device_follow_arguments():
    anchors = ssd300().grid_priors([(2, 2)] * 6, dtype=torch.float64, device='cpu')
    assert all(a.dtype == torch.float64 for a in anchors)


def tv_default_boxes() -> torch.Tensor:
    """torchvision ssd300_vgg16's default boxes for a 300x300 image, xyxy pixels."""
    generator = DefaultBoxGenerator(SSD300_RATIOS, scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                                    steps=SSD300_STRIDES)
    images = ImageList(torch.zeros(1, 3, 300, 300), [(300, 300)])
    features = [torch.zeros(1, 1, h, w) for h, w in SSD300_SIZES]
    return generator(images, features)[0]


def test_torchvision_mode_equals_default_box_generator():
    gen = ssd300(min_sizes=[21, 45, 99, 153, 207, 261], max_sizes=[45, 99, 153, 207, 261, 315],
                 clip_base_wh=True)
    ours = torch.cat(gen.grid_priors(SSD300_SIZES))
    torch.testing.assert_close(ours, tv_default_boxes(), atol=1e-4, rtol=0)  # float32 rounding only


def test_mmdetection_and_torchvision_differ_only_in_two_clipped_boxes():
    mmdet_style = torch.cat(ssd300().grid_priors(SSD300_SIZES))
    differs = ((mmdet_style - tv_default_boxes()).abs() > 1e-3).any(dim=1)
    assert differs.nonzero().flatten().tolist() == [8730, 8731]


def test_ssdlite_explicit_sizes():
    gen = SSDAnchorGenerator(scale_major=False, strides=[16, 32, 64, 107, 160, 320], ratios=[[2, 3]] * 6,
                             min_sizes=[48, 100, 150, 202, 253, 304],
                             max_sizes=[100, 150, 202, 253, 304, 320])
    assert gen.num_base_priors == [6] * 6
    anchors = gen.grid_priors([(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)])
    assert sum(len(a) for a in anchors) == 3234
    side = (48 * 100) ** 0.5 / 2
    torch.testing.assert_close(gen.base_anchors[0][:2], torch.tensor(
        [[-16., -16., 32., 32.], [8 - side, 8 - side, 8 + side, 8 + side]]))
    # The stride-107 level is centred at 53.5 + 107 i.
    centres = (anchors[3][::6, :2] + anchors[3][::6, 2:]) / 2
    assert centres[:3, 0].tolist() == pytest.approx([53.5, 160.5, 267.5])


def test_ssd512_builds_with_24564_anchors():
    gen = SSDAnchorGenerator(scale_major=False, input_size=512, basesize_ratio_range=(0.1, 0.9),
                             strides=[8, 16, 32, 64, 128, 256, 512],
                             ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]])
    assert gen.min_sizes == [20, 51, 133, 215, 296, 378, 460]
    assert gen.max_sizes == [51, 133, 215, 296, 378, 460, 542]
    anchors = gen.grid_priors([(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)])
    assert sum(len(a) for a in anchors) == 24564


@pytest.mark.parametrize('kwargs, message', [
    (dict(strides=[8, 16], ratios=[[2]]), '2 strides but 1 ratio'),
    (dict(strides=[8], ratios=[[2]], min_sizes=[10]), 'both min_sizes and max_sizes'),
    (dict(strides=[8] * 6, ratios=[[2]] * 6, input_size=400), 'input_size must be 300 or 512'),
    (dict(strides=[8] * 6, ratios=[[2]] * 6, basesize_ratio_range=(0.1, 0.9)), 'basesize_ratio_range\\[0\\]'),
    (dict(strides=[8] * 2, ratios=[[2]] * 2, min_sizes=[1], max_sizes=[2]), '1 min_sizes'),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SSDAnchorGenerator(**kwargs)


SSDLITE = dict(scale_major=False, strides=[16, 32, 64, 107, 160, 320], ratios=[[2, 3]] * 6,
               min_sizes=[48, 100, 150, 202, 253, 304], max_sizes=[100, 150, 202, 253, 304, 320])


@pytest.mark.parametrize('overrides, message', [
    (dict(max_sizes=None), 'both min_sizes and max_sizes'),
    (dict(max_sizes=[100, 150, 202, 253]), '4 max_sizes for 6 levels'),
    (dict(min_sizes=None, max_sizes=None, basesize_ratio_range=[15, 90]), 'pair of floats'),
    (dict(ratios=[[2, 3]] * 5), '6 strides but 5 ratio lists'),
    (dict(use_box_type=True), 'use_box_type=True is not supported by ssd_npu'),
])
def test_where_mmdetection_asserts_the_error_is_also_an_assertion_error(overrides, message):
    with pytest.raises(AssertionError, match=message):
        SSDAnchorGenerator(**{**SSDLITE, **overrides})


def test_wrong_number_of_feature_maps():
    with pytest.raises(ValueError, match='5 feature map sizes for 6 levels'):
        ssd300().grid_priors(SSD300_SIZES[:5])
    with pytest.raises(AssertionError, match='5 feature map sizes for 6 levels'):
        ssd300().valid_flags(SSD300_SIZES[:5], (300, 300))


# mmdetection's test values: anchors per level whose cell lies inside the padded image.
@pytest.mark.parametrize('generator, pad_shape, valid_counts', [
    (lambda: ssd300(), (300, 300), [5776, 2166, 600, 150, 36, 4]),
    (lambda: SSDAnchorGenerator(**SSDLITE), (320, 320), [2400, 600, 150, 54, 24, 6]),
], ids=['ssd300', 'ssdlite'])
def test_valid_flags_mmdetection_counts(generator, pad_shape, valid_counts):
    flags = generator().valid_flags(SSD300_SIZES, pad_shape, device='cpu')
    assert [int(f.sum()) for f in flags] == valid_counts
    assert all(f.dtype == torch.bool for f in flags)


def test_valid_flags_cut_the_grid_at_the_padded_image():
    gen = SSDAnchorGenerator(scale_major=False, strides=[10], ratios=[[2]], min_sizes=[10], max_sizes=[20])
    # A 25 x 12 image on a 4 x 4 grid of stride 10: rows 0-2 (ceil 2.5) and columns 0-1 (ceil 1.2).
    flags = gen.valid_flags([(4, 4)], (25, 12, 3))[0].reshape(4, 4, 4)
    assert flags[:3, :2].all() and not flags[3].any() and not flags[:, 2:].any()


def test_num_base_anchors_is_num_base_priors():
    assert ssd300().num_base_anchors == [4, 6, 6, 6, 4, 4]
    assert SSDAnchorGenerator(**SSDLITE).num_base_anchors == [6] * 6


def test_ssdlite_base_anchors_mmdetection_values():
    base = SSDAnchorGenerator(**SSDLITE).base_anchors
    torch.testing.assert_close(base[0], torch.tensor([
        [-16.0000, -16.0000, 32.0000, 32.0000], [-26.6410, -26.6410, 42.6410, 42.6410],
        [-25.9411, -8.9706, 41.9411, 24.9706], [-8.9706, -25.9411, 24.9706, 41.9411],
        [-33.5692, -5.8564, 49.5692, 21.8564], [-5.8564, -33.5692, 21.8564, 49.5692]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(base[3][:2], torch.tensor([
        [-47.5000, -47.5000, 154.5000, 154.5000], [-59.5332, -59.5332, 166.5332, 166.5332]]),
        atol=1e-4, rtol=0)


def test_grid_anchors_is_a_deprecated_alias_of_grid_priors():
    gen = ssd300()
    with pytest.warns(FutureWarning, match='use grid_priors'):
        anchors = gen.grid_anchors(SSD300_SIZES, device='cpu')
    for old, new in zip(anchors, gen.grid_priors(SSD300_SIZES)):
        assert torch.equal(old, new)


def test_tuple_strides_equal_int_strides():
    square = ssd300(strides=[(s, s) for s in SSD300_STRIDES]).grid_priors(SSD300_SIZES)
    for a, b in zip(square, ssd300().grid_priors(SSD300_SIZES)):
        assert torch.equal(a, b)


@pytest.mark.parametrize('featmap_sizes', [SSD300_SIZES[:3], [(3, 5), (6, 4), (2, 7)]])
def test_sparse_priors_index_the_dense_grid(featmap_sizes):
    gen = SSDAnchorGenerator(scale_major=False, input_size=300, basesize_ratio_range=(0.15, 0.9),
                             strides=[8, 16, 32], ratios=[[2], [2, 3], [2, 3]])
    dense = gen.grid_priors(featmap_sizes)
    idxs = torch.tensor([0, 2, 4, 5, 6, 9, 23])
    for level, size in enumerate(featmap_sizes):
        sparse = gen.sparse_priors(prior_idxs=idxs, featmap_size=size, level_idx=level, device='cpu')
        assert torch.equal(sparse, dense[level][idxs])
