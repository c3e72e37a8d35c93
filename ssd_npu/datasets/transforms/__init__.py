from .expand import Expand
from .formatting import PackDetInputs
from .loading import LoadAnnotations, LoadImageFromFile
from .min_iou_random_crop import MinIoURandomCrop
from .photo_metric_distortion import PhotoMetricDistortion
from .random_flip import RandomFlip
from .resize import Resize

__all__ = ['Expand', 'LoadAnnotations', 'LoadImageFromFile', 'MinIoURandomCrop', 'PackDetInputs',
           'PhotoMetricDistortion', 'RandomFlip', 'Resize']
