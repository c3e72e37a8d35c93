"""Fuzzed data through the real dataset, SSD's train pipeline and training steps of the demo model.

A seeded generator writes one image per case, corrupted in one of many ways (flipped bytes,
truncation, wrong extension, unusual colour modes, EXIF orientations, extreme sizes, odd file
names), with one good box and often one broken box. Result: no exception, finite losses, every
unusable image reported once by name with a reason, every usable one trained on, every broken
box reported. ``FUZZ_CASES`` sets the number of cases (200 here and in CI; the README quotes
``FUZZ_CASES=1000``).
"""
import io
import json
import math
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from PIL import Image
from repo_paths import CONFIGS_DIR

from ssd_npu.datasets import CocoDataset
from ssd_npu.registry import MODELS

CASES = int(os.environ.get('FUZZ_CASES', '200'))
DEMO = CONFIGS_DIR / 'synthetic_demo.py'
CLASSES = ('circle', 'square', 'triangle')
# Decodable images that must be trained on.
GOOD_KINDS = ('jpeg', 'png', 'gray_png', 'cmyk_jpeg', 'png16', 'alpha_png', 'palette_png', 'exif_jpeg',
              'one_pixel', 'very_wide', 'png_named_jpg')
BROKEN_KINDS = ('flipped_bytes', 'truncated')
# What a broken box is, and the reason the loader must give for it (None: harmless).
BOX_KINDS = {'none': None, 'nan': 'non-finite coordinates', 'inf': 'non-finite coordinates',
             'negative_size': 'non-positive width or height', 'reversed': 'non-positive width or height',
             'outside': 'outside the image', 'huge': 'partly outside the image',
             'unknown_label': 'category not in the categories list', 'no_bbox_key': 'bbox is not 4 numbers',
             'extra_keys': None}
NAMES = ('plain', 'with space', 'non-utf8')


def _pixels(rng, height, width, channels=3):
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def _pil_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def make_image(rng, kind: str):
    """``(file bytes, extension, width, height)`` of one fuzz case."""
    height, width = (int(v) for v in rng.integers(24, 80, 2))
    rgb = Image.fromarray(_pixels(rng, height, width))
    if kind == 'one_pixel':
        return _pil_bytes(Image.fromarray(_pixels(rng, 1, 1)), 'PNG'), '.png', 1, 1
    if kind == 'very_wide':
        return cv2.imencode('.jpg', _pixels(rng, 10, 10000))[1].tobytes(), '.jpg', 10000, 10
    if kind in ('jpeg', 'flipped_bytes', 'truncated') and rng.random() < 0.5 or kind == 'png':
        data, ext = _pil_bytes(rgb, 'PNG'), '.png'
    elif kind in ('jpeg', 'flipped_bytes', 'truncated'):
        data, ext = _pil_bytes(rgb, 'JPEG'), '.jpg'
    elif kind == 'gray_png':
        data, ext = _pil_bytes(rgb.convert('L'), 'PNG'), '.png'
    elif kind == 'cmyk_jpeg':
        data, ext = _pil_bytes(rgb.convert('CMYK'), 'JPEG'), '.jpg'
    elif kind == 'png16':
        deep = _pixels(rng, height, width).astype(np.uint16) * 257
        data, ext = cv2.imencode('.png', deep)[1].tobytes(), '.png'
    elif kind == 'alpha_png':
        data, ext = _pil_bytes(Image.fromarray(_pixels(rng, height, width, 4), 'RGBA'), 'PNG'), '.png'
    elif kind == 'palette_png':
        data, ext = _pil_bytes(rgb.convert('P', palette=Image.Palette.ADAPTIVE), 'PNG'), '.png'
    elif kind == 'exif_jpeg':
        exif = Image.Exif()
        exif[0x0112] = int(rng.integers(1, 9))  # orientation 1-8
        data, ext = _pil_bytes(rgb, 'JPEG', exif=exif), '.jpg'
    elif kind == 'png_named_jpg':
        data, ext = _pil_bytes(rgb, 'PNG'), '.jpg'
    if kind == 'flipped_bytes':
        data = bytearray(data)
        for offset in rng.integers(0, len(data), int(rng.integers(1, 20))):
            data[offset] ^= int(rng.integers(1, 256))
        data = bytes(data)
    elif kind == 'truncated':
        # Anywhere: inside the signature, the headers, the pixel data, or just before the end.
        cut = int(rng.choice([rng.integers(0, 8), rng.integers(8, 200), rng.integers(0, len(data)),
                              len(data) - int(rng.integers(1, 4))]))
        data = data[:cut]
    return data, ext, width, height


