"""Every config reads its data as its dataset base says: the base's pipelines and its ``backend_args``.

The dataset bases (configs/_base_/datasets/) define the train and test pipelines once; the configs
reuse them (``_base_.train_pipeline``), changing only a few steps. ``backend_args`` (object storage)
must reach every dataset, every LoadImageFromFile and every evaluator that reads files, through any
dataset wrapper.
"""
import shutil

import pytest
from mmengine.config import Config
from repo_paths import CONFIGS_DIR

DATASET_BASES = CONFIGS_DIR / '_base_' / 'datasets'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
MEAN = [123.675, 116.28, 103.53]


def ssd_train_pipeline(backend_args=None, size=300, mean=MEAN):
    return [
        dict(type='LoadImageFromFile', backend_args=backend_args),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Expand', mean=mean, to_rgb=True, ratio_range=(1, 4)),
        dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.3),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5),
             saturation_range=(0.5, 1.5), hue_delta=18),
        dict(type='PackDetInputs'),
    ]


def ssd_test_pipeline(backend_args=None, size=300):
    return [
        dict(type='LoadImageFromFile', backend_args=backend_args),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ]


DEMO_TRAIN = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=MEAN, to_rgb=True, ratio_range=(1, 2)),
    dict(type='Resize', scale=(192, 192), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5),
         saturation_range=(0.5, 1.5), hue_delta=18),
    dict(type='PackDetInputs'),
]
TORCHVISION_MEAN = [122.99925, 116.9991, 103.9992]

# config -> (its dataset base, its train pipeline, its test pipeline)
CONFIGS = {
    'ssd300_coco.py': ('coco_detection.py', ssd_train_pipeline(), ssd_test_pipeline()),
    'ssd300_voc0712.py': ('voc0712.py', ssd_train_pipeline(), ssd_test_pipeline()),
    'ssd300_coco_torchvision.py': ('coco_detection.py', ssd_train_pipeline(mean=TORCHVISION_MEAN),
                                   ssd_test_pipeline()),
    'ssd512_coco.py': ('coco_detection.py', ssd_train_pipeline(size=512), ssd_test_pipeline(size=512)),
    'ssdlite_mobilenetv2_coco.py': ('coco_detection.py', ssd_train_pipeline(size=320),
                                    ssd_test_pipeline(size=320)),
    'synthetic_demo.py': ('synthetic_coco.py', DEMO_TRAIN, ssd_test_pipeline(size=192)),
}
# What a user sets for object storage (mmdetection's example in its dataset bases).
PETREL = dict(backend='petrel', path_mapping={'./data/': 's3://openmmlab/datasets/detection/',
                                              'data/': 's3://openmmlab/datasets/detection/'})


def datasets_and_pipelines(dataset):
    """(datasets that read files, every pipeline) under ``dataset``, through ``dataset``/``datasets``
    wrappers (RepeatDataset, ClassBalancedDataset, ConcatDataset, MultiImageMixDataset...)."""
    pipelines = [dataset['pipeline']] if 'pipeline' in dataset else []
    children = [dataset['dataset']] if isinstance(dataset.get('dataset'), dict) else []
    children += dataset.get('datasets') or []
    if not children:
        return [dataset], pipelines
    leaves = []
    for child in children:
        child_leaves, child_pipelines = datasets_and_pipelines(child)
        leaves += child_leaves
        pipelines += child_pipelines
    return leaves, pipelines


def assert_backend_args_everywhere(cfg, expected):
    """Every dataset of the three dataloaders, each of their LoadImageFromFile steps and each
    evaluator that takes ``backend_args`` carries ``expected``."""
    for loader in LOADERS:
        leaves, pipelines = datasets_and_pipelines(cfg[loader]['dataset'])
        assert leaves and pipelines
        for dataset in leaves:
            assert dataset.get('backend_args', 'missing') == expected, f'{loader}: {dataset["type"]}'
        loads = [step for pipeline in pipelines for step in pipeline if step['type'] == 'LoadImageFromFile']
        assert loads, f'{loader} loads no image'
        for step in loads:
            assert step.get('backend_args', 'missing') == expected, f'{loader}: {step}'
    for name in EVALUATORS:
        evaluators = cfg[name] if isinstance(cfg[name], list) else [cfg[name]]
        for evaluator in evaluators:
            if evaluator['type'] == 'CocoMetric':  # reads ann_file itself
                assert evaluator.get('backend_args', 'missing') == expected, name


