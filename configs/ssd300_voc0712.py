# SSD300 (VGG16) on Pascal VOC 2007+2012 trainval, tested on VOC2007 test (the SSD paper's
# setting), mmdetection 3.x's recipe: 24 runner epochs x 10 repeats, LR 1e-3 for a total batch of 64.
_base_ = [
    '_base_/models/ssd300.py', '_base_/datasets/voc0712.py',
    '_base_/schedules/schedule_ssd_120e.py', '_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=20, anchor_generator=dict(basesize_ratio_range=(0.2, 0.9))))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=24, milestones=[16, 20], gamma=0.1),
]