def make_box(rng, kind: str, width: int, height: int) -> dict:
    """One annotation (without ids) of the given kind on a ``width`` x ``height`` image."""
    w, h = max(1, width // 2), max(1, height // 2)
    ann = dict(category_id=int(rng.integers(1, 4)), bbox=[0, 0, w, h], iscrowd=0, area=w * h)
    if kind == 'nan':
        ann['bbox'][int(rng.integers(4))] = math.nan
    elif kind == 'inf':
        ann['bbox'][int(rng.integers(4))] = math.inf * rng.choice([-1, 1])
    elif kind == 'negative_size':
        ann['bbox'][2] = -w
    elif kind == 'reversed':
        ann['bbox'] = [w, h, -w, -h]
    elif kind == 'outside':
        ann['bbox'] = [width + 5, height + 5, w, h]
    elif kind == 'huge':
        ann['bbox'] = [0, 0, 1e30, 1e30]
    elif kind == 'unknown_label':
        ann['category_id'] = 999
    elif kind == 'no_bbox_key':
        del ann['bbox']
    elif kind == 'extra_keys':
        ann.update(segmentation=[[0, 0, 1, 1]], score='high', attributes={'x': None})
    return ann


def write_cases(root: Path, seed: int, count: int) -> dict:
    """Write ``count`` cases under ``root``; return what each is, keyed by image path."""
    rng = np.random.default_rng(seed)
    (root / 'img').mkdir(parents=True)
    images, annotations, cases = [], [], {}
    for index in range(count):
        kind = str(rng.choice(GOOD_KINDS + BROKEN_KINDS))
        box_kind = str(rng.choice(list(BOX_KINDS)))
        name = str(rng.choice(NAMES))
        data, ext, width, height = make_image(rng, kind)
        stem = {'plain': f'img{index}', 'with space': f'img {index} copy',
                'non-utf8': os.fsdecode(f'img{index}_'.encode() + b'\xff\xfe')}[name]
        path = root / 'img' / (stem + ext)
        path.write_bytes(data)
        images.append(dict(id=index, file_name=stem + ext, width=width, height=height))
        annotations.append(make_box(rng, 'none', width, height))
        annotations[-1]['image_id'] = index
        if box_kind != 'none':
            annotations.append(dict(make_box(rng, box_kind, width, height), image_id=index))
        cases[str(path)] = (kind, box_kind)
    for ann_id, ann in enumerate(annotations):
        ann['id'] = ann_id
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    (root / 'ann.json').write_text(json.dumps(dict(images=images, annotations=annotations,
                                                   categories=categories)))
    return cases


def test_fuzzed_samples_train_or_are_reported_once(tmp_path, log_messages):
    cases = write_cases(tmp_path, seed=2024, count=CASES)
    cfg = Config.fromfile(str(DEMO))
    dataset = CocoDataset(ann_file=str(tmp_path / 'ann.json'), data_prefix=dict(img=str(tmp_path / 'img')),
                          metainfo=dict(classes=CLASSES), pipeline=cfg.train_pipeline,
                          filter_cfg=dict(filter_empty_gt=True))
    assert len(dataset) == CASES, 'every image keeps its good box'
    expected_problems = Counter(BOX_KINDS[kind] for _, kind in cases.values() if BOX_KINDS[kind])
    assert dataset.parse_problems == dict(expected_problems)

    dataset.sample_seed.set(seed=0, epoch=0)
    used, skipped = [], []
    for index in range(len(dataset)):
        data = dataset.prepare_data(index)
        (skipped if data is None else used).append((index, data))
    skipped_paths = [dataset.get_data_info(index)['img_path'] for index, _ in skipped]
    for path in skipped_paths:
        reports = [m for m in log_messages if m.startswith(f'{path}: ') and m.endswith('; sample skipped')]
        assert len(reports) == 1, (path, reports)
        assert cases[path][0] in BROKEN_KINDS, f'{path} ({cases[path][0]}) is a usable image'
    assert len(used) + len(skipped) == CASES
    assert dataset.skipped_samples.value == len(skipped)
    used_kinds = Counter(cases[dataset.get_data_info(index)['img_path']][0] for index, _ in used)
    assert all(used_kinds[kind] for kind in GOOD_KINDS), used_kinds

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    trained = 0
    for start in range(0, len(used), 8):
        batch = [data for _, data in used[start:start + 8]]
        if len(batch) < 2:  # drop_last in training: BatchNorm needs more than one image
            break
        log_vars = model.train_step(pseudo_collate(batch), optim_wrapper)
        assert all(math.isfinite(float(v.detach())) for v in log_vars.values()), log_vars
        trained += len(batch)
    assert trained >= len(used) - 1
    print(f'{CASES} fuzz cases: {len(used)} trained on, {len(skipped)} reported and skipped '
          f'({dict(Counter(cases[p][0] for p in skipped_paths))}), '
          f'{sum(expected_problems.values())} broken boxes reported')


@pytest.mark.parametrize('how', ['truncated_tail', 'duplicate_image_id'])
def test_broken_annotation_file_is_a_start_up_error_naming_it(tmp_path, how):
    write_cases(tmp_path, seed=1, count=4)
    ann_file = tmp_path / 'ann.json'
    if how == 'truncated_tail':
        ann_file.write_bytes(ann_file.read_bytes()[:-37])
    else:
        coco = json.loads(ann_file.read_text())
        coco['images'][1]['id'] = coco['images'][0]['id']
        ann_file.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=str(ann_file)):
        CocoDataset(ann_file=str(ann_file), data_prefix=dict(img=str(tmp_path / 'img')),
                    metainfo=dict(classes=CLASSES), pipeline=[])
