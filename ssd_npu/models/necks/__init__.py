from .ssd_neck import L2Norm, SSDNeck

__all__ = ['L2Norm', 'SSDNeck']
