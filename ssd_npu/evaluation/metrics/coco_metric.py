"""COCO box AP/AR as an mmengine metric, with mmdetection 3.x's ``CocoMetric`` interface and names."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from ssd_npu.datasets.coco import load_coco_json
from ssd_npu.datasets.coco_categories import label_category_ids
from ssd_npu.errors import InvalidArgumentError
from ssd_npu.registry import METRICS

from ..functional.coco_eval import (
    BACKENDS,
    CocoEvalResult,
    build_coco_api,
    default_iou_thrs,
    evaluate_coco,
    summarize,
)
from ..functional.sample_ground_truth import instances_ground_truth, original_ground_truth, to_numpy

# Items returned when ``metric_items`` is None (mmdetection's choice): AP for 'bbox', AR for 'proposal'.
_AP_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def _xyxy_to_xywh(bboxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) COCO [x, y, w, h], pixels."""
    return np.concatenate([bboxes[:, :2], bboxes[:, 2:] - bboxes[:, :2]], axis=1)


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO detection metric: box mAP over IoU 0.50:0.95 and its 11 companion numbers.

    Args:
        ann_file: COCO annotation json of the evaluated split. Without it, the ground truth is
            built from the samples, as mmdetection does: from their ``instances`` (the dataset's
            raw annotations: ``bbox`` xyxy original pixels, ``bbox_label``, ``ignore_flag`` for
            crowd) when they carry them, otherwise from ``gt_instances``/``ignored_instances``
            (see ``rescale_gt``); category id = label. It is written to
            ``<outfile_prefix>.gt.json`` when ``outfile_prefix`` is set, kept in memory otherwise.
        metric: ``'bbox'`` (class-aware AP) and/or ``'proposal'`` (class-agnostic AR).
        classwise: log a per-class AP table and return ``<class>_precision`` items.
        proposal_nums: COCO's ``maxDets``: detections kept per image and class; AP uses the
            largest, AR is reported at each (``AR@100``, ``AR@300``, ``AR@1000``).
        iou_thrs: IoU thresholds (default 0.50:0.05:0.95).
        metric_items: which summary numbers to return (default: the six AP numbers for 'bbox',
            the six AR numbers for 'proposal'). Names: ``mAP``, ``mAP_50``, ``mAP_75``, ``mAP_s``,
            ``mAP_m``, ``mAP_l``, ``AR@<n>``, ``AR_s@<max n>``, ``AR_m@<max n>``, ``AR_l@<max n>``.
        format_only: only write ``<outfile_prefix>.bbox.json`` (e.g. a test-dev submission).
        outfile_prefix: where to write the results json (``<prefix>.bbox.json``) and, without
            ann_file, the ground truth (``<prefix>.gt.json``).
        backend_args: mmengine file backend arguments for reading ``ann_file``.
        backend: ``'faster_coco_eval'`` (C++; the same numbers as pycocotools to 1e-15, ~20x
            faster) or ``'pycocotools'``.
        rescale_gt: without ann_file only: the samples' GT is in network-input pixels (LoadAnnotations
            before Resize) and is mapped back with ``scale_factor``. Default False: mmdetection's test
            pipelines load annotations after Resize, so the GT is in original pixels already.
        collect_device / prefix: see mmengine's ``BaseMetric``.
        sort_categories: sort the file's categories by id before mapping class names to ids
            (:func:`label_category_ids`, the mapping ``CocoDataset`` labels with).
        use_mp_eval: mmdetection's multi-process pycocotools evaluation; accepted so that its
            configs load, and not needed: ``backend='faster_coco_eval'`` is faster still.

    Returns mmdetection's keys (``bbox_mAP``, ..., ``AR@100``, ..., ``<class>_precision``) with
    the backends' full-precision numbers (mmdetection rounds them to 3 decimals); the six AP
    numbers are logged as one line, ``bbox_mAP_copypaste: ...``.

    Images are evaluated once each, in the order they were processed; the set evaluated is the
    set the dataloader delivered (a warning lists how many images of ``ann_file`` got none).
    """

    default_prefix: Optional[str] = 'coco'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 classwise: bool = False,
                 proposal_nums: Sequence[int] = (100, 300, 1000),
                 iou_thrs: Optional[Union[float, Sequence[float]]] = None,
                 metric_items: Optional[Sequence[str]] = None,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 backend: str = 'faster_coco_eval',
                 rescale_gt: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sort_categories: bool = False,
                 use_mp_eval: bool = False) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = list(metric) if isinstance(metric, (list, tuple)) else [metric]
        for name in self.metrics:
            if name not in ('bbox', 'proposal'):
                raise KeyError(f"metric must be 'bbox' or 'proposal' (SSD predicts boxes only), got {name!r}")
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        if format_only and outfile_prefix is None:
            raise InvalidArgumentError('format_only=True needs outfile_prefix: the results json is the only '
                                       'output')
        self.classwise = classwise
        self.proposal_nums = sorted(int(n) for n in proposal_nums)
        self.iou_thrs = default_iou_thrs() if iou_thrs is None else np.atleast_1d(np.asarray(iou_thrs, float))
        self.metric_items = list(metric_items) if metric_items is not None else None
        if self.metric_items is not None:
            known = self._summary_names()
            unknown = [item for item in self.metric_items if item not in known]
            if unknown:
                raise KeyError(f'metric items {unknown} are not supported; choose from {known}')
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.backend = backend
        self.rescale_gt = rescale_gt
        self.ann_file = ann_file
        self.sort_categories = sort_categories
        self._gt_dataset = None
        self._gt_img_ids = None
        self._coco_gt = None
        if ann_file is not None:
            self._gt_dataset = load_coco_json(ann_file, backend_args)
            self._gt_img_ids = {img['id'] for img in self._gt_dataset['images']}

    def _summary_names(self) -> List[str]:
        """Names of the summary numbers for this ``proposal_nums``."""
        dummy = summarize(np.zeros((1, 1, 1, 4, len(self.proposal_nums))),
                          np.zeros((1, 1, 4, len(self.proposal_nums))), np.array([0.5]), self.proposal_nums)
        return list(dummy)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's finite predictions (xyxy, original pixels) and, without ann_file, its GT.

        Args:
            data_batch: unused (mmengine's signature).
            data_samples: ``DetDataSample.to_dict()`` per image: ``pred_instances`` (bboxes
                FloatTensor[N, 4] xyxy original pixels, scores [N], labels [N] 0-based), ``img_id``,
                ``ori_shape``, and ``gt_instances``/``ignored_instances``/``scale_factor`` when the
                metric has no ann_file.
        """
        for sample in data_samples:
            img_id = sample['img_id']
            if self._gt_img_ids is not None and img_id not in self._gt_img_ids:
                raise ValueError(f'img_id {img_id!r} ({sample.get("img_path", "unknown path")}) is not an '
                                 f'image of the metric ann_file {self.ann_file}: the evaluated dataset and '
                                 'the metric use different annotation files')
            pred = sample['pred_instances']
            bboxes = to_numpy(pred['bboxes'], np.float32).reshape(-1, 4)
            scores = to_numpy(pred['scores'], np.float32).reshape(-1)
            labels = to_numpy(pred['labels'], np.int64).reshape(-1)
            finite = np.isfinite(scores) & np.isfinite(bboxes).all(axis=1)
            result = dict(img_id=img_id, bboxes=bboxes[finite], scores=scores[finite],
                          labels=labels[finite], num_dropped=int((~finite).sum()))
            if self._gt_dataset is None:
                if sample.get('instances') is not None:
                    result['gt'] = instances_ground_truth(sample['instances'])
                else:
                    result['gt'] = original_ground_truth(sample, rescale=self.rescale_gt)
                result['height'], result['width'] = (int(v) for v in sample['ori_shape'][:2])
            self.results.append(result)

    def _classes(self) -> Optional[Sequence[str]]:
        return (self.dataset_meta or {}).get('classes')

    def _gt_from_samples(self, results: List[dict]) -> dict:
        """COCO json dict built from the samples' GT (category id = 0-based label, crowd = ignored)."""
        classes = self._classes()
        num_classes = len(classes) if classes is not None else 1 + max(
            [int(r['gt']['labels'].max()) for r in results if r['gt']['labels'].size] + [-1])
        names = classes if classes is not None else [f'class_{i}' for i in range(num_classes)]
        images, annotations = [], []
        for result in results:
            images.append(dict(id=result['img_id'], width=result['width'], height=result['height'],
                               file_name=''))
            gt = result['gt']
            for boxes, labels, crowd in ((gt['bboxes'], gt['labels'], 0),
                                         (gt['bboxes_ignore'], gt['labels_ignore'], 1)):
                for box, label in zip(_xyxy_to_xywh(boxes).tolist(), labels.tolist()):
                    # pycocotools reserves annotation id 0 for "unmatched": ids start at 1.
                    annotations.append(dict(id=len(annotations) + 1, image_id=result['img_id'], bbox=box,
                                            area=box[2] * box[3], category_id=label, iscrowd=crowd))
        categories = [dict(id=i, name=name) for i, name in enumerate(names)]
        return dict(images=images, annotations=annotations, categories=categories)

    def _category_ids(self, gt_dataset: dict, gt_source: str) -> List[int]:
        """Category id of each 0-based label: the dataset's own mapping (see :func:`label_category_ids`)."""
        return label_category_ids(gt_dataset['categories'], self._classes(), gt_source,
                                  sort_by_id=self.sort_categories)

    def _detections(self, results: List[dict], cat_ids: List[int]) -> List[dict]:
        """COCO results list: ``image_id``, ``category_id``, ``bbox`` [x, y, w, h] pixels, ``score``."""
        detections = []
        for result in results:
            labels = result['labels']
            if labels.size and (labels.min() < 0 or labels.max() >= len(cat_ids)):
                raise ValueError(f'image {result["img_id"]} has predicted label {int(labels.max())} (or '
                                 f'{int(labels.min())}) outside the {len(cat_ids)} evaluated classes; '
                                 "the model's num_classes and the dataset's classes disagree")
            boxes = _xyxy_to_xywh(result['bboxes']).tolist()
            for box, score, label in zip(boxes, result['scores'].tolist(), labels.tolist()):
                detections.append(dict(image_id=result['img_id'], bbox=box, score=score,
                                       category_id=cat_ids[label]))
        return detections

    def _unique(self, results: List[dict], logger: MMLogger) -> List[dict]:
        """Keep the first result of each image.

        mmengine's ``collect_results`` already drops the samples a distributed sampler added to
        even out the ranks; this also covers datasets that list an image twice.
        """
        seen, unique = set(), []
        for result in results:
            if result['img_id'] not in seen:
                seen.add(result['img_id'])
                unique.append(result)
        if len(unique) != len(results):
            logger.warning(f'{len(results) - len(unique)} repeated images were evaluated once each')
        return unique

    def compute_metrics(self, results: list) -> Dict[str, Union[float, str]]:
        """COCO evaluation of all collected results (called on rank 0 only).

        Returns:
            ``bbox_mAP``, ``bbox_mAP_50``, ... (see ``metric_items``), ``<class>_precision`` with
            ``classwise``; AR items for 'proposal'. Empty with format_only.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        results = self._unique(results, logger)
        dropped = sum(r['num_dropped'] for r in results)
        if dropped:
            logger.warning(f'dropped {dropped} predictions with NaN/inf scores or boxes before evaluation')

        if self._gt_dataset is not None:
            gt_dataset, gt_source = self._gt_dataset, f'ann_file {self.ann_file}'
        else:
            gt_dataset, gt_source = self._gt_from_samples(results), 'the ground truth of the samples'
        cat_ids = self._category_ids(gt_dataset, gt_source)
        detections = self._detections(results, cat_ids)

        if self.outfile_prefix is not None:
            self._dump(detections, 'bbox', logger)
            if self._gt_dataset is None:
                self._dump(gt_dataset, 'gt', logger)
        if self.format_only:
            return {}

        img_ids = [r['img_id'] for r in results]
        if self._gt_dataset is not None and len(img_ids) < len(self._gt_img_ids):
            logger.warning(f'{len(self._gt_img_ids) - len(img_ids)} of the {len(self._gt_img_ids)} images of '
                           f'{self.ann_file} were not evaluated (the dataloader did not deliver them)')
        if self._gt_dataset is None or self._coco_gt is None:
            # Index once per ann_file; the in-memory GT is rebuilt from each evaluation's samples.
            self._coco_gt = build_coco_api(gt_dataset, self.backend)

        eval_results: Dict[str, Union[float, str]] = {}
        for metric in self.metrics:
            logger.info(f'Evaluating {metric} ({self.backend}) on {len(img_ids)} images...')
            outcome = None
            if detections:
                outcome = evaluate_coco(gt_dataset, detections, backend=self.backend, cat_ids=cat_ids,
                                        img_ids=img_ids, iou_thrs=self.iou_thrs, max_dets=self.proposal_nums,
                                        use_cats=metric == 'bbox', coco_gt=self._coco_gt, gt_source=gt_source)
            if outcome is None:
                logger.warning('there are no predictions at all: every COCO number is reported as 0')
                stats = dict.fromkeys(self._summary_names(), 0.0)
            else:
                stats = outcome.stats
            self._log_summary(metric, stats, logger)
            if metric == 'proposal':
                items = self.metric_items or [name for name in stats if name.startswith('AR')]
                eval_results.update({item: stats[item] for item in items})
                continue
            items = self.metric_items or list(_AP_ITEMS)
            eval_results.update({f'bbox_{item}': stats[item] for item in items})
            logger.info('bbox_mAP_copypaste: ' + ' '.join(f'{stats[name]:.3f}' for name in _AP_ITEMS))
            if self.classwise and outcome is not None:
                eval_results.update(self._classwise(outcome, gt_dataset, cat_ids, logger))
        return eval_results

    def _dump(self, content: Union[List[dict], dict], kind: str, logger: MMLogger) -> None:
        """Write ``<outfile_prefix>.<kind>.json``: the detections ('bbox') or the ground truth ('gt')."""
        path = f'{self.outfile_prefix}.{kind}.json'
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(content, f)
        what = f'{len(content)} detections' if kind == 'bbox' else 'the ground truth of the samples'
        logger.info(f'wrote {what} to {path}')

    def _log_summary(self, metric: str, stats: dict, logger: MMLogger) -> None:
        iou_text = f'{self.iou_thrs[0]:.2f}:{self.iou_thrs[-1]:.2f}'
        lines = [f'{metric} (IoU {iou_text}, maxDets {self.proposal_nums}):']
        lines += [f'  {name:<12} = {value:.3f}' for name, value in stats.items()]
        logger.info('\n'.join(lines))

    def _classwise(self, outcome: CocoEvalResult, gt_dataset: dict, cat_ids: List[int],
                   logger: MMLogger) -> Dict[str, float]:
        """Per-class AP table (NaN where the class has no GT in that column, as COCO excludes it)."""
        names = {cat['id']: cat['name'] for cat in gt_dataset['categories']}
        header = ['category', 'mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
        rows, per_class = [header], {}
        for cat_id in cat_ids:
            values = [outcome.class_ap(cat_id), outcome.class_ap(cat_id, iou_thr=0.5),
                      outcome.class_ap(cat_id, iou_thr=0.75)]
            values += [outcome.class_ap(cat_id, area=area) for area in ('s', 'm', 'l')]
            rows.append([names[cat_id]] + [f'{v:.3f}' for v in values])
            per_class[f'{names[cat_id]}_precision'] = values[0]
        logger.info('\n' + AsciiTable(rows).table)
        return per_class
