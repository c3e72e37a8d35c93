"""A config written the mmdetection 2.x way (2.25's SSD structure) on the tiny synthetic shapes set.

``write_legacy_config(folder, data_root)`` writes it (with a 2.x schedule base file) and returns its path.
"""
import textwrap
from pathlib import Path

SCHEDULE = '''
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', warmup='linear', warmup_iters=4, warmup_ratio=0.1, step=[1])
runner = dict(type='EpochBasedRunner', max_epochs=2)
'''

CONFIG = '''
_base_ = ['./schedule_2x_style.py']
input_size = 96
model = dict(
    type='SSD',
    backbone=dict(type='MobileNetV2', widen_factor=0.25, out_indices=(4, 7)),
    neck=dict(type='SSDNeck', in_channels=(24, 1280), out_channels=(24, 1280, 64, 32),
              level_strides=(2, 2), level_paddings=(1, 1), l2_norm_scale=None, use_depthwise=True),
    bbox_head=dict(
        type='SSDHead', num_classes=3, in_channels=(24, 1280, 64, 32), use_depthwise=True,
        anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False, strides=[16, 32, 48, 96],
                              ratios=[[2], [2], [2], [2]], min_sizes=[16, 32, 56, 80],
                              max_sizes=[32, 56, 80, 96]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.,
                                 ignore_iof_thr=-1, gt_max_assign_all=False),
                   sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1,
                   neg_pos_ratio=3, debug=False),
    test_cfg=dict(nms_pre=100, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0, score_thr=0.02,
                  max_per_img=50))
dataset_type = 'CocoDataset'
data_root = '{data_root}/'
classes = ('circle', 'square', 'triangle')
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=img_norm_cfg['mean'], to_rgb=img_norm_cfg['to_rgb'], ratio_range=(1, 2)),
    dict(type='Resize', img_scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(input_size, input_size), flip=False,
         transforms=[dict(type='Resize', keep_ratio=False), dict(type='Normalize', **img_norm_cfg),
                     dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])]),
]
data = dict(
    samples_per_gpu=4, workers_per_gpu=0,
    train=dict(type='RepeatDataset', times=1,
               dataset=dict(type=dataset_type, classes=classes,
                            ann_file=data_root + 'annotations/instances_train.json',
                            img_prefix=data_root + 'train/', pipeline=train_pipeline)),
    val=dict(type=dataset_type, classes=classes, ann_file=data_root + 'annotations/instances_val.json',
             img_prefix=data_root + 'val/', pipeline=test_pipeline),
    test=dict(type=dataset_type, classes=classes, ann_file=data_root + 'annotations/instances_val.json',
              img_prefix=data_root + 'val/', pipeline=test_pipeline))
evaluation = dict(interval=2, metric='bbox')
checkpoint_config = dict(interval=1)
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
custom_hooks = [dict(type='NumClassCheckHook'),
                dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')]
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]
auto_scale_lr = dict(enable=False, base_batch_size=4)
'''


def write_legacy_config(folder: Path, data_root: Path) -> Path:
    (folder / 'schedule_2x_style.py').write_text(textwrap.dedent(SCHEDULE))
    config = folder / 'ssd_2x_style.py'
    config.write_text(CONFIG.replace('{data_root}', str(data_root)))
    return config
