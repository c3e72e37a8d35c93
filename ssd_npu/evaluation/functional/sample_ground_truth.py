"""Ground truth of an evaluated data sample, in original-image pixels.

Metrics compare in original pixels, as the official COCO/VOC tools do: predictions come back
rescaled to the original image (``SSD.predict(rescale=True)``). Where the GT of a sample is depends
on the test pipeline:

- mmdetection's test pipelines (and ours) run ``LoadAnnotations`` *after* ``Resize``: the boxes are
  never transformed and are already in original pixels (``rescale=False``, the default);
- a pipeline that loads annotations before ``Resize`` leaves them in network-input pixels; they are
  mapped back with ``scale_factor`` (and ``flip``) when ``rescale=True``;
- a sample that carries the dataset's raw ``instances`` (mmdetection's ``CocoMetric`` contract
  without an annotation file) has them in original pixels.
"""
import warnings
from typing import Mapping, Sequence, Tuple

import numpy as np
import torch


def to_numpy(value, dtype=None) -> np.ndarray:
    """A tensor (any device/dtype, e.g. bf16 on an NPU) or array as a numpy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu() if value.is_floating_point() else value.detach().cpu()
        value = value.numpy()
    return np.asarray(value, dtype=dtype)


def _as_mapping(value) -> Mapping:
    """InstanceData (or its ``to_dict()``) as a mapping."""
    return value.to_dict() if hasattr(value, 'to_dict') else value


def boxes_to_original(bboxes: np.ndarray, data_sample: Mapping) -> np.ndarray:
    """Undo the test pipeline's flip and resize on xyxy boxes.

    Args:
        bboxes: (N, 4) xyxy in the pixels of the transformed image (``img_shape``).
        data_sample: metainfo with ``scale_factor`` (w_scale, h_scale) and optionally ``flip``,
            ``flip_direction`` and ``img_shape`` (h, w).

    Returns:
        (N, 4) float32 xyxy in original-image pixels.
    """
    bboxes = np.array(bboxes, dtype=np.float32).reshape(-1, 4)
    if data_sample.get('flip', False):
        # Flip happens after Resize in mmdetection pipelines, i.e. in img_shape coordinates.
        height, width = data_sample['img_shape'][:2]
        direction = data_sample.get('flip_direction', 'horizontal')
        if direction in ('horizontal', 'diagonal'):
            bboxes[:, [0, 2]] = width - bboxes[:, [2, 0]]
        if direction in ('vertical', 'diagonal'):
            bboxes[:, [1, 3]] = height - bboxes[:, [3, 1]]
    scale = data_sample.get('scale_factor', (1.0, 1.0))
    w_scale, h_scale = float(scale[0]), float(scale[1])
    return bboxes / np.array([w_scale, h_scale, w_scale, h_scale], dtype=np.float32)


def _instances(data_sample: Mapping, key: str, rescale: bool) -> Tuple[np.ndarray, np.ndarray]:
    instances = _as_mapping(data_sample.get(key)) if data_sample.get(key) is not None else {}
    if 'bboxes' not in instances:
        return np.zeros((0, 4), dtype=np.float32), np.zeros((0,), dtype=np.int64)
    bboxes = to_numpy(instances['bboxes'], np.float32).reshape(-1, 4)
    if rescale:
        bboxes = boxes_to_original(bboxes, data_sample)
    return bboxes, to_numpy(instances['labels'], np.int64).reshape(-1)


def original_ground_truth(data_sample: Mapping, rescale: bool = False) -> dict:
    """The GT of one evaluated sample in original-image pixels.

    Args:
        data_sample: ``DetDataSample.to_dict()``: ``gt_instances`` (bboxes FloatTensor[N, 4] xyxy,
            labels LongTensor[N] 0-based), optional ``ignored_instances`` (crowd / difficult boxes,
            same fields), ``ori_shape`` (h, w), ``scale_factor`` (w, h), ``img_id``.
        rescale: the boxes are in network-input pixels (annotations loaded before ``Resize``):
            undo flip and resize. False: they are original pixels already (mmdetection's layout).

    Returns:
        dict with ``bboxes`` (N, 4) float32, ``labels`` (N,) int64, ``bboxes_ignore`` (K, 4),
        ``labels_ignore`` (K,), all in original pixels.

    Raises:
        KeyError: the sample has no ``gt_instances`` (the pipeline did not load annotations).
    """
    if data_sample.get('gt_instances') is None:
        raise KeyError(f'data sample of image {data_sample.get("img_id")} has no gt_instances: the '
                       'metric needs the ground truth from the pipeline (LoadAnnotations + PackDetInputs) '
                       'when no annotation file is given')
    bboxes, labels = _instances(data_sample, 'gt_instances', rescale)
    bboxes_ignore, labels_ignore = _instances(data_sample, 'ignored_instances', rescale)
    _warn_if_outside(np.concatenate([bboxes, bboxes_ignore]), data_sample, rescale)
    return dict(bboxes=bboxes, labels=labels, bboxes_ignore=bboxes_ignore, labels_ignore=labels_ignore)


def _warn_if_outside(bboxes: np.ndarray, data_sample: Mapping, rescale: bool) -> None:
    """Warn when the GT lies well outside the original image: the metric's ``rescale_gt`` does not
    match the pipeline (the check catches the case where the wrong frame is larger)."""
    if 'ori_shape' not in data_sample or bboxes.size == 0:
        return
    height, width = data_sample['ori_shape'][:2]
    size = np.array([width, height, width, height], dtype=np.float32)
    # 1 px + 2% slack: annotation tools put boxes on the border or one pixel past it.
    margin = size * 0.02 + 1
    if np.any(bboxes > size + margin) or np.any(bboxes < -margin):
        # No image id in the text: Python then shows the warning once, not once per image.
        hint = ('rescale_gt=True expects LoadAnnotations before Resize in the test pipeline; with '
                'LoadAnnotations after Resize, use rescale_gt=False' if rescale else
                'rescale_gt=False expects LoadAnnotations after Resize in the test pipeline (GT in '
                'original pixels); with LoadAnnotations before Resize, use rescale_gt=True')
        warnings.warn(f'GT boxes lie outside the original image: {hint}', stacklevel=3)


def instances_ground_truth(instances: Sequence[Mapping]) -> dict:
    """The GT of one sample from the dataset's raw ``instances`` (original pixels), as mmdetection's
    ``CocoMetric`` reads them when it has no annotation file.

    Args:
        instances: dicts with ``bbox`` (xyxy pixels), ``bbox_label`` (0-based) and ``ignore_flag``
            (1: a crowd box, ignored by COCO's matching).

    Returns:
        The dict of :func:`original_ground_truth`.
    """
    def select(ignored: bool) -> Tuple[np.ndarray, np.ndarray]:
        chosen = [inst for inst in instances if bool(inst.get('ignore_flag', 0)) == ignored]
        bboxes = np.array([inst['bbox'] for inst in chosen], dtype=np.float32).reshape(-1, 4)
        return bboxes, np.array([inst['bbox_label'] for inst in chosen], dtype=np.int64)

    bboxes, labels = select(ignored=False)
    bboxes_ignore, labels_ignore = select(ignored=True)
    return dict(bboxes=bboxes, labels=labels, bboxes_ignore=bboxes_ignore, labels_ignore=labels_ignore)
