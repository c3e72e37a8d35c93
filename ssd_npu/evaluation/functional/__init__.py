from .bbox_overlaps import bbox_overlaps
from .coco_eval import CocoEvalResult, build_coco_api, evaluate_coco, summarize
from .mean_ap import average_precision, eval_map, map_table, match_detections
from .sample_ground_truth import boxes_to_original, original_ground_truth

__all__ = [
    'bbox_overlaps', 'CocoEvalResult', 'build_coco_api', 'evaluate_coco', 'summarize',
    'average_precision', 'eval_map', 'map_table', 'match_detections', 'boxes_to_original',
    'original_ground_truth'
]
