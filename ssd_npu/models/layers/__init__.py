from .bbox_overlaps import bbox_overlaps
from .nms import batched_nms, nms_matrix

__all__ = ['batched_nms', 'bbox_overlaps', 'nms_matrix']
