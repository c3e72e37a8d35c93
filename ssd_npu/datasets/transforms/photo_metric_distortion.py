"""SSD's photometric distortions (Liu et al. 2016, sec. 3.6; Howard 2013)."""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ssd_npu.registry import TRANSFORMS

_LEVELS = np.arange(256, dtype=np.float64)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation, hue and channel order (mmdetection's arguments
    and sampling).

    Each distortion is applied with probability 0.5, in this order: brightness
    ``+U(-brightness_delta, brightness_delta)``; contrast ``*U(contrast_range)``, either here
    or last (a coin flip per image); saturation ``*U(saturation_range)`` and hue
    ``+U(-hue_delta, hue_delta)`` degrees in HSV; contrast (if not done earlier); a random
    permutation of the channels.

    Two arithmetics:

    - ``saturate=False`` (default): mmdetection's arithmetic, in float32 without clipping
      (about 5% of the pixel values leave [0, 255]; only the HSV saturation is clipped to
      [0, 1] when it grows); the result is float32 whatever the input. The published mAPs
      were trained with it, and on the synthetic demo it scored at least the other's mAP
      with a tenth of its spread over seeds (README, "Differences from mmdetection").
    - ``saturate=True``: every step saturates to [0, 255] as OpenCV's uint8 arithmetic in
      the original Caffe SSD does, on the uint8 image: brightness and contrast become one
      256-entry table, saturation and hue one table over HSV (hue in OpenCV's full 0-255
      range, 1.4 degree steps), so a 300x300 image costs about a tenth of a millisecond per
      step; the colour conversion is skipped when neither saturation nor hue is drawn. A
      float32 image is rounded to uint8 first and returned as float32; a uint8 image stays
      uint8 (a quarter of the bytes through the dataloader).

    Reads and updates ``img`` (HxWx3, BGR, uint8 or float32).

    Args:
        brightness_delta: largest brightness change, in grey levels.
        contrast_range: (min, max) contrast factor.
        saturation_range: (min, max) saturation factor.
        hue_delta: largest hue change, in degrees.
        saturate: the arithmetic above (not an mmdetection argument).
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18,
                 saturate: bool = False) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta
        self.saturate = saturate

    def _random_params(self) -> dict:
        """One draw of every random choice; a value is None when its distortion is skipped."""
        contrast_last = np.random.randint(2) == 0
        flags = np.random.randint(2, size=5).astype(bool)
        brightness = np.random.uniform(-self.brightness_delta, self.brightness_delta)
        contrast = np.random.uniform(self.contrast_lower, self.contrast_upper)
        saturation = np.random.uniform(self.saturation_lower, self.saturation_upper)
        hue = np.random.uniform(-self.hue_delta, self.hue_delta)
        channel_order = np.random.permutation(3)
        return dict(contrast_last=contrast_last,
                    brightness=brightness if flags[0] else None,
                    contrast=contrast if flags[1] else None,
                    saturation=saturation if flags[2] else None,
                    hue=hue if flags[3] else None,
                    channel_order=channel_order if flags[4] else None)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.dtype not in (np.uint8, np.float32):
            raise TypeError(f'PhotoMetricDistortion needs a uint8 or float32 image, got {img.dtype} '
                            f'({results.get("img_path")})')
        p = self._random_params()
        if not self.saturate:
            results['img'] = self._distort_float(img.astype(np.float32), p)
        elif img.dtype == np.uint8:
            results['img'] = self._distort_uint8(img, p)
        else:
            results['img'] = self._distort_uint8(_to_uint8(img), p).astype(np.float32)
        return results

    def _distort_uint8(self, img: np.ndarray, p: dict) -> np.ndarray:
        """The saturating arithmetic on a uint8 image, by look-up tables."""
        with_hsv = p['saturation'] is not None or p['hue'] is not None
        contrast_first = p['contrast'] if not (p['contrast_last'] and with_hsv) else None
        contrast_last = p['contrast'] if p['contrast_last'] and with_hsv else None

        img = self._apply_levels(img, p['brightness'], contrast_first)
        if with_hsv:
            img = self._distort_hsv(img, p['saturation'], p['hue'])
        img = self._apply_levels(img, None, contrast_last)
        if p['channel_order'] is not None:
            img = self._permute_channels(img, p['channel_order'])
        return img

    def _distort_float(self, img: np.ndarray, p: dict) -> np.ndarray:
        """mmdetection's arithmetic on a float32 image: no clipping, the HSV round trip always."""
        if p['brightness'] is not None:
            img += np.float32(p['brightness'])
        if p['contrast'] is not None and not p['contrast_last']:
            img *= np.float32(p['contrast'])
        # OpenCV's float HSV: hue in degrees [0, 360), saturation in [0, 1], value in pixel units.
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        if p['saturation'] is not None:
            hsv[..., 1] *= np.float32(p['saturation'])
            if p['saturation'] > 1:
                np.clip(hsv[..., 1], 0, 1, out=hsv[..., 1])
        if p['hue'] is not None:
            hue = hsv[..., 0]
            hue += np.float32(p['hue'])
            np.subtract(hue, 360, out=hue, where=hue > 360)
            np.add(hue, 360, out=hue, where=hue < 0)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if p['contrast'] is not None and p['contrast_last']:
            img *= np.float32(p['contrast'])
        if p['channel_order'] is not None:
            img = self._permute_channels(img, p['channel_order'])
        return img

    @staticmethod
    def _apply_levels(img: np.ndarray, brightness: Optional[float],
                      contrast: Optional[float]) -> np.ndarray:
        """``uint8(uint8(img + brightness) * contrast)`` (rounded, saturated) as one look-up."""
        if brightness is None and contrast is None:
            return img
        levels = _LEVELS
        if brightness is not None:
            levels = _to_uint8(levels + brightness).astype(np.float64)
        if contrast is not None:
            levels = levels * contrast
        return cv2.LUT(img, _to_uint8(levels))

    @staticmethod
    def _distort_hsv(img: np.ndarray, saturation: Optional[float],
                     hue: Optional[float]) -> np.ndarray:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
        hue_table = np.arange(256, dtype=np.int64)
        if hue is not None:
            hue_table = (hue_table + int(round(hue * 256 / 360))) % 256
        sat_table = _LEVELS * saturation if saturation is not None else _LEVELS
        table = np.stack([hue_table.astype(np.uint8), _to_uint8(sat_table),
                          np.arange(256, dtype=np.uint8)], axis=-1).reshape(256, 1, 3)
        return cv2.cvtColor(cv2.LUT(hsv, table), cv2.COLOR_HSV2BGR_FULL)

    @staticmethod
    def _permute_channels(img: np.ndarray, order: np.ndarray) -> np.ndarray:
        """``img[..., order]`` by ``cv2.mixChannels``, 5x faster than numpy's fancy indexing."""
        out = np.empty_like(img)
        cv2.mixChannels([img], [out], [int(order[0]), 0, int(order[1]), 1, int(order[2]), 2])
        return out

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range={(self.contrast_lower, self.contrast_upper)}, '
                f'saturation_range={(self.saturation_lower, self.saturation_upper)}, '
                f'hue_delta={self.hue_delta}, saturate={self.saturate})')
