from .bbox_overlaps import bbox_overlaps
from .nms import batched_nms, greedy_nms_keep

__all__ = ['batched_nms', 'bbox_overlaps', 'greedy_nms_keep']
