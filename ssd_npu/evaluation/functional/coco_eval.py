"""COCO box evaluation through pycocotools or faster-coco-eval, with input checks and a backend-free summary.

Both backends implement the official protocol (https://cocodataset.org/#detection-eval): 10 IoU
thresholds 0.50:0.05:0.95, 101 recall points, area ranges small < 32^2 <= medium < 96^2 <= large,
crowd GT boxes matched but never counted. The 12 summary numbers are computed here from the
accumulated ``precision``/``recall`` arrays with pycocotools' own rules, so they are the same
whatever backend ran (faster-coco-eval's ``summarize`` differs: it takes the headline AP at the
largest maxDets) and for any number of ``max_dets`` (pycocotools' ``summarize`` needs exactly three).
"""
import contextlib
import io
import json
import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log

BACKENDS = ('faster_coco_eval', 'pycocotools')
# COCO's area ranges, in the order of the ``A`` axis of the accumulated arrays.
AREA_NAMES = ('all', 's', 'm', 'l')


def default_iou_thrs() -> np.ndarray:
    """COCO's IoU thresholds 0.50, 0.55, ..., 0.95, built like pycocotools so 0.5/0.75 compare exactly."""
    return np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)


def _backend_classes(backend: str) -> tuple:
    """(COCO, COCOeval) classes of a backend."""
    if backend == 'faster_coco_eval':
        from faster_coco_eval import COCO, COCOeval_faster
        return COCO, COCOeval_faster
    if backend == 'pycocotools':
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
        return COCO, COCOeval
    raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')


def _log_debug(*parts) -> None:
    print_log(' '.join(str(part) for part in parts), logger='current', level=logging.DEBUG)


@contextlib.contextmanager
def _quiet():
    """Route pycocotools' prints (it writes progress to stdout) to the debug log."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    if buffer.getvalue().strip():
        _log_debug(buffer.getvalue().rstrip())


def build_coco_api(dataset: dict, backend: str = 'faster_coco_eval'):
    """Index a COCO ground-truth dict with the chosen backend's ``COCO`` class (no file I/O)."""
    coco_cls, _ = _backend_classes(backend)
    coco = coco_cls()
    coco.dataset = dataset
    with _quiet():
        coco.createIndex()
    return coco


def check_detections(detections: Sequence[dict], gt_dataset: dict, source: str, gt_source: str) -> None:
    """Raise a clear error when detections refer to images or categories the ground truth lacks.

    This is the usual sign of a results file made for another dataset (or a label mapping that
    went wrong); pycocotools would only assert "Results do not correspond to current coco set".
    """
    img_ids = {img['id'] for img in gt_dataset['images']}
    cat_ids = {cat['id'] for cat in gt_dataset['categories']}
    bad_imgs = sorted({det['image_id'] for det in detections} - img_ids)
    if bad_imgs:
        raise ValueError(f'{len(bad_imgs)} image ids of {source} are not images of {gt_source} '
                         f'(first: {bad_imgs[:5]}); the detections belong to another dataset or split')
    bad_cats = sorted({det['category_id'] for det in detections} - cat_ids)
    if bad_cats:
        raise ValueError(f'category ids {bad_cats[:10]} of {source} are not categories of {gt_source} '
                         f'(it has {sorted(cat_ids)[:10]}...); the detections belong to another dataset')


@dataclass
class CocoEvalResult:
    """What one COCO evaluation produced.

    Attributes:
        stats: the summary numbers by mmdetection's names: ``mAP`` (at 100 detections, see
            :func:`summarize`), ``mAP_50``, ``mAP_75``, ``mAP_s``, ``mAP_m``, ``mAP_l`` (at the largest
            ``max_dets``), ``AR@<n>`` for each ``max_dets`` n, ``AR_s@<max>``, ``AR_m@<max>``,
            ``AR_l@<max>``. -1 where no ground truth exists.
        precision: accumulated precision, shape (T iou thrs, R=101 recall points, K classes,
            A=4 areas, M max_dets); -1 for absent classes.
        recall: accumulated recall, shape (T, K, A, M).
        cat_ids: the category ids along the K axis (ascending, as both backends sort them).
        iou_thrs: the T IoU thresholds.
        headline_max_dets: the index into ``max_dets`` (M axis) of the headline ``mAP``.
    """

    stats: dict
    precision: np.ndarray
    recall: np.ndarray
    cat_ids: List[int]
    iou_thrs: np.ndarray
    headline_max_dets: int

    def class_ap(self, cat_id: int, iou_thr: Optional[float] = None, area: str = 'all') -> float:
        """AP of one category at the headline ``mAP``'s max_dets, so the per-class APs average to ``mAP``.

        NaN when the category has no GT in that area range (COCO leaves it out of the mean).
        """
        area_index = AREA_NAMES.index(area)
        precision = self.precision[:, :, self.cat_ids.index(cat_id), area_index, self.headline_max_dets]
        if iou_thr is not None:
            precision = precision[np.isclose(self.iou_thrs, iou_thr)]
        valid = precision[precision > -1]
        return float(np.mean(valid)) if valid.size else float('nan')


