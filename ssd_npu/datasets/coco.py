"""COCO-format detection dataset (COCO 2017 and any file in its JSON format)."""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from mmengine.fileio import get_local_path

from ssd_npu.registry import DATASETS

from .bad_samples import ParseProblems
from .base_det_dataset import BaseDetDataset
from .box_checks import check_box
from .coco_categories import label_category_ids

COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')

# mmdetection's colours for the 80 classes, so that visualisations look the same.
COCO_PALETTE = [
    (220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230), (106, 0, 228), (0, 60, 100),
    (0, 80, 100), (0, 0, 70), (0, 0, 192), (250, 170, 30), (100, 170, 30), (220, 220, 0),
    (175, 116, 175), (250, 0, 30), (165, 42, 42), (255, 77, 255), (0, 226, 252), (182, 182, 255),
    (0, 82, 0), (120, 166, 157), (110, 76, 0), (174, 57, 255), (199, 100, 0), (72, 0, 118),
    (255, 179, 240), (0, 125, 92), (209, 0, 151), (188, 208, 182), (0, 220, 176), (255, 99, 164),
    (92, 0, 73), (133, 129, 255), (78, 180, 255), (0, 228, 0), (174, 255, 243), (45, 89, 255),
    (134, 134, 103), (145, 148, 174), (255, 208, 186), (197, 226, 255), (171, 134, 1),
    (109, 63, 54), (207, 138, 255), (151, 0, 95), (9, 80, 61), (84, 105, 51), (74, 65, 105),
    (166, 196, 102), (208, 195, 210), (255, 109, 65), (0, 143, 149), (179, 0, 194),
    (209, 99, 106), (5, 121, 0), (227, 255, 205), (147, 186, 208), (153, 69, 1), (3, 95, 161),
    (163, 255, 0), (119, 0, 170), (0, 182, 199), (0, 165, 120), (183, 130, 88), (95, 32, 0),
    (130, 114, 135), (110, 129, 133), (166, 74, 118), (219, 142, 185), (79, 210, 114),
    (178, 90, 62), (65, 70, 15), (127, 167, 115), (59, 105, 106), (142, 108, 45), (196, 172, 0),
    (95, 54, 80), (128, 76, 255), (201, 57, 1), (246, 0, 122), (191, 162, 208)]

_IMAGE_KEYS = ('id', 'file_name', 'width', 'height')


def _without_masks(pairs: List[Tuple[str, object]]) -> dict:
    obj = dict(pairs)
    obj.pop('segmentation', None)
    return obj


def load_coco_json(ann_file: str, backend_args: Optional[dict] = None) -> dict:
    """Read a COCO annotation file and check its top-level structure.

    Annotations lose their ``segmentation`` while the file is parsed: SSD predicts boxes, and
    the polygons are about half the memory of a COCO file's parse (docs/training.md).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not JSON, or not a COCO file (an object with ``images`` and
            ``categories`` lists, ``annotations`` optional as in COCO's test-dev image info);
            the message names the file.
    """
    try:
        with get_local_path(ann_file, backend_args=backend_args) as local_path:
            with open(local_path, 'rb') as f:
                data = json.load(f, object_pairs_hook=_without_masks)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'COCO annotation file not found: {ann_file}') from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{ann_file} is not a JSON file ({e})') from e
    keys = sorted(data) if isinstance(data, dict) else type(data).__name__
    if not (isinstance(data, dict) and isinstance(data.get('images'), list)
            and isinstance(data.get('categories'), list)
            and isinstance(data.get('annotations', []), list)):
        raise ValueError(f'{ann_file} is not a COCO annotation file: expected a JSON object with '
                         f'"images", "annotations" and "categories" lists, got {keys}')
    for cat in data['categories']:
        if not (isinstance(cat, dict) and 'id' in cat and 'name' in cat):
            raise ValueError(f'{ann_file}: category entry {cat!r} has no "id" and "name"')
    return data


