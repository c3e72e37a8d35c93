# SSDLite (MobileNetV2) at 320x320 on COCO 2017, trained from scratch, as the old product trained
# it (20.1 mAP) and as mmdetection 3.x does (21.3 box AP): batch 24 per device on 8 devices,
# 120 runner epochs x 5 repeats = 600 data epochs, cosine LR from 0.015.
_base_ = [
    '_base_/models/ssdlite_mobilenetv2.py', '_base_/datasets/coco_detection.py',
    '_base_/schedules/schedule_ssdlite_600e.py', '_base_/default_runtime.py'
]
input_size = 320
mean = [123.675, 116.28, 103.53]
train_pipeline = [
    dict(type='LoadImageFromFile'),
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
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=24, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
