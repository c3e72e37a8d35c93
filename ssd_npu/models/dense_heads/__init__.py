from .ssd_head import SSDHead, pad_gt_instances

__all__ = ['SSDHead', 'pad_gt_instances']
