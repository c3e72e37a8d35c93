"""PASCAL VOC average precision (VOC2007 11-point and VOC2010+ area methods).

Matching follows the VOC devkit: detections of one class, by descending score, each take the GT box
they overlap most (IoU >= threshold); that GT is then covered, so a second detection on it is a false
positive; a detection whose best GT is "difficult" (ignored) or outside the evaluated area range
counts as neither TP nor FP.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from terminaltables import AsciiTable

from .bbox_overlaps import bbox_overlaps

AreaRanges = Optional[List[Tuple[float, float]]]


def average_precision(recalls: np.ndarray, precisions: np.ndarray,
                      mode: str = 'area') -> Union[float, np.ndarray]:
    """AP from a precision/recall curve.

    Args:
        recalls: (num_dets,) or (num_scales, num_dets), non-decreasing along the last axis.
        precisions: same shape as ``recalls``.
        mode: ``'area'``: area under the curve made monotone (VOC2010+); ``'11points'``: mean of
            the best precision at recall >= 0, 0.1, ..., 1 (VOC2007).

    Returns:
        A float for 1-D input, else (num_scales,) array.
    """
    single = np.ndim(recalls) == 1
    recalls = np.atleast_2d(np.asarray(recalls, dtype=np.float64))
    precisions = np.atleast_2d(np.asarray(precisions, dtype=np.float64))
    if recalls.shape != precisions.shape:
        raise ValueError(f'recalls {recalls.shape} and precisions {precisions.shape} differ in shape')
    num_scales = recalls.shape[0]
    if mode == 'area':
        zeros, ones = np.zeros((num_scales, 1)), np.ones((num_scales, 1))
        mrec = np.hstack([zeros, recalls, ones])
        # Precision envelope: the best precision at this recall or any higher one.
        mpre = np.maximum.accumulate(np.hstack([zeros, precisions, zeros])[:, ::-1], axis=1)[:, ::-1]
        ap = np.sum(np.diff(mrec, axis=1) * mpre[:, 1:], axis=1)
    elif mode == '11points':
        ap = np.zeros(num_scales)
        for thr in np.linspace(0, 1, 11):
            reached = recalls >= thr
            best = np.where(reached, precisions, 0).max(axis=1, initial=0)
            ap += best / 11
    else:
        raise ValueError(f"eval_mode must be 'area' or '11points', got {mode!r}")
    return float(ap[0]) if single else ap


def _areas(bboxes: np.ndarray, extra: float) -> np.ndarray:
    return (bboxes[:, 2] - bboxes[:, 0] + extra) * (bboxes[:, 3] - bboxes[:, 1] + extra)


def match_detections(det_bboxes: np.ndarray,
                     gt_bboxes: np.ndarray,
                     gt_bboxes_ignore: Optional[np.ndarray] = None,
                     iou_thr: float = 0.5,
                     area_ranges: AreaRanges = None,
                     use_legacy_coordinate: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Mark one image's detections of one class as true / false positives.

    Args:
        det_bboxes: (M, 5) xyxy pixels + score.
        gt_bboxes: (N, 4) xyxy pixels.
        gt_bboxes_ignore: (K, 4) difficult / crowd boxes: matching them is neither TP nor FP.
        iou_thr: IoU needed for a match.
        area_ranges: [(min_area, max_area), ...] in pixels^2; GT outside a range is ignored and
            unmatched detections outside it are not false positives. None: one range, everything.
        use_legacy_coordinate: width = x2 - x1 + 1 (VOC devkit).

    Returns:
        (tp, fp), each (num_ranges, M) float32 of 0/1, in the order of ``det_bboxes``.
    """
    extra = 1.0 if use_legacy_coordinate else 0.0
    if gt_bboxes_ignore is None:
        gt_bboxes_ignore = np.zeros((0, 4), dtype=np.float32)
    ranges = area_ranges if area_ranges is not None else [(None, None)]
    num_dets = det_bboxes.shape[0]
    tp = np.zeros((len(ranges), num_dets), dtype=np.float32)
    fp = np.zeros((len(ranges), num_dets), dtype=np.float32)
    all_gts = np.concatenate([gt_bboxes.reshape(-1, 4), gt_bboxes_ignore.reshape(-1, 4)]).astype(np.float32)
    is_ignored = np.arange(all_gts.shape[0]) >= gt_bboxes.shape[0]
    det_areas = _areas(det_bboxes, extra)
    if all_gts.shape[0] == 0:
        for k, (low, high) in enumerate(ranges):
            fp[k] = 1 if low is None else (det_areas >= low) & (det_areas < high)
        return tp, fp
    ious = bbox_overlaps(det_bboxes, all_gts, use_legacy_coordinate)
    best_iou, best_gt = ious.max(axis=1), ious.argmax(axis=1)
    order = np.argsort(-det_bboxes[:, 4], kind='stable')
    gt_areas = _areas(all_gts, extra)
    for k, (low, high) in enumerate(ranges):
        outside = np.zeros_like(is_ignored) if low is None else (gt_areas < low) | (gt_areas >= high)
        covered = np.zeros(all_gts.shape[0], dtype=bool)
        for i in order:
            if best_iou[i] >= iou_thr:
                gt = best_gt[i]
                if is_ignored[gt] or outside[gt]:
                    continue
                if covered[gt]:
                    fp[k, i] = 1
                else:
                    covered[gt] = True
                    tp[k, i] = 1
            elif low is None or low <= det_areas[i] < high:
                fp[k, i] = 1
    return tp, fp


