from .det_data_sample import DetDataSample
from .padded_ground_truth import GroundTruthPadding, PaddedGroundTruth

__all__ = ['DetDataSample', 'GroundTruthPadding', 'PaddedGroundTruth']
