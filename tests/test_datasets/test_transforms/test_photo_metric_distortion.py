import cv2
import numpy as np
import pytest

from ssd_npu.datasets.transforms import PhotoMetricDistortion

NONE = dict(contrast_last=False, brightness=None, contrast=None, saturation=None, hue=None,
            channel_order=None)


def image():
    return np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)


def distort(monkeypatch, img, saturate=True, **params):
    pmd = PhotoMetricDistortion(saturate=saturate)
    monkeypatch.setattr(pmd, '_random_params', lambda: dict(NONE, **params))
    return pmd(dict(img=img.copy()))['img']


def test_nothing_drawn_is_the_identity(monkeypatch):
    img = image()
    np.testing.assert_array_equal(distort(monkeypatch, img), img)


def test_brightness_and_contrast_saturate_like_uint8_arithmetic(monkeypatch):
    img = image()
    out = distort(monkeypatch, img, brightness=20.4, contrast=1.3)
    brighter = np.clip(np.rint(img.astype(float) + 20.4), 0, 255)
    expected = np.clip(np.rint(brighter * 1.3), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_neutral_hsv_changes_barely_alter_the_image(monkeypatch):
    img = image()
    out = distort(monkeypatch, img, saturation=1.0, hue=0.0)
    assert np.abs(out.astype(int) - img).mean() < 1.5


def test_hue_shift_rotates_the_hue(monkeypatch):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 2] = 200  # BGR red, hue 0 degrees
    out = distort(monkeypatch, red, hue=18.0)
    hue_degrees = int(cv2.cvtColor(out, cv2.COLOR_BGR2HSV_FULL)[0, 0, 0]) * 360 / 256
    assert abs(hue_degrees - 18) < 2


def test_saturation_zero_gives_grey(monkeypatch):
    out = distort(monkeypatch, image(), saturation=0.0)
    assert (out.max(axis=2) - out.min(axis=2)).max() <= 1


def test_channel_permutation(monkeypatch):
    img = image()
    out = distort(monkeypatch, img, channel_order=np.array([2, 0, 1]))
    np.testing.assert_array_equal(out, img[..., [2, 0, 1]])


def test_random_draws_cover_every_option():
    pmd = PhotoMetricDistortion(brightness_delta=32, contrast_range=(0.5, 1.5),
                                saturation_range=(0.5, 1.5), hue_delta=18)
    np.random.seed(0)
    draws = [pmd._random_params() for _ in range(400)]
    assert {d['contrast_last'] for d in draws} == {True, False}
    for key, low, high in (('brightness', -32, 32), ('contrast', 0.5, 1.5),
                           ('saturation', 0.5, 1.5), ('hue', -18, 18)):
        values = [d[key] for d in draws if d[key] is not None]
        assert 150 < len(values) < 250 and low <= min(values) and max(values) <= high
    out = pmd(dict(img=image()))['img']
    assert out.dtype == np.float32 and out.shape == (30, 40, 3)


def test_the_default_is_mmdetections_arithmetic(monkeypatch):
    params = MMDET_PIXEL_00[0][0]
    pmd = PhotoMetricDistortion()
    monkeypatch.setattr(pmd, '_random_params', lambda: dict(NONE, **params))
    np.testing.assert_array_equal(pmd(dict(img=image()))['img'],
                                  distort(monkeypatch, image(), saturate=False, **params))


def test_the_saturating_arithmetic_keeps_uint8(monkeypatch):
    out = distort(monkeypatch, image(), saturate=True, brightness=20.4, saturation=1.4, hue=12.0)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)


def test_float32_input_saturating_arithmetic_keeps_float32(monkeypatch):
    img = image()
    out = distort(monkeypatch, img.astype(np.float32), brightness=20.4, contrast=1.3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, distort(monkeypatch, img, brightness=20.4, contrast=1.3))


# Pixel (0, 0) of image() after mmdetection 3.3's PhotoMetricDistortion with these draws
# (its _random_flags replaced by fixed values, run in the peer venv).
MMDET_PIXEL_00 = [
    (dict(contrast_last=True, brightness=-20.4, contrast=1.3, saturation=1.4, hue=12.0,
          channel_order=np.array([2, 0, 1])), [224.38, 44.19999, 143.93599]),
    (dict(contrast_last=False, brightness=25.0, contrast=0.6, saturation=0.7, hue=-15.0),
     [89.22, 93.525, 130.8]),
    (dict(contrast_last=False, brightness=30.0, contrast=1.5), [186., 238.5, 334.5]),
    (dict(), [94.00001, 129.00002, 193.]),
]


@pytest.mark.parametrize('params, pixel', MMDET_PIXEL_00)
@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_mmdetection_arithmetic_option(monkeypatch, params, pixel, dtype):
    out = distort(monkeypatch, image().astype(dtype), saturate=False, **params)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], pixel, rtol=0, atol=1e-4)


def test_mmdetection_arithmetic_does_not_clip(monkeypatch):
    out = distort(monkeypatch, image(), saturate=False, brightness=30.0, contrast=1.5)
    assert out.max() > 255 and np.isclose(out.max(), (254 + 30) * 1.5)


def test_other_dtypes_are_rejected_with_a_clear_message():
    with pytest.raises(TypeError, match='needs a uint8 or float32 image, got float64'):
        PhotoMetricDistortion()(dict(img=np.zeros((4, 4, 3), np.float64)))
