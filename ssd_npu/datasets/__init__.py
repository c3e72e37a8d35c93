from .base_det_dataset import BaseDetDataset
from .coco import CocoDataset
from .dataset_wrappers import ClassBalancedDataset, ConcatDataset, RepeatDataset
from .samplers import DefaultSampler
from .synthetic import ensure_synthetic_coco, generate_synthetic_coco
from .synthetic_coco_dataset import SyntheticCocoDataset
from .transforms import *  # noqa: F401,F403  (registers the transforms)
from .voc import VOCDataset
from .xml_style import XMLDataset

__all__ = ['BaseDetDataset', 'ClassBalancedDataset', 'CocoDataset', 'ConcatDataset', 'DefaultSampler',
           'RepeatDataset', 'SyntheticCocoDataset', 'VOCDataset', 'XMLDataset',
           'ensure_synthetic_coco', 'generate_synthetic_coco']