@DATASETS.register_module()
class CocoDataset(BaseDetDataset):
    """COCO-format detection dataset (mmdetection 3.x's ``CocoDataset`` arguments).

    Labels are 0-based indices into the file's category list restricted to
    ``metainfo['classes']``, in the file's order (:func:`label_category_ids`, which
    ``CocoMetric`` uses too), so ``metainfo['classes']`` must name file categories in that
    order: a name missing from the file or a different order raises instead of silently
    shifting labels. Crowd boxes are kept with ``ignore_flag=1``; annotations with
    ``ignore=1`` are skipped.

    Broken annotations are dropped (or clipped when partly outside the image) with a warning
    naming the file, the image and the reason: non-finite coordinates, width or height below
    1 px (mmdetection's rule), boxes outside the image, categories missing from the category
    list, unknown image ids, malformed entries.

    Args:
        ann_file: COCO JSON, relative to ``data_root`` unless absolute.
        data_prefix: ``dict(img='train2017/')``: the image folder under ``data_root``.
        **kwargs: see :class:`BaseDetDataset`.
    """

    METAINFO = dict(classes=COCO_CLASSES, palette=COCO_PALETTE)
    cached_attributes = ('cat_ids', 'cat2label', 'parse_problems')

    def __init__(self, *args, data_prefix: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, data_prefix=data_prefix or dict(img=''), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the annotation file into data infos (see :class:`BaseDetDataset`)."""
        coco = load_coco_json(self.ann_file, self.backend_args)
        problems = ParseProblems(self.ann_file)
        self.cat_ids = label_category_ids(coco['categories'], self._metainfo['classes'], self.ann_file)
        self.cat2label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}
        known_cats = {cat['id'] for cat in coco['categories']}

        images = {}
        for index, img in enumerate(coco['images']):
            if not (isinstance(img, dict) and all(k in img for k in _IMAGE_KEYS)):
                problems.add(f'images[{index}]', 'image entry without id/file_name/width/height',
                             'image skipped')
                continue
            if img['id'] in images:
                raise ValueError(f'{self.ann_file}: image id {img["id"]} appears twice')
            images[img['id']] = img

        anns_by_image: Dict[object, List[dict]] = defaultdict(list)
        ann_ids = set()
        for ann in coco.get('annotations', []):
            ann_id = ann.get('id')
            if ann_id is not None:
                if ann_id in ann_ids:
                    raise ValueError(f"{self.ann_file}: annotation ids are not unique ({ann_id})")
                ann_ids.add(ann_id)
            if ann.get('image_id') not in images:
                problems.add(f'annotation {ann_id}', 'image_id not in the images list',
                             'box dropped')
                continue
            if ann.get('category_id') not in known_cats:
                img = images[ann['image_id']]
                problems.add(f'image {img["id"]} ({img["file_name"]}), annotation {ann_id} '
                             f'(category_id {ann.get("category_id")})',
                             'category not in the categories list', 'box dropped')
                continue
            anns_by_image[ann['image_id']].append(ann)

        data_list = [self._parse_image(img, anns_by_image[img_id], problems)
                     for img_id, img in images.items()]
        problems.log_summary()
        self.parse_problems = dict(problems.counts)
        return data_list

    def _parse_image(self, img: dict, anns: List[dict], problems: ParseProblems) -> dict:
        instances = []
        for ann in anns:
            if ann.get('ignore', False) or ann['category_id'] not in self.cat2label:
                continue
            where = f'image {img["id"]} ({img["file_name"]}), annotation {ann.get("id")}'
            bbox = ann.get('bbox')
            if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
                    and all(isinstance(v, (int, float)) for v in bbox)):
                problems.add(where, 'bbox is not 4 numbers', 'box dropped')
                continue
            x, y, w, h = bbox
            box, reason = check_box(x, y, x + w, y + h, img['width'], img['height'], min_size=1)
            if reason is not None:
                problems.add(where, reason, 'box dropped' if box is None else 'box clipped')
            if box is None:
                continue
            instances.append(dict(bbox=box, bbox_label=self.cat2label[ann['category_id']],
                                  ignore_flag=1 if ann.get('iscrowd', False) else 0))
        return dict(img_path=osp.join(self.data_prefix['img'], img['file_name']),
                    img_id=img['id'], height=img['height'], width=img['width'],
                    instances=instances)
