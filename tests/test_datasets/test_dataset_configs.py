"""The base dataset configs build their dataloaders on data laid out as each config expects."""
import json

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from repo_paths import CONFIGS_DIR

from ssd_npu.datasets import generate_synthetic_coco
from ssd_npu.datasets.coco import COCO_CLASSES

CONFIGS = CONFIGS_DIR / '_base_' / 'datasets'


def point_at(cfg_node, data_root):
    """Replace every ``data_root`` in a (nested) dataset config; loaders run in-process."""
    if isinstance(cfg_node, dict):
        if 'data_root' in cfg_node:
            cfg_node['data_root'] = data_root
        for value in cfg_node.values():
            point_at(value, data_root)
    elif isinstance(cfg_node, list):
        for value in cfg_node:
            point_at(value, data_root)


def first_batch(loader_cfg, data_root):
    loader_cfg = loader_cfg.copy()
    point_at(loader_cfg, data_root)
    loader_cfg.update(num_workers=0, persistent_workers=False, pin_memory=False)
    loader = Runner.build_dataloader(loader_cfg)
    return loader, next(iter(loader))


def make_coco_layout(root, write_jpeg):
    for split, count in (('train2017', 3), ('val2017', 2)):
        images = [dict(id=i + 1, file_name=f'{i}.jpg', width=64, height=48) for i in range(count)]
        for im in images:
            write_jpeg(root / split / im['file_name'])
        anns = [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[5, 5, 30, 30], iscrowd=0)
                for i in range(count)]
        cats = [dict(id=i + 1, name=name) for i, name in enumerate(COCO_CLASSES)]
        (root / 'annotations').mkdir(exist_ok=True)
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps(dict(images=images, annotations=anns, categories=cats)))


def test_coco_detection_config(tmp_path, write_jpeg):
    make_coco_layout(tmp_path, write_jpeg)
    cfg = Config.fromfile(str(CONFIGS / 'coco_detection.py'))
    train = cfg.train_dataloader
    assert (train.batch_size, train.persistent_workers) == (8, True)
    assert train.dataset.type == 'RepeatDataset' and train.dataset.times == 5
    assert [t['type'] for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Expand', 'MinIoURandomCrop', 'Resize',
        'RandomFlip', 'PhotoMetricDistortion', 'PackDetInputs']
    assert cfg.val_evaluator == dict(type='CocoMetric', metric='bbox', format_only=False,
                                     ann_file='data/coco/annotations/instances_val2017.json',
                                     backend_args=None)

    loader, batch = first_batch(train, str(tmp_path))
    assert len(loader.dataset) == 15
    assert [tuple(x.shape) for x in batch['inputs']] == [(3, 300, 300)] * 8
    loader, batch = first_batch(cfg.val_dataloader, str(tmp_path))
    assert len(loader.dataset) == 2
    sample = batch['data_samples'][0]
    assert sample.scale_factor == (300 / 64, 300 / 48) and sample.ori_shape == (48, 64)
    # Test-time ground truth stays in original-image pixels.
    assert sample.gt_instances.bboxes.tolist() == [[5, 5, 35, 35]]


def make_voc_layout(root, write_jpeg):
    obj = ('<object><name>dog</name><difficult>0</difficult><bndbox><xmin>5</xmin><ymin>5</ymin>'
           '<xmax>40</xmax><ymax>40</ymax></bndbox></object>')
    for year, lists in (('VOC2007', ('trainval', 'test')), ('VOC2012', ('trainval',))):
        (root / year / 'Annotations').mkdir(parents=True)
        (root / year / 'ImageSets' / 'Main').mkdir(parents=True)
        for list_name in lists:
            ids = [f'{list_name}_{i}' for i in range(2)]
            (root / year / 'ImageSets' / 'Main' / f'{list_name}.txt').write_text('\n'.join(ids))
            for img_id in ids:
                write_jpeg(root / year / 'JPEGImages' / f'{img_id}.jpg')
                (root / year / 'Annotations' / f'{img_id}.xml').write_text(
                    f'<annotation><size><width>64</width><height>48</height></size>{obj}</annotation>')


def test_voc0712_config_concatenates_both_years(tmp_path, write_jpeg):
    make_voc_layout(tmp_path, write_jpeg)
    cfg = Config.fromfile(str(CONFIGS / 'voc0712.py'))
    loader, batch = first_batch(cfg.train_dataloader, str(tmp_path))
    # 2 images from each year, repeated 10 times.
    assert len(loader.dataset) == 40 and len(batch['inputs']) == 8
    loader, batch = first_batch(cfg.val_dataloader, str(tmp_path))
    assert len(loader.dataset) == 2 and loader.dataset.metainfo['dataset_type'] == 'VOC2007'
    assert batch['data_samples'][0].gt_instances.labels.tolist() == [11]


@pytest.mark.parametrize('input_size', [300, 512])
def test_synthetic_config_and_its_input_size(tmp_path, input_size):
    generate_synthetic_coco(str(tmp_path), num_train=8, num_val=2, width=96, height=80,
                            min_object=12, max_object=40)
    text = (CONFIGS / 'synthetic_coco.py').read_text().replace(
        'input_size = 300', f'input_size = {input_size}')
    cfg = Config.fromstring(text, '.py')
    loader, batch = first_batch(cfg.train_dataloader, str(tmp_path))
    assert loader.dataset.metainfo['classes'] == ('circle', 'square', 'triangle')
    assert tuple(batch['inputs'][0].shape) == (3, input_size, input_size)
    assert cfg.val_evaluator.ann_file == 'data/synthetic/annotations/instances_val.json'
    loader, batch = first_batch(cfg.val_dataloader, str(tmp_path))
    assert len(loader.dataset) == 2
