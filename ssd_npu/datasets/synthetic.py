"""A synthetic COCO-format detection dataset: circles, squares and triangles on textured
backgrounds, with exact boxes; deterministic given the seed.

It exists so that training, evaluation and the data pipeline can be exercised end to end
without downloading anything: a small SSD learns it in minutes on a CPU.

Layout written under ``out_dir``::

    annotations/instances_train.json   annotations/instances_val.json
    train/000000.jpg ...               val/000000.jpg ...
"""
import json
import logging
import os
import os.path as osp
import shutil
import tempfile
from typing import List, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

CLASSES = ('circle', 'square', 'triangle')
SPLITS = ('train', 'val')
JPEG_QUALITY = 90

# How much a new object may overlap earlier ones: IoU at most 0.3 and at most half of an
# earlier object covered, so every object stays recognisable.
_MAX_IOU = 0.3
_MAX_COVERED = 0.5
_PLACEMENT_TRIES = 50
# Smallest RGB distance between an object's colour and the background under it.
_MIN_CONTRAST = 90.0


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A uint8 BGR texture: a gradient, stripes or blotchy noise, with mild pixel noise."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:  # linear gradient at a random angle
        angle = rng.uniform(0, np.pi)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    elif kind == 1:  # sinusoidal stripes
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 48)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
    else:  # low-frequency blotches
        coarse = rng.uniform(0, 1, (max(h // 32, 2), max(w // 32, 2))).astype(np.float32)
        t = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    img = c0 + (c1 - c0) * t[..., None]
    img += rng.normal(0, rng.uniform(2, 12), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shape_mask(category: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A tight uint8 mask (1 inside) of one shape whose larger side is about ``size`` px."""
    if category == 'circle':
        r = size // 2
        mask = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
        cv2.circle(mask, (r, r), r, 1, thickness=-1, lineType=cv2.LINE_8)
        return mask
    if category == 'square':
        return np.ones((size, size), np.uint8)
    # A triangle inscribed in a circle of diameter `size`, randomly rotated and stretched.
    angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3 + rng.uniform(-0.3, 0.3, 3)
    pts = np.stack([np.cos(angles), np.sin(angles)], axis=1) * (size / 2)
    pts = np.round(pts - pts.min(axis=0)).astype(np.int32)
    mask = np.zeros((pts[:, 1].max() + 1, pts[:, 0].max() + 1), np.uint8)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8)
    return mask


def _overlap_ok(box: np.ndarray, boxes: List[np.ndarray]) -> bool:
    for other in boxes:
        iw = min(box[2], other[2]) - max(box[0], other[0])
        ih = min(box[3], other[3]) - max(box[1], other[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        area, other_area = np.prod(box[2:] - box[:2]), np.prod(other[2:] - other[:2])
        if inter / (area + other_area - inter) > _MAX_IOU or inter / other_area > _MAX_COVERED:
            return False
    return True


def _object_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A colour far enough from the mean background colour ``under`` it."""
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.linalg.norm(colour - under) >= _MIN_CONTRAST:
            break
        colour = rng.uniform(0, 255, 3)
    else:
        colour = 255.0 - under  # the complement is always far enough
    return colour


def render_image(rng: np.random.Generator, width: int, height: int, min_object: int,
                 max_object: int, max_objects: int) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image and its objects.

    Returns:
        ``(img, objects)``: img is uint8 [height, width, 3] BGR; each object is
        ``dict(category=name, bbox=[x1, y1, x2, y2], area=int)``, the box being the exact
        extent of the shape's pixels (xyxy, pixels, x2/y2 exclusive) and area its pixel count.
    """
    img = _background(rng, height, width)
    objects, boxes = [], []
    for _ in range(rng.integers(1, max_objects + 1)):
        category = CLASSES[rng.integers(len(CLASSES))]
        size = int(rng.integers(min_object, min(max_object, width - 1, height - 1) + 1))
        mask = _shape_mask(category, size, rng)
        mh, mw = mask.shape
        for _ in range(_PLACEMENT_TRIES):
            x, y = int(rng.integers(0, width - mw + 1)), int(rng.integers(0, height - mh + 1))
            box = np.array([x, y, x + mw, y + mh], dtype=np.int64)
            if _overlap_ok(box, boxes):
                break
        else:
            continue
        region = img[y:y + mh, x:x + mw]
        colour = _object_colour(rng, region.reshape(-1, 3).mean(axis=0))
        region[mask.astype(bool)] = np.clip(colour + rng.normal(0, 4, (int(mask.sum()), 3)),
                                             0, 255).astype(np.uint8)
        boxes.append(box)
        objects.append(dict(category=category, bbox=[int(v) for v in box], area=int(mask.sum())))
    return img, objects


def generate_synthetic_coco(out_dir: str, num_train: int = 500, num_val: int = 100, seed: int = 0,
                            width: int = 256, height: int = 256, size_jitter: float = 0.1,
                            min_object: int = 24, max_object: int = 120,
                            max_objects: int = 5) -> None:
    """Write the dataset into ``out_dir`` (created; existing files are overwritten).

    Args:
        out_dir: output folder.
        num_train, num_val: images per split.
        seed: the images of each split are a function of ``(seed, split)`` only.
        width, height: nominal image size in pixels; each image's sides vary by up to
            ``size_jitter`` (a fraction) around it (0 gives every image exactly that size).
        min_object, max_object: range of an object's larger side, in pixels.
        max_objects: 1 to this many objects per image.
    """
    if not 0 < min_object <= max_object:
        raise ValueError(f'need 0 < min_object <= max_object, got {min_object}, {max_object}')
    params = dict(num_train=num_train, num_val=num_val, seed=seed, width=width, height=height,
                  size_jitter=size_jitter, min_object=min_object, max_object=max_object,
                  max_objects=max_objects)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split_index, (split, count) in enumerate(zip(SPLITS, (num_train, num_val))):
        rng = np.random.default_rng([seed, split_index])
        os.makedirs(osp.join(out_dir, split), exist_ok=True)
        images, annotations = [], []
        for index in range(count):
            w = int(round(width * rng.uniform(1 - size_jitter, 1 + size_jitter)))
            h = int(round(height * rng.uniform(1 - size_jitter, 1 + size_jitter)))
            if min(w, h) <= min_object:
                raise ValueError(f'images of {w}x{h} px cannot hold objects of {min_object} px')
            img, objects = render_image(rng, w, h, min_object, max_object, max_objects)
            file_name = f'{index:06d}.jpg'
            if not cv2.imwrite(osp.join(out_dir, split, file_name), img,
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise OSError(f'could not write {osp.join(out_dir, split, file_name)}')
            images.append(dict(id=index + 1, file_name=file_name, width=w, height=h))
            for obj in objects:
                x1, y1, x2, y2 = obj['bbox']
                annotations.append(dict(id=len(annotations) + 1, image_id=index + 1,
                                        category_id=CLASSES.index(obj['category']) + 1,
                                        bbox=[x1, y1, x2 - x1, y2 - y1], area=obj['area'],
                                        iscrowd=0))
        coco = dict(info=dict(description='ssd_npu synthetic shapes', **params),
                    images=images, annotations=annotations,
                    categories=[dict(id=i + 1, name=name, supercategory='shape')
                                for i, name in enumerate(CLASSES)])
        with open(osp.join(out_dir, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)


def _recorded_params(out_dir: str) -> dict:
    """The generator arguments stored in the train annotation file's ``info``."""
    path = osp.join(out_dir, 'annotations', 'instances_train.json')
    with open(path) as f:
        info = json.load(f).get('info', {})
    info.pop('description', None)
    return info


def ensure_synthetic_coco(out_dir: str, **kwargs) -> str:
    """Generate the dataset into ``out_dir`` unless it is already there; return ``out_dir``.

    Generation writes into a temporary sibling folder renamed to ``out_dir`` when complete,
    so an interrupted run never leaves a partial dataset under ``out_dir``; concurrent calls
    are safe (the first rename wins, the others discard their copy).

    Args:
        out_dir: the dataset folder.
        **kwargs: the arguments of :func:`generate_synthetic_coco`.

    Raises:
        RuntimeError: ``out_dir`` exists but lacks the annotation files (not made here).
    """
    out_dir = osp.abspath(out_dir)
    if osp.isdir(out_dir):
        _check_complete(out_dir)
        recorded = _recorded_params(out_dir)
        differing = {k: v for k, v in kwargs.items() if k in recorded and recorded[k] != v}
        if differing:
            print_log(f'{out_dir} already holds a synthetic dataset made with {recorded}; keeping '
                      f'it although {differing} was asked for (delete the folder to regenerate)',
                      logger='current', level=logging.WARNING)
        return out_dir
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    tmp_dir = tempfile.mkdtemp(prefix=f'.{osp.basename(out_dir)}.tmp-', dir=parent)
    try:
        os.chmod(tmp_dir, 0o777 & ~umask)  # mkdtemp's 0o700 would hide the dataset from others
        generate_synthetic_coco(tmp_dir, **kwargs)
        os.rename(tmp_dir, out_dir)
    except OSError:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if not osp.isdir(out_dir):  # not a lost race with a concurrent call: a real error
            raise
        _check_complete(out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out_dir


def _check_complete(out_dir: str) -> None:
    missing = [rel for split in SPLITS
               for rel in (osp.join('annotations', f'instances_{split}.json'), split)
               if not osp.exists(osp.join(out_dir, rel))]
    if missing:
        raise RuntimeError(f'{out_dir} exists but is not a complete synthetic dataset (missing '
                           f'{missing}); delete it or choose another folder')