def test_every_config_is_listed_here():
    assert sorted(path.name for path in CONFIGS_DIR.glob('*.py')) == sorted(CONFIGS)


def test_the_walker_goes_through_every_wrapper():
    image = dict(type='CocoDataset', pipeline=[dict(type='LoadImageFromFile')])
    mixed = dict(type='MultiImageMixDataset', pipeline=[dict(type='Mosaic')],
                 dataset=dict(type='RepeatDataset', dataset=dict(
                     type='ConcatDataset', datasets=[image, dict(image, type='VOCDataset')])))
    leaves, pipelines = datasets_and_pipelines(mixed)
    assert [dataset['type'] for dataset in leaves] == ['CocoDataset', 'VOCDataset']
    assert [[step['type'] for step in pipeline] for pipeline in pipelines] == [
        ['Mosaic'], ['LoadImageFromFile'], ['LoadImageFromFile']]


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_backend_args_of_the_base_reach_every_dataset(name):
    base = Config.fromfile(str(DATASET_BASES / CONFIGS[name][0]))
    cfg = Config.fromfile(str(CONFIGS_DIR / name))
    assert 'backend_args' in base and cfg.backend_args == base.backend_args
    assert_backend_args_everywhere(cfg.to_dict(), base.backend_args)


@pytest.mark.parametrize('name', sorted({base for base, _, _ in CONFIGS.values()}))
def test_dataset_bases_define_the_ssd300_pipelines(name):
    base = Config.fromfile(str(DATASET_BASES / name)).to_dict()
    assert base['train_pipeline'] == ssd_train_pipeline()
    assert base['test_pipeline'] == ssd_test_pipeline()
    assert_backend_args_everywhere(base, None)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_pipelines_are_the_bases_with_the_stated_changes(name):
    _, train, test = CONFIGS[name]
    cfg = Config.fromfile(str(CONFIGS_DIR / name)).to_dict()
    assert cfg['train_pipeline'] == train and cfg['test_pipeline'] == test
    for loader, expected in zip(LOADERS, (train, test, test)):
        leaves, _ = datasets_and_pipelines(cfg[loader]['dataset'])
        assert [dataset['pipeline'] for dataset in leaves] == [expected] * len(leaves), loader


def configs_with_backend_args(tmp_path, backend_args):
    """A copy of configs/ whose dataset bases set ``backend_args``, as their header comment says."""
    configs = tmp_path / 'configs'
    shutil.copytree(CONFIGS_DIR, configs)
    for base in (configs / '_base_' / 'datasets').glob('*.py'):
        text = base.read_text()
        assert text.count('\nbackend_args = None\n') == 1, base.name
        base.write_text(text.replace('\nbackend_args = None\n', f'\nbackend_args = {backend_args!r}\n'))
    return configs


def test_object_storage_set_in_the_dataset_base_reaches_every_dataset_of_every_config(tmp_path):
    configs = configs_with_backend_args(tmp_path, PETREL)
    for name, (_, train, test) in CONFIGS.items():
        cfg = Config.fromfile(str(configs / name)).to_dict()
        assert_backend_args_everywhere(cfg, PETREL)
        # Nothing else changes.
        assert cfg['train_pipeline'] == [dict(train[0], backend_args=PETREL), *train[1:]], name
        assert cfg['test_pipeline'] == [dict(test[0], backend_args=PETREL), *test[1:]], name


def test_object_storage_set_in_an_inheriting_config_reaches_no_dataset(tmp_path):
    """What the dataset bases' header says: set backend_args there, not in a config built on them."""
    user_config = tmp_path / 'ssd300_coco_s3.py'
    base = f"_base_ = [{str(CONFIGS_DIR / 'ssd300_coco.py')!r}]\n"
    user_config.write_text(base + f'backend_args = {PETREL!r}\n')
    with pytest.raises(TypeError, match='backend_args.*_delete_=True'):
        Config.fromfile(str(user_config))
    user_config.write_text(base + f'backend_args = {dict(PETREL, _delete_=True)!r}\n')
    cfg = Config.fromfile(str(user_config)).to_dict()
    assert cfg['backend_args'] == PETREL
    assert_backend_args_everywhere(cfg, None)
