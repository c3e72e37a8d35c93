"""Write COCO-2017-sized annotation files whose images are links to a few JPEGs.

For start-up and evaluation benchmarks at the scale of real datasets without downloading one:
``annotations/instances_{train,val}2017.json`` with COCO's 80 categories (its ids, gaps
included), about 7 boxes per image with a 16-point polygon each (so the file is as large per box
as COCO's), 1% crowd boxes, and ``train2017/`` / ``val2017/`` folders of symbolic links to
``--jpegs`` random 640x480 JPEGs.

    python tools/misc/make_coco_sized_annotations.py --out /tmp/coco_sized
    python tools/misc/make_coco_sized_annotations.py --out /tmp/o365_sized --train-images 1742292

Defaults: COCO 2017's 118,287 train and 5,000 val images, 828,089 and 36,781 boxes.
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np

from ssd_npu.datasets.coco import COCO_CLASSES

# COCO's category ids: 1 to 90 without the 10 it never annotated.
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='output folder (the data root)')
    parser.add_argument('--train-images', type=int, default=118287)
    parser.add_argument('--train-boxes', type=int, default=828089)
    parser.add_argument('--val-images', type=int, default=5000)
    parser.add_argument('--val-boxes', type=int, default=36781)
    parser.add_argument('--jpegs', type=int, default=8, help='distinct image files linked to')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def write_split(out: str, split: str, num_images: int, num_boxes: int, jpegs: list,
                rng: np.random.Generator) -> str:
    """Write ``annotations/instances_<split>.json`` and ``<split>/`` links; returns the file."""
    image_dir = osp.join(out, split)
    os.makedirs(image_dir, exist_ok=True)
    width, height = 640, 480
    images = []
    for index in range(num_images):
        image_id = index + 1
        file_name = f'{image_id:012d}.jpg'
        link = osp.join(image_dir, file_name)
        if not osp.lexists(link):
            os.symlink(jpegs[index % len(jpegs)], link)
        images.append(dict(id=image_id, file_name=file_name, width=width, height=height,
                           license=1, date_captured='2013-11-14 16:28:13'))
    owners = rng.integers(1, num_images + 1, num_boxes)
    categories = rng.choice(COCO_CATEGORY_IDS, num_boxes)
    sides = np.exp(rng.uniform(np.log(8), np.log(400), (num_boxes, 2)))
    corners = rng.uniform(0, 1, (num_boxes, 2)) * (np.array([width, height]) - sides).clip(1)
    crowd = rng.uniform(size=num_boxes) < 0.01
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    annotations = []
    for ann_id in range(num_boxes):
        (x, y), (w, h) = corners[ann_id], sides[ann_id]
        polygon = np.stack([x + w / 2 * (1 + np.cos(angles)), y + h / 2 * (1 + np.sin(angles))], 1)
        annotations.append(dict(
            id=ann_id + 1, image_id=int(owners[ann_id]), category_id=int(categories[ann_id]),
            bbox=[round(float(v), 2) for v in (x, y, w, h)], area=round(float(w * h), 2),
            iscrowd=int(crowd[ann_id]),
            segmentation=[[round(float(v), 2) for v in polygon.ravel()]]))
    ann_file = osp.join(out, 'annotations', f'instances_{split}.json')
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(dict(info=dict(description=f'COCO-sized {split}'), licenses=[dict(id=1)],
                       images=images, annotations=annotations,
                       categories=[dict(id=i, name=n, supercategory='thing')
                                   for i, n in zip(COCO_CATEGORY_IDS, COCO_CLASSES)]), f)
    return ann_file


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    jpeg_dir = osp.join(osp.abspath(args.out), 'jpegs')
    os.makedirs(jpeg_dir, exist_ok=True)
    jpegs = []
    for index in range(args.jpegs):
        path = osp.join(jpeg_dir, f'{index}.jpg')
        cv2.imwrite(path, rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
        jpegs.append(path)
    for split, images, boxes in (('train2017', args.train_images, args.train_boxes),
                                 ('val2017', args.val_images, args.val_boxes)):
        ann_file = write_split(args.out, split, images, boxes, jpegs, rng)
        print(f'{ann_file}: {images} images, {boxes} boxes, '
              f'{osp.getsize(ann_file) / 2**20:.0f} MiB')


if __name__ == '__main__':
    main()
