# The demo: SSDLite (MobileNetV2 at half width) at 192x192 on the embedded synthetic shapes
# dataset, trained from scratch on a 2-core CPU in minutes (README's first command).
# Differences from the COCO SSDLite recipe, each for learning fast from 500 images:
#   - a stride-8 level (MobileNetV2 stage 2) and anchors sized for 15-90 px objects, so every
#     object gets several positive anchors at this small input size;
#   - BatchNorm momentum 0.1: the TensorFlow-style 0.03 lags behind weights that change fast;
#   - AdamW with a short warmup and cosine decay, milder zoom-out (Expand up to 2x) and no
#     random crop.
_base_ = ['_base_/datasets/synthetic_coco.py', '_base_/default_runtime.py']

input_size = 192
max_epochs = 30
batch_size = 16
lr = 3e-3

norm_cfg = dict(type='BN', eps=0.001, momentum=0.1)
mean = [123.675, 116.28, 103.53]
model = dict(
    type='SSD',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=mean, std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=1),
    backbone=dict(type='MobileNetV2', widen_factor=0.5, out_indices=(2, 4, 7), norm_cfg=norm_cfg,
                  init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    neck=dict(type='SSDNeck', in_channels=(16, 48, 1280), out_channels=(16, 48, 1280, 256, 128, 64),
              level_strides=(2, 2, 2), level_paddings=(1, 1, 1), l2_norm_scale=None, use_depthwise=True,
              norm_cfg=norm_cfg, act_cfg=dict(type='ReLU6'),
              init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    bbox_head=dict(
        type='SSDHead',
        num_classes=3,
        in_channels=(16, 48, 1280, 256, 128, 64),
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        # Feature maps 24, 12, 6, 3, 2, 1 at 192x192.
        anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False, strides=[8, 16, 32, 64, 96, 192],
                              ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                              min_sizes=[16, 32, 56, 88, 120, 160], max_sizes=[32, 56, 88, 120, 160, 192]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.,
                      ignore_iof_thr=-1, gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        # At most 5 objects per image: pad the ground truth to 8 boxes (a fixed shape).
        gt_pad_size=8,
        debug=False),
    test_cfg=dict(nms_pre=1000, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0, score_thr=0.02,
                  max_per_img=200))

# The dataset base's pipelines (backend_args included) at 192x192; training zooms out up to 2x
# only (Expand's canvas filled with the mean above) and skips the random crop.
train_pipeline = [
    dict(step, mean=mean, ratio_range=(1, 2)) if step.type == 'Expand'
    else dict(step, scale=(input_size, input_size)) if step.type == 'Resize'
    else step
    for step in _base_.train_pipeline if step.type != 'MinIoURandomCrop']
test_pipeline = [dict(step, scale=(input_size, input_size)) if step.type == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(batch_size=batch_size, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=batch_size, num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, begin=0, end=max_epochs, by_epoch=True, eta_min=0),
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05),
                     clip_grad=dict(max_norm=float('inf')))
# The LR above is for one process with 16 images; scaled linearly for other total batches.
auto_scale_lr = dict(enable=True, base_batch_size=batch_size)

default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))
