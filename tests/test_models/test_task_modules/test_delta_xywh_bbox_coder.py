"""DeltaXYWHBBoxCoder: mmdetection's numbers, round trips, batching and clamps."""
import math

import pytest
import torch

from ssd_npu.models.task_modules import DeltaXYWHBBoxCoder

SSD_STDS = [0.1, 0.1, 0.2, 0.2]


def test_encode_pinned_with_ssd_stds():
    coder = DeltaXYWHBBoxCoder(target_stds=SSD_STDS)
    deltas = coder.encode(torch.tensor([[0., 0., 10., 10.]]), torch.tensor([[2., 2., 12., 14.]]))
    # centre moves (2, 3) px on a 10 px prior, width unchanged, height x1.2; divided by the stds.
    torch.testing.assert_close(deltas, torch.tensor([[2., 3., 0., math.log(1.2) / 0.2]]))


ROIS = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.], [0., 0., 1., 1.], [5., 5., 5., 5.]])
DELTAS = torch.tensor([[0., 0., 0., 0.], [1., 1., 1., 1.], [0., 0., 2., -1.], [0.7, -1.9, -0.5, 0.3]])
# mmdetection's delta2bbox docstring example.
DECODED = torch.tensor([[0.0000, 0.0000, 1.0000, 1.0000],
                        [0.1409, 0.1409, 2.8591, 2.8591],
                        [0.0000, 0.3161, 4.1945, 0.6839],
                        [5.0000, 5.0000, 5.0000, 5.0000]])


@pytest.mark.parametrize('max_shape', [(32, 32, 3), (32, 32), [32, 32], torch.tensor((32., 32.))],
                         ids=['hwc tuple', 'hw tuple', 'list', 'tensor'])
def test_decode_pinned_mmdetection_docstring_example(max_shape):
    boxes = DeltaXYWHBBoxCoder().decode(ROIS, DELTAS, max_shape=max_shape)
    torch.testing.assert_close(boxes, DECODED, atol=1e-4, rtol=0)


@pytest.mark.parametrize('max_shape', [(32, 32), [(32, 32), (32, 32)], torch.tensor([[32, 32], [32, 32]])],
                         ids=['one shape', 'list per image', 'tensor per image'])
def test_batched_decode_takes_every_max_shape_form(max_shape):
    batched = DeltaXYWHBBoxCoder().decode(ROIS.expand(2, 4, 4), DELTAS.expand(2, 4, 4), max_shape=max_shape)
    torch.testing.assert_close(batched, DECODED.expand(2, 4, 4), atol=1e-4, rtol=0)


def test_per_image_shapes_must_match_the_batch():
    # mmdetection asserts here; ours is a ValueError that is also an AssertionError.
    with pytest.raises(AssertionError, match='3 per-image shapes'):
        DeltaXYWHBBoxCoder().decode(ROIS.expand(2, 4, 4), DELTAS.expand(2, 4, 4), max_shape=[(32, 32)] * 3)
    with pytest.raises(ValueError, match='per-image shapes need boxes'):
        DeltaXYWHBBoxCoder().decode(ROIS, DELTAS, max_shape=[(32, 32)] * 4)


def test_empty_decode_keeps_shape():
    empty = torch.zeros(0, 4)
    assert DeltaXYWHBBoxCoder().decode(empty, empty, max_shape=(32, 32)).shape == (0, 4)


def random_boxes(*shape: int, generator: torch.Generator) -> torch.Tensor:
    xy = torch.rand(*shape, 2, generator=generator) * 200
    return torch.cat([xy, xy + 10 + torch.rand(*shape, 2, generator=generator) * 100], dim=-1)


def test_round_trip_and_batched_leading_dims():
    g = torch.Generator().manual_seed(0)
    coder = DeltaXYWHBBoxCoder(target_means=[0.1, -0.1, 0.05, 0.], target_stds=SSD_STDS)
    priors, gts = random_boxes(3, 50, generator=g), random_boxes(3, 50, generator=g)
    deltas = coder.encode(priors, gts)
    assert deltas.shape == (3, 50, 4)
    torch.testing.assert_close(coder.decode(priors, deltas), gts, atol=1e-3, rtol=0)
    torch.testing.assert_close(deltas[1], coder.encode(priors[1], gts[1]))
    # Priors shared by a batch broadcast against per-image targets.
    per_image = torch.stack([coder.encode(priors[0], t) for t in gts])
    torch.testing.assert_close(coder.encode(priors[0], gts), per_image)


def test_wh_ratio_clip_bounds_growth():
    box = DeltaXYWHBBoxCoder().decode(torch.tensor([[0., 0., 10., 10.]]), torch.tensor([[0., 0., 50., -50.]]))
    # exp(±|log(16/1000)|): at most 62.5x wider, 62.5x narrower.
    torch.testing.assert_close(box[0, 2] - box[0, 0], torch.tensor(625.))
    torch.testing.assert_close(box[0, 3] - box[0, 1], torch.tensor(0.16))


def test_centre_clamp_option():
    coder = DeltaXYWHBBoxCoder(add_ctr_clamp=True, ctr_clamp=32)
    box = coder.decode(torch.tensor([[0., 0., 100., 100.]]), torch.tensor([[5., 0., 0., 0.]]))
    torch.testing.assert_close(box, torch.tensor([[32., 0., 132., 100.]]))
    # mmdetection's test value: ctr_clamp=2, then clipped to a 32x32 image.
    box = DeltaXYWHBBoxCoder(add_ctr_clamp=True, ctr_clamp=2).decode(
        torch.tensor([[0., 0., 6., 6.]]), torch.tensor([[1., 1., 2., 2.]]), max_shape=(32, 32))
    torch.testing.assert_close(box, torch.tensor([[0., 0., 27.1672, 27.1672]]), atol=1e-4, rtol=0)


@pytest.mark.parametrize('to_form', [torch.tensor, lambda shapes: shapes], ids=['tensor', 'list'])
def test_clip_to_per_image_shapes(to_form):
    coder = DeltaXYWHBBoxCoder()
    priors = torch.tensor([[[-10., -10., 500., 400.]], [[-10., -10., 500., 400.]]])
    boxes = coder.decode(priors, torch.zeros(2, 1, 4), max_shape=to_form([(300, 200, 3), (100, 50, 3)]))
    assert boxes.tolist() == [[[0., 0., 200., 300.]], [[0., 0., 50., 100.]]]
    assert DeltaXYWHBBoxCoder(clip_border=False).decode(priors, torch.zeros(2, 1, 4), (10, 10)).min() == -10


def test_class_specific_deltas_are_a_clear_error():
    with pytest.raises(ValueError, match='class-specific deltas are not supported'):
        DeltaXYWHBBoxCoder().decode(ROIS, torch.zeros(4, 8))


def test_bad_normalisation_length():
    with pytest.raises(ValueError, match='4 values each'):
        DeltaXYWHBBoxCoder(target_stds=[0.1, 0.2])
