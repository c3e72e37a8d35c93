"""Pascal VOC 2007/2012 detection dataset."""
from ssd_npu.registry import DATASETS

from .xml_style import XMLDataset

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')

# mmdetection's colours for the 20 classes.
VOC_PALETTE = [(106, 0, 228), (119, 11, 32), (165, 42, 42), (0, 0, 192), (197, 226, 255),
               (0, 60, 100), (0, 0, 142), (255, 77, 255), (153, 69, 1), (120, 166, 157),
               (0, 182, 199), (0, 226, 252), (182, 182, 255), (0, 0, 230), (220, 20, 60),
               (163, 255, 0), (0, 82, 0), (3, 95, 161), (0, 80, 100), (183, 130, 88)]


@DATASETS.register_module()
class VOCDataset(XMLDataset):
    """Pascal VOC (``data_prefix=dict(sub_data_root='VOC2007/')``, ``ann_file`` =
    ``VOC2007/ImageSets/Main/trainval.txt``); difficult objects get ``ignore_flag=1``.

    ``metainfo['dataset_type']`` is ``'VOC2007'`` or ``'VOC2012'`` (from ``sub_data_root``),
    as in mmdetection, whose VOC metric reads it; concatenating both years therefore needs
    ``ConcatDataset(ignore_keys=['dataset_type'])``.
    """

    METAINFO = dict(classes=VOC_CLASSES, palette=VOC_PALETTE)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        year = next((y for y in ('VOC2007', 'VOC2012') if y in self.sub_data_root), None)
        self._metainfo['dataset_type'] = year
