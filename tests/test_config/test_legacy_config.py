import pytest
from legacy_ssd_config import write_legacy_config
from mmengine.config import Config

from ssd_npu.config import load_config
from ssd_npu.config.legacy_config import is_legacy_config, upgrade_config, upgrade_pipeline


@pytest.fixture
def legacy(tmp_path):
    return write_legacy_config(tmp_path, tmp_path / 'data')


def test_a_2x_config_is_recognised_and_a_3x_one_is_not(legacy):
    assert is_legacy_config(Config.fromfile(str(legacy)))
    assert not is_legacy_config(upgrade_config(Config.fromfile(str(legacy))))


def test_data_becomes_dataloaders_evaluators_and_a_data_preprocessor(legacy, tmp_path):
    cfg = upgrade_config(Config.fromfile(str(legacy)))
    root = f'{tmp_path / "data"}/'
    train = cfg.train_dataloader
    assert (train.batch_size, train.num_workers, train.sampler.shuffle) == (4, 0, True)
    leaf = train.dataset.dataset  # inside RepeatDataset
    assert (leaf.data_root, leaf.ann_file, leaf.data_prefix) == (root, 'annotations/instances_train.json',
                                                                 dict(img='train/'))
    assert leaf.metainfo == dict(classes=('circle', 'square', 'triangle'))
    assert cfg.test_dataloader.dataset.test_mode and cfg.test_dataloader.batch_size == 1
    assert cfg.val_evaluator == dict(type='CocoMetric', ann_file=root + 'annotations/instances_val.json',
                                     metric='bbox', format_only=False)
    assert cfg.model.data_preprocessor == dict(type='DetDataPreprocessor', pad_size_divisor=1,
                                               mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                                               bgr_to_rgb=True)


def test_pipelines_end_in_pack_det_inputs():
    old_train = [dict(type='LoadImageFromFile'), dict(type='Resize', img_scale=(300, 300)),
                 dict(type='RandomFlip', flip_ratio=0.3), dict(type='Normalize', mean=[0], std=[1]),
                 dict(type='DefaultFormatBundle'), dict(type='Collect', keys=['img'])]
    train = upgrade_pipeline(old_train, test=False)
    assert train == [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(300, 300)),
                     dict(type='RandomFlip', prob=0.3), dict(type='PackDetInputs')]
    inner = [dict(type='Resize', keep_ratio=False), dict(type='ImageToTensor')]
    old_test = [dict(type='LoadImageFromFile'),
                dict(type='MultiScaleFlipAug', img_scale=(300, 300), flip=False, transforms=inner)]
    test = upgrade_pipeline(old_test, test=True)
    assert [step['type'] for step in test] == ['LoadImageFromFile', 'Resize', 'LoadAnnotations',
                                               'PackDetInputs']
    assert test[1] == dict(type='Resize', keep_ratio=False, scale=(300, 300))


def test_schedule_and_runtime_entries_become_3x_ones(legacy):
    cfg = upgrade_config(Config.fromfile(str(legacy)))
    assert cfg.optim_wrapper == dict(type='OptimWrapper',
                                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
    assert cfg.param_scheduler == [
        dict(type='LinearLR', by_epoch=False, begin=0, end=4, start_factor=0.1),
        dict(type='MultiStepLR', by_epoch=True, begin=0, end=2, milestones=[1], gamma=0.1)]
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)
    assert cfg.default_hooks.checkpoint.interval == 1 and cfg.default_hooks.logger.interval == 1
    hook_types = [hook['type'] for hook in cfg.custom_hooks]
    assert 'NonFiniteLossHook' in hook_types and 'CheckInvalidLossHook' in hook_types
    assert cfg.default_scope == 'ssd_npu' and cfg.resume is False


def test_fp16_and_cosine_schedule(legacy):
    old = Config.fromfile(str(legacy))
    old.merge_from_dict({'fp16': dict(loss_scale=512.0),
                         'lr_config': dict(policy='CosineAnnealing', min_lr=0)})
    cfg = upgrade_config(old)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 512.0
    assert cfg.param_scheduler[1] == dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2, T_max=2,
                                          eta_min=0)  # after the config's warmup, kept by the merge


def test_cfg_options_use_the_2x_names_before_the_conversion(legacy):
    cfg = load_config(str(legacy), {'runner.max_epochs': 1, 'data.samples_per_gpu': 2})
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_dataloader.batch_size == 2
