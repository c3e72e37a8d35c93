"""Broken images at load time: one warning per file, the sample replaced and counted, the count
surviving dataloader workers and reported by BadSampleReportHook."""
import multiprocessing
import types

import cv2
import numpy as np
import pytest
from mmengine.dataset import RepeatDataset, pseudo_collate
from torch.utils.data import DataLoader

from ssd_npu.datasets import CocoDataset
from ssd_npu.datasets.transforms import LoadImageFromFile
from ssd_npu.datasets.transforms.loading import jpeg_is_truncated
from ssd_npu.engine.hooks.bad_sample_report_hook import BadSampleReportHook


def jpeg_bytes(seed=0):
    img = np.random.default_rng(seed).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    return cv2.imencode('.jpg', img)[1].tobytes()


def break_file(path, how):
    """Make ``path`` a missing, empty, truncated or corrupt image."""
    if how == 'missing':
        path.unlink()
    elif how == 'empty':
        path.write_bytes(b'')
    elif how == 'truncated':
        path.write_bytes(jpeg_bytes()[:-300])
    else:
        path.write_bytes(b'this is not an image at all' * 10)


REASONS = dict(missing='file not found', empty='empty file (0 bytes)',
               truncated='truncated JPEG (no end-of-image marker)', corrupt='not a decodable image')


@pytest.mark.parametrize('how', REASONS)
def test_unreadable_image_gives_none_and_one_warning(tmp_path, log_messages, how):
    path = tmp_path / 'img.jpg'
    path.write_bytes(jpeg_bytes())
    break_file(path, how)
    load = LoadImageFromFile()
    assert load(dict(img_path=str(path))) is None
    assert load(dict(img_path=str(path))) is None
    warnings = [m for m in log_messages if str(path) in m]
    assert warnings == [f'{path}: {REASONS[how]}; sample skipped']


def test_good_image_loads_as_uint8_bgr(tmp_path):
    path = tmp_path / 'img.jpg'
    path.write_bytes(jpeg_bytes())
    results = LoadImageFromFile()(dict(img_path=str(path)))
    assert results['img'].dtype == np.uint8 and results['img'].shape == (40, 50, 3)
    assert results['img_shape'] == results['ori_shape'] == (40, 50)


def test_truncation_check_ignores_thumbnails_and_trailing_bytes():
    data = jpeg_bytes()
    assert not jpeg_is_truncated(data)
    assert not jpeg_is_truncated(data + b'\x00trailer')
    assert jpeg_is_truncated(data[:len(data) // 2])
    assert jpeg_is_truncated(data[:20])
    # An APP1 segment holding a complete JPEG (an EXIF thumbnail) ends with its own EOI marker;
    # cutting the main image must still be detected.
    thumb = jpeg_bytes(1)
    app1 = b'\xff\xe1' + (len(thumb) + 2).to_bytes(2, 'big') + thumb
    with_thumb = data[:2] + app1 + data[2:]
    assert not jpeg_is_truncated(with_thumb)
    assert jpeg_is_truncated(with_thumb[:-200])


def coco_with_broken_images(make_coco, tmp_path, broken, total=6):
    images = [(i + 1, f'{i}.jpg', 64, 48) for i in range(total)]
    anns = [dict(image_id=i + 1, category_id=1, bbox=[1, 1, 20, 20]) for i in range(total)]
    root = make_coco(images, anns)
    for index, how in broken.items():
        break_file(tmp_path / 'img' / f'{index}.jpg', how)
    return root


def build(root, **kwargs):
    return CocoDataset(ann_file='ann.json', data_root=root, data_prefix=dict(img='img/'),
                       metainfo=dict(classes=('a', 'b', 'c')),
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')],
                       **kwargs)


def test_training_replaces_a_broken_sample_and_counts_it(make_coco, tmp_path, log_messages):
    root = coco_with_broken_images(make_coco, tmp_path, {0: 'truncated'})
    ds = build(root)
    ds._rand_another = lambda: 3  # mmengine draws the replacement at random
    sample = ds[0]
    assert sample['img_path'] == f'{root}/img/3.jpg' and sample['img'].shape == (48, 64, 3)
    ds[0]
    assert ds.skipped_samples.value == 2
    assert sum('0.jpg: truncated JPEG' in m for m in log_messages) == 1


def test_test_mode_stops_with_the_file_name(make_coco, tmp_path):
    root = coco_with_broken_images(make_coco, tmp_path, {2: 'empty'})
    ds = build(root, test_mode=True)
    with pytest.raises(RuntimeError, match=f'{root}/img/2.jpg: the test pipeline could not'):
        ds[2]


@pytest.mark.parametrize('start_method', ['fork', pytest.param('spawn', marks=pytest.mark.slow)])
def test_skip_count_survives_worker_processes(make_coco, tmp_path, start_method):
    root = coco_with_broken_images(make_coco, tmp_path, {1: 'missing', 4: 'corrupt'})
    ds = build(root)
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=pseudo_collate,
                        multiprocessing_context=multiprocessing.get_context(start_method))
    paths = [p for batch in loader for p in batch['img_path']]
    assert len(paths) == 6 and not {f'{root}/img/1.jpg', f'{root}/img/4.jpg'} & set(paths)
    # Each broken index was drawn once; a refetch may draw a broken one again.
    assert ds.skipped_samples.value >= 2


def test_hook_reports_new_skips_once_per_epoch(make_coco, tmp_path):
    ds = build(coco_with_broken_images(make_coco, tmp_path, {}))
    messages = []
    logger = types.SimpleNamespace(log=lambda level, msg: messages.append(msg))
    runner = types.SimpleNamespace(epoch=0, logger=logger,
                                   train_dataloader=types.SimpleNamespace(dataset=RepeatDataset(ds, 2)))
    hook = BadSampleReportHook()
    ds.skipped_samples.increment()
    ds.skipped_samples.increment()
    hook.after_train_epoch(runner)
    runner.epoch = 1
    hook.after_train_epoch(runner)
    ds.skipped_samples.increment()
    runner.epoch = 2
    hook.after_train_epoch(runner)
    assert len(messages) == 2
    assert messages[0].startswith('Epoch 1: 2 training samples were skipped')
    assert messages[1].startswith('Epoch 3: 1 training samples were skipped')
    assert '(3 since the start' in messages[1]


def test_hook_reports_parse_problems_before_training(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48)], [dict(image_id=1, category_id=1, bbox=[1, 1, 0, 5])])
    ds = build(root)
    warnings = []
    logger = types.SimpleNamespace(warning=warnings.append)
    runner = types.SimpleNamespace(logger=logger,
                                   train_dataloader=types.SimpleNamespace(dataset=ds))
    BadSampleReportHook().before_train(runner)
    assert warnings == [f'{root}/ann.json: lost or repaired while parsing: '
                        '1 x non-positive width or height']
