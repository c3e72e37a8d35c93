"""Pascal-VOC-style dataset: an id list plus one XML annotation file per image."""
import math
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional

import cv2
import mmcv
from mmengine.fileio import get, get_local_path, list_from_file

from ssd_npu.registry import DATASETS

from .bad_samples import ParseProblems
from .base_det_dataset import BaseDetDataset
from .box_checks import check_box

_CORNERS = ('xmin', 'ymin', 'xmax', 'ymax')


def _voc_coordinate(text: Optional[str]) -> float:
    """A VOC corner as mmdetection reads it: truncated to an int, minus 1 (VOC is 1-based).

    Non-finite values pass through so that :func:`check_box` reports them.
    """
    value = float(text)
    return float(math.trunc(value) - 1) if math.isfinite(value) else value


@DATASETS.register_module()
class XMLDataset(BaseDetDataset):
    """Detection dataset in Pascal VOC's layout (mmdetection 3.x's ``XMLDataset`` arguments).

    ``ann_file`` lists image ids, one per line; image ``<id>`` is
    ``<sub_data_root>/<img_subdir>/<id>.jpg`` and its annotation
    ``<sub_data_root>/<ann_subdir>/<id>.xml``. Objects marked ``difficult`` (and, with
    ``filter_cfg=dict(bbox_min_size=s)``, boxes under ``s`` px) get ``ignore_flag=1``;
    objects of classes outside ``metainfo['classes']`` are skipped. Boxes are shifted by
    -1 px as in mmdetection (VOC corners are 1-based pixel indices).

    Bad data: a missing or unparsable XML skips its image, a broken box is dropped or clipped,
    each with a warning naming the file and the reason.

    Args:
        img_subdir: image folder under ``sub_data_root``.
        ann_subdir: XML folder under ``sub_data_root``.
        data_prefix: ``dict(sub_data_root='VOC2007/')``, relative to ``data_root``.
        **kwargs: see :class:`BaseDetDataset`.
    """

    def __init__(self, *args, img_subdir: str = 'JPEGImages', ann_subdir: str = 'Annotations',
                 data_prefix: Optional[dict] = None, **kwargs) -> None:
        self.img_subdir = img_subdir
        self.ann_subdir = ann_subdir
        super().__init__(*args, data_prefix=data_prefix or dict(sub_data_root=''), **kwargs)

    @property
    def sub_data_root(self) -> str:
        return self.data_prefix.get('sub_data_root', '')

    @property
    def bbox_min_size(self) -> Optional[float]:
        return (self.filter_cfg or {}).get('bbox_min_size')

    def load_data_list(self) -> List[dict]:
        """Parse every listed image's XML into a data info (see :class:`BaseDetDataset`)."""
        if self._metainfo.get('classes') is None:
            raise ValueError(f"{type(self).__name__} needs metainfo['classes']")
        self.cat2label = {name: label for label, name in enumerate(self._metainfo['classes'])}
        try:
            img_ids = list_from_file(self.ann_file, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'image id list not found: {self.ann_file}') from e
        problems = ParseProblems(self.ann_file)
        data_list = []
        for img_id in (line.strip() for line in img_ids):
            if img_id:
                info = self._parse_image(img_id, problems)
                if info is not None:
                    data_list.append(info)
        problems.log_summary()
        self.parse_problems = dict(problems.counts)
        return data_list

    def _parse_image(self, img_id: str, problems: ParseProblems) -> Optional[dict]:
        img_path = osp.join(self.sub_data_root, self.img_subdir, f'{img_id}.jpg')
        xml_path = osp.join(self.sub_data_root, self.ann_subdir, f'{img_id}.xml')
        try:
            with get_local_path(xml_path, backend_args=self.backend_args) as local_path:
                root = ET.parse(local_path).getroot()
        except FileNotFoundError:
            problems.add(xml_path, 'annotation file missing', 'image skipped')
            return None
        except ET.ParseError as e:
            problems.add(xml_path, f'not valid XML ({e})', 'image skipped')
            return None
        size = self._image_size(root, img_path)
        if size is None:
            problems.add(xml_path, 'no <size> and the image cannot be read', 'image skipped')
            return None
        width, height = size
        instances = []
        for index, obj in enumerate(root.findall('object')):
            name = obj.findtext('name')
            if name not in self.cat2label:
                continue
            where = f'{xml_path}, object {index} ({name})'
            bnd_box = obj.find('bndbox')
            try:
                corners = [_voc_coordinate(bnd_box.findtext(k)) for k in _CORNERS]
            except (AttributeError, TypeError, ValueError):
                problems.add(where, 'bndbox without 4 numeric corners', 'box dropped')
                continue
            box, reason = check_box(*corners, width, height)
            if reason is not None:
                problems.add(where, reason, 'box dropped' if box is None else 'box clipped')
            if box is None:
                continue
            ignore = (obj.findtext('difficult') or '0').strip() not in ('0', '')
            if self.bbox_min_size is not None and not self.test_mode:
                ignore |= min(box[2] - box[0], box[3] - box[1]) < self.bbox_min_size
            instances.append(dict(bbox=box, bbox_label=self.cat2label[name],
                                  ignore_flag=int(ignore)))
        return dict(img_path=img_path, img_id=img_id, height=height, width=width,
                    instances=instances)

    def _image_size(self, root: ET.Element, img_path: str) -> Optional[tuple]:
        """``(width, height)`` from ``<size>``, else from the image itself (as mmdetection)."""
        size = root.find('size')
        if size is not None and size.findtext('width') and size.findtext('height'):
            return int(size.findtext('width')), int(size.findtext('height'))
        try:
            img = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args))
        except (OSError, ValueError, cv2.error):
            return None
        return None if img is None else (img.shape[1], img.shape[0])
