"""PASCAL VOC mAP as an mmengine metric, with mmdetection 3.x's ``VOCMetric`` interface and names."""
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ssd_npu.registry import METRICS

from ..functional.mean_ap import eval_map
from ..functional.sample_ground_truth import original_ground_truth, to_numpy


@METRICS.register_module()
class VOCMetric(BaseMetric):
    """PASCAL VOC box mAP.

    Args:
        iou_thrs: IoU threshold(s); one ``AP<thr*100>`` item per threshold, ``mAP`` is their mean.
        scale_ranges: optional [(min_size, max_size), ...] in pixels: AP is then computed per range
            (boxes with min_size^2 <= area < max_size^2) and returned as ``AP50@<min>-<max>``.
        metric: ``'mAP'`` (the only one: recall of proposals is not an SSD output).
        eval_mode: ``'11points'`` (VOC2007, mmdetection's default) or ``'area'`` (VOC2010+).
        rescale_gt: the samples' GT is in network-input pixels (a test pipeline with LoadAnnotations
            before Resize) and is mapped back with ``scale_factor``. Default False: mmdetection's
            test pipelines load annotations after Resize, so the GT is in original pixels already.
        collect_device / prefix: see mmengine's ``BaseMetric``.

    Difficult boxes come as ``ignored_instances``: detecting them is neither TP nor FP. Predictions
    are in original pixels. Widths count the end pixel (x2 - x1 + 1) as the VOC devkit and
    mmdetection do.
    """

    default_prefix: Optional[str] = 'pascal_voc'

    def __init__(self,
                 iou_thrs: Union[float, List[float]] = 0.5,
                 scale_ranges: Optional[List[Tuple[float, float]]] = None,
                 metric: Union[str, List[str]] = 'mAP',
                 eval_mode: str = '11points',
                 rescale_gt: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        thrs = [iou_thrs] if isinstance(iou_thrs, (int, float)) else iou_thrs
        self.iou_thrs = [float(t) for t in thrs]
        self.scale_ranges = [tuple(r) for r in scale_ranges] if scale_ranges is not None else None
        metrics = [metric] if isinstance(metric, str) else list(metric)
        if metrics != ['mAP']:
            raise KeyError(f"metric must be 'mAP', got {metric!r}")
        if eval_mode not in ('area', '11points'):
            raise ValueError(f"eval_mode must be 'area' or '11points', got {eval_mode!r}")
        self.eval_mode = eval_mode
        self.rescale_gt = rescale_gt

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's GT (original pixels) and its finite predictions split by class.

        Args:
            data_batch: unused (mmengine's signature).
            data_samples: ``DetDataSample.to_dict()`` per image with ``pred_instances`` (bboxes
                xyxy original pixels, scores, labels 0-based), ``gt_instances``,
                ``ignored_instances`` (difficult), ``ori_shape``, ``scale_factor``.
        """
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            ann = original_ground_truth(sample, rescale=self.rescale_gt)
            pred = sample['pred_instances']
            bboxes = to_numpy(pred['bboxes'], np.float32).reshape(-1, 4)
            scores = to_numpy(pred['scores'], np.float32).reshape(-1)
            labels = to_numpy(pred['labels'], np.int64).reshape(-1)
            finite = np.isfinite(scores) & np.isfinite(bboxes).all(axis=1)
            dets = np.concatenate([bboxes, scores[:, None]], axis=1)[finite]
            labels = labels[finite]
            per_class = [dets[labels == cls] for cls in range(num_classes)]
            self.results.append(dict(img_id=sample.get('img_id'), ann=ann, dets=per_class,
                                     num_dropped=int((~finite).sum())))

    def compute_metrics(self, results: list) -> dict:
        """mAP over the collected images (rank 0 only).

        Returns:
            ``mAP`` first (the mean over IoU thresholds), then ``AP<thr>`` per threshold
            (``AP50@<min>-<max>`` per scale range when given).
        """
        logger: MMLogger = MMLogger.get_current_instance()
        seen, unique = set(), []
        for result in results:
            # Same image twice (a dataset listing it twice) would count its GT twice.
            if result['img_id'] is None or result['img_id'] not in seen:
                seen.add(result['img_id'])
                unique.append(result)
        dropped = sum(r['num_dropped'] for r in unique)
        if dropped:
            logger.warning(f'dropped {dropped} predictions with NaN/inf scores or boxes before evaluation')
        classes = self.dataset_meta['classes']
        if not unique:
            logger.warning('no images were evaluated: mAP is reported as 0')
            return OrderedDict(mAP=0.0)
        eval_results = OrderedDict()
        means = []
        for thr in self.iou_thrs:
            logger.info(f'{"-" * 15} iou_thr: {thr} {"-" * 15}')
            mean_ap, _ = eval_map([r['dets'] for r in unique], [r['ann'] for r in unique],
                                  scale_ranges=self.scale_ranges, iou_thr=thr, eval_mode=self.eval_mode,
                                  use_legacy_coordinate=True, class_names=classes, logger=logger)
            name = f'AP{int(round(thr * 100)):02d}'
            if self.scale_ranges is None:
                eval_results[name] = mean_ap
                means.append(mean_ap)
            else:
                for (low, high), value in zip(self.scale_ranges, mean_ap):
                    eval_results[f'{name}@{low}-{high}'] = value
                means.extend(mean_ap)
        eval_results['mAP'] = float(np.mean(means))
        eval_results.move_to_end('mAP', last=False)
        return eval_results
