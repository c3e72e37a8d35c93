# COCO 2017 detection with SSD300's data pipeline (mmdetection's ssd300_coco settings).
#
# The train and test pipelines are defined here once. A config built on this file reuses them as
# `_base_.train_pipeline` and `_base_.test_pipeline`, changing only the steps it must
# (ssd512_coco.py: Resize), so that every dataset and LoadImageFromFile keeps backend_args.
#
# Object storage: set `backend_args` below, in this file or in a copy of it that your config's
# `_base_` lists instead, e.g.
#   backend_args = dict(backend='petrel', path_mapping={'data/': 's3://openmmlab/datasets/detection/'})
# Every pipeline, dataset and evaluator below reads it, and so does every config built on this file.
# Not in a config that inherits this file: mmengine reads a base before the config that inherits
# it, so a `backend_args = dict(...)` there reaches none of them (and is an error unless it sets
# `_delete_=True`: a dict cannot inherit from this None).
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
input_size = 300
# The data preprocessor's mean (RGB): Expand fills its canvas with it, so the canvas
# normalises to zero.
mean = [123.675, 116.28, 103.53]
backend_args = None
# SSD training is bound by data loading: one worker process per core is a fair start on a
# host that feeds one accelerator. Workers stay alive across epochs (persistent_workers), and
# default_runtime's env_cfg sets opencv_num_threads=0 so they do not oversubscribe the cores.
num_workers = 4

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=mean, to_rgb=True, ratio_range=(1, 4)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.3),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5),
         saturation_range=(0.5, 1.5), hue_delta=18),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    # After Resize, so that the ground truth stays in original-image pixels for the metric.
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    persistent_workers=True,
    # Every batch full: BatchNorm cannot train on a last batch of one image (SSDLite's 1x1 maps),
    # whatever the dataset size, the skipped samples or the number of processes. Each sample is
    # augmented from (seed, epoch, index) whatever the workers (EpochSeedHook).
    drop_last=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # 5 passes over train2017 per runner epoch: the 24-epoch schedule is 120 data epochs.
    dataset=dict(
        type='RepeatDataset',
        times=5,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args=backend_args)))
val_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
