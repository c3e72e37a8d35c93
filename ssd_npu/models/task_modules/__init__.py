from .anchor_generator import SSDAnchorGenerator
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder
from .max_iou_assigner import MaxIoUAssigner
from .pseudo_sampler import PseudoSampler

__all__ = ['DeltaXYWHBBoxCoder', 'MaxIoUAssigner', 'PseudoSampler', 'SSDAnchorGenerator']