def _mean_valid(values: np.ndarray) -> float:
    """pycocotools' summary rule: mean of the entries > -1, or -1 if there are none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def headline_index(max_dets: Sequence[int]) -> int:
    """Index of the max_dets entry the headline mAP uses.

    pycocotools hard-codes 100 detections for its first number (the official COCO AP) while its
    other AP numbers use ``maxDets[2]``; so with mmdetection's (100, 300, 1000), ``bbox_mAP`` is at
    100 and ``bbox_mAP_50`` at 1000. Without a 100 entry pycocotools returns -1; we use the largest.
    """
    return list(max_dets).index(100) if 100 in max_dets else len(max_dets) - 1


def summarize(precision: np.ndarray, recall: np.ndarray, iou_thrs: np.ndarray,
              max_dets: Sequence[int]) -> dict:
    """The COCO summary numbers from accumulated arrays (see :class:`CocoEvalResult` for names)."""
    top = len(max_dets) - 1
    stats = {'mAP': _mean_valid(precision[..., 0, headline_index(max_dets)])}
    for thr, name in ((0.5, 'mAP_50'), (0.75, 'mAP_75')):
        stats[name] = _mean_valid(precision[np.isclose(iou_thrs, thr)][..., 0, top])
    for area in (1, 2, 3):
        stats[f'mAP_{AREA_NAMES[area]}'] = _mean_valid(precision[..., area, top])
    for m, num in enumerate(max_dets):
        stats[f'AR@{num}'] = _mean_valid(recall[..., 0, m])
    for area in (1, 2, 3):
        stats[f'AR_{AREA_NAMES[area]}@{max_dets[top]}'] = _mean_valid(recall[..., area, top])
    return stats


def evaluate_coco(gt_dataset: dict,
                  detections: Union[str, List[dict]],
                  backend: str = 'faster_coco_eval',
                  cat_ids: Optional[Sequence[int]] = None,
                  img_ids: Optional[Sequence[int]] = None,
                  iou_thrs: Optional[Union[float, Sequence[float]]] = None,
                  max_dets: Sequence[int] = (100, 300, 1000),
                  use_cats: bool = True,
                  coco_gt=None,
                  gt_source: str = 'the ground truth') -> Optional[CocoEvalResult]:
    """Evaluate COCO-format box detections against COCO ground truth.

    Args:
        gt_dataset: the ground truth as a COCO json dict (``images``, ``categories``, ``annotations``
            with ``bbox`` = [x, y, w, h] in original-image pixels, ``area``, ``iscrowd``).
        detections: list of ``dict(image_id, category_id, bbox=[x, y, w, h] pixels, score)`` or the
            path of such a json file (a COCO results file).
        backend: ``'faster_coco_eval'`` (C++, same numbers) or ``'pycocotools'``.
        cat_ids / img_ids: restrict the evaluation (default: all of the ground truth's).
        iou_thrs: IoU thresholds (default COCO's ten).
        max_dets: detections kept per image for the recall columns; AP uses the largest.
        use_cats: False evaluates class-agnostic (proposal recall).
        coco_gt: an already indexed ``COCO`` object of ``backend`` for ``gt_dataset`` (saves
            re-indexing a large file on every evaluation).
        gt_source: how to name the ground truth in error messages (e.g. its file).

    Returns:
        The result, or None when there are no detections at all (pycocotools cannot evaluate an
        empty result list; the caller decides what to report).
    """
    source = 'the detections'
    if isinstance(detections, str):
        source = detections
        with open(detections) as f:
            detections = json.load(f)
        if not isinstance(detections, list):
            raise ValueError(f'{source} is not a COCO results file: expected a json list of detections')
    if len(detections) == 0:
        return None
    check_detections(detections, gt_dataset, source, gt_source)
    if iou_thrs is None:
        iou_thrs = default_iou_thrs()
    iou_thrs = np.atleast_1d(np.asarray(iou_thrs, dtype=np.float64))
    max_dets = sorted(int(n) for n in max_dets)

    _, coco_eval_cls = _backend_classes(backend)
    if coco_gt is None:
        coco_gt = build_coco_api(gt_dataset, backend)
    # loadRes writes id/area/segmentation into each dict: hand it copies so the caller's list and
    # a second backend run see the original detections.
    detections = [dict(det) for det in detections]
    with _quiet():
        coco_dt = coco_gt.loadRes(detections)
        if backend == 'faster_coco_eval':
            coco_eval = coco_eval_cls(coco_gt, coco_dt, 'bbox', print_function=_log_debug)
        else:
            coco_eval = coco_eval_cls(coco_gt, coco_dt, 'bbox')
        params = coco_eval.params
        if cat_ids is not None:
            params.catIds = list(cat_ids)
        if img_ids is not None:
            params.imgIds = list(img_ids)
        params.maxDets = list(max_dets)
        params.iouThrs = iou_thrs
        params.useCats = int(use_cats)
        evaluated_cat_ids = sorted(params.catIds)
        coco_eval.evaluate()
        coco_eval.accumulate()
    precision = np.asarray(coco_eval.eval['precision'])
    recall = np.asarray(coco_eval.eval['recall'])
    return CocoEvalResult(
        stats=summarize(precision, recall, iou_thrs, max_dets),
        precision=precision,
        recall=recall,
        cat_ids=evaluated_cat_ids if use_cats else [-1],
        iou_thrs=iou_thrs,
        headline_max_dets=headline_index(max_dets))
