from .det_data_sample import DetDataSample

__all__ = ['DetDataSample']
