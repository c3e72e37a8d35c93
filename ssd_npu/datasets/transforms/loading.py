"""Loading an image and its annotations into the pipeline's ``results`` dict."""
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadAnnotations as MMCVLoadAnnotations
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio

from ssd_npu.registry import TRANSFORMS

from ..bad_samples import warn_bad_file

_SOI, _SOS, _EOI = 0xD8, 0xDA, b'\xff\xd9'


def jpeg_is_truncated(data: bytes) -> bool:
    """Whether a JPEG stream (starting with SOI) ends before its end-of-image marker.

    OpenCV decodes a truncated JPEG without an error (it fills the missing rows with grey and
    prints a libjpeg warning), so the check is done on the bytes: walk the marker segments
    up to the first scan (SOS) by their lengths, which skips an EXIF thumbnail and its own
    end marker, then look for EOI after it. Entropy-coded data cannot contain the EOI byte
    pair (0xFF is byte-stuffed there), so a missing EOI means missing data.
    """
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return False  # not a marker where one should be: leave the verdict to the decoder
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker == _SOS:
            return data.find(_EOI, pos) < 0
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length field
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
    return True  # the stream ended inside its headers


def _unusable_reason(img_bytes: bytes) -> Optional[str]:
    if len(img_bytes) == 0:
        return 'empty file (0 bytes)'
    if img_bytes[:2] == bytes((0xFF, _SOI)) and jpeg_is_truncated(img_bytes):
        return 'truncated JPEG (no end-of-image marker)'
    return None


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """Load ``results['img_path']`` as an HxWx3 uint8 BGR image (mmcv's arguments).

    Sets ``img``, ``img_shape`` and ``ori_shape`` (h, w). Unlike mmcv's loader it never raises
    on bad files: a missing, empty, truncated or undecodable image logs one warning line
    naming the file and the reason, and the transform returns None, on which mmengine's
    ``BaseDataset`` draws another sample in training (our datasets count the skip; in test
    mode they raise).

    Args:
        to_float32: return a float32 image instead of uint8.
        color_type: mmcv's ``imfrombytes`` flag ('color' applies EXIF orientation).
        imdecode_backend: 'cv2' (fastest), 'pillow', 'turbojpeg' or 'tifffile'.
        backend_args: mmengine fileio backend arguments (None: local disk).
    """

    def __init__(self, to_float32: bool = False, color_type: str = 'color',
                 imdecode_backend: str = 'cv2', *, backend_args: Optional[dict] = None) -> None:
        super().__init__(to_float32=to_float32, color_type=color_type,
                         imdecode_backend=imdecode_backend, backend_args=backend_args)

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            warn_bad_file(path, 'file not found')
            return None
        except OSError as e:
            warn_bad_file(path, f'cannot be read ({e})')
            return None
        reason = _unusable_reason(img_bytes)
        if reason is not None:
            warn_bad_file(path, reason)
            return None
        try:
            img = mmcv.imfrombytes(img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except (cv2.error, OSError, ValueError) as e:
            warn_bad_file(path, f'not a decodable image ({e})')
            return None
        if img is None:
            warn_bad_file(path, 'not a decodable image')
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadAnnotations(MMCVLoadAnnotations):
    """Copy the data info's ``instances`` into arrays (mmdetection's arguments; boxes and labels only).

    Sets ``gt_bboxes`` (float32 ndarray [N, 4], xyxy pixels), ``gt_ignore_flags`` (bool [N])
    with ``with_bbox``, and ``gt_bboxes_labels`` (int64 [N]) with ``with_label``.

    Args:
        with_bbox, with_label: load the boxes / the labels.
        with_mask, poly2mask, with_seg, reduce_zero_label, ignore_index, with_keypoints:
            mmdetection's mask, segmentation and keypoint options; SSD trains on boxes only, so
            asking for masks, segmentation maps or keypoints is an error at start-up, and the
            options that only shape them are accepted and unused.
        box_type: 'hbox' (mmdetection's default) or None; either way ``gt_bboxes`` is a plain
            ndarray (mmdetection wraps 'hbox' boxes in its ``HorizontalBoxes``).
        imdecode_backend, backend_args: mmcv's (segmentation-map decoding; unused here).
    """

    def __init__(self, with_bbox: bool = True, with_label: bool = True, with_mask: bool = False,
                 poly2mask: bool = True, box_type: Optional[str] = 'hbox', with_seg: bool = False,
                 reduce_zero_label: bool = False, ignore_index: int = 255, with_keypoints: bool = False,
                 imdecode_backend: str = 'cv2', *, backend_args: Optional[dict] = None) -> None:
        unsupported = [name for name, wanted in (('with_mask', with_mask), ('with_seg', with_seg),
                                                 ('with_keypoints', with_keypoints)) if wanted]
        if unsupported:
            options = ', '.join(f'{name}=True' for name in unsupported)
            raise ValueError(f'LoadAnnotations: {options} is not supported by ssd_npu (SSD trains on boxes '
                             f'and labels only); remove it from the pipeline')
        if box_type not in ('hbox', None):
            raise ValueError(f"LoadAnnotations: box_type {box_type!r} is not supported by ssd_npu "
                             f"(only axis-aligned boxes: 'hbox' or None)")
        super().__init__(with_bbox=with_bbox, with_label=with_label, with_seg=False, with_keypoints=False,
                         imdecode_backend=imdecode_backend, backend_args=backend_args)
        self.with_mask = with_mask
        self.poly2mask = poly2mask
        self.box_type = box_type
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = ignore_index

    def _load_bboxes(self, results: dict) -> None:
        instances = results.get('instances', [])
        results['gt_bboxes'] = np.array([inst['bbox'] for inst in instances],
                                        dtype=np.float32).reshape(-1, 4)
        results['gt_ignore_flags'] = np.array([inst['ignore_flag'] for inst in instances],
                                              dtype=bool)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(with_bbox={self.with_bbox}, with_label={self.with_label}, '
                f'with_mask={self.with_mask}, with_seg={self.with_seg}, poly2mask={self.poly2mask}, '
                f'box_type={self.box_type!r})')