def eval_map(det_results: Sequence[Sequence[np.ndarray]],
             annotations: Sequence[dict],
             scale_ranges: Optional[List[Tuple[float, float]]] = None,
             iou_thr: float = 0.5,
             eval_mode: str = 'area',
             use_legacy_coordinate: bool = False,
             class_names: Optional[Sequence[str]] = None,
             logger=None) -> Tuple[Union[float, List[float]], List[dict]]:
    """Mean AP over classes of a whole dataset.

    Args:
        det_results: per image, per class, (M, 5) xyxy pixels + score.
        annotations: per image, ``bboxes`` (N, 4) xyxy pixels, ``labels`` (N,) 0-based, optional
            ``bboxes_ignore`` (K, 4) and ``labels_ignore`` (K,) (difficult boxes).
        scale_ranges: [(min_size, max_size), ...] in pixels; a box is in a range when
            min_size^2 <= area < max_size^2. None: all boxes.
        iou_thr: IoU for a match (VOC: 0.5).
        eval_mode: ``'11points'`` (VOC2007) or ``'area'`` (VOC2010+).
        use_legacy_coordinate: width = x2 - x1 + 1 (VOC devkit).
        class_names: names for the logged table (default: indices).
        logger: where to print the table (mmengine ``print_log``); ``'silent'`` prints nothing.

    Returns:
        (mean_ap, per_class): mean over classes that have GT (a float, or a list per scale range;
        0.0 when no class has GT), and per class a dict with ``num_gts``, ``num_dets``,
        ``recall``, ``precision``, ``ap``.
    """
    if len(det_results) != len(annotations):
        raise ValueError(f'{len(det_results)} images of detections but {len(annotations)} of annotations')
    extra = 1.0 if use_legacy_coordinate else 0.0
    area_ranges = [(low ** 2, high ** 2) for low, high in scale_ranges] if scale_ranges is not None else None
    num_scales = len(area_ranges) if area_ranges is not None else 1
    num_classes = len(det_results[0]) if det_results else len(class_names or [])
    empty = np.zeros((0, 4), dtype=np.float32)

    per_class = []
    for cls in range(num_classes):
        tps, fps, scores = [], [], []
        num_gts = np.zeros(num_scales, dtype=np.int64)
        for dets, ann in zip(det_results, annotations):
            gts = ann['bboxes'][ann['labels'] == cls]
            ignore = (ann['bboxes_ignore'][ann['labels_ignore'] == cls]
                      if ann.get('labels_ignore') is not None else empty)
            tp, fp = match_detections(dets[cls], gts, ignore, iou_thr, area_ranges, use_legacy_coordinate)
            tps.append(tp)
            fps.append(fp)
            scores.append(dets[cls][:, 4])
            if area_ranges is None:
                num_gts[0] += gts.shape[0]
            else:
                gt_areas = _areas(gts, extra)
                num_gts += [int(np.sum((gt_areas >= low) & (gt_areas < high))) for low, high in area_ranges]
        order = np.argsort(-np.concatenate(scores), kind='stable')
        tp = np.cumsum(np.concatenate(tps, axis=1)[:, order], axis=1)
        fp = np.cumsum(np.concatenate(fps, axis=1)[:, order], axis=1)
        eps = np.finfo(np.float32).eps
        recalls = tp / np.maximum(num_gts[:, None], eps)
        precisions = tp / np.maximum(tp + fp, eps)
        ap = average_precision(recalls, precisions, eval_mode)
        if area_ranges is None:
            recalls, precisions, ap, num_gts = recalls[0], precisions[0], float(ap[0]), int(num_gts[0])
        per_class.append(dict(num_gts=num_gts, num_dets=len(order), recall=recalls, precision=precisions,
                              ap=ap))

    all_gts = np.array([np.atleast_1d(r['num_gts']) for r in per_class]).reshape(num_classes, num_scales)
    all_aps = np.array([np.atleast_1d(r['ap']) for r in per_class]).reshape(num_classes, num_scales)
    means = [float(all_aps[all_gts[:, s] > 0, s].mean()) if np.any(all_gts[:, s] > 0) else 0.0
             for s in range(num_scales)]
    mean_ap = means if area_ranges is not None else means[0]
    if logger != 'silent':
        print_log('\n' + map_table(means, per_class, class_names, scale_ranges), logger=logger)
    return mean_ap, per_class


def map_table(mean_aps: Sequence[float], per_class: List[dict], class_names: Optional[Sequence[str]] = None,
              scale_ranges: Optional[List[Tuple[float, float]]] = None) -> str:
    """Per-class gts / dets / final recall / AP table(s), one per scale range, mAP in the footer."""
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(per_class))]
    tables = []
    for s, mean in enumerate(mean_aps):
        rows = [['class', 'gts', 'dets', 'recall', 'ap']]
        for name, result in zip(names, per_class):
            recall = np.atleast_2d(result['recall'])[s]
            rows.append([name, int(np.atleast_1d(result['num_gts'])[s]), result['num_dets'],
                         f'{recall[-1] if recall.size else 0.0:.3f}',
                         f'{float(np.atleast_1d(result["ap"])[s]):.3f}'])
        rows.append(['mAP', '', '', '', f'{mean:.3f}'])
        table = AsciiTable(rows, title=f'scale range {scale_ranges[s]}' if scale_ranges else None)
        table.inner_footing_row_border = True
        tables.append(table.table)
    return '\n'.join(tables)
