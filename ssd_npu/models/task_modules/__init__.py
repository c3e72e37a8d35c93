from .anchor_generator import SSDAnchorGenerator
from .assign_result import AssignResult
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder
from .max_iou_assigner import MaxIoUAssigner
from .pseudo_sampler import PseudoSampler

__all__ = ['AssignResult', 'DeltaXYWHBBoxCoder', 'MaxIoUAssigner', 'PseudoSampler', 'SSDAnchorGenerator']
