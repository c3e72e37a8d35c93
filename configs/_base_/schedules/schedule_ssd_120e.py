# mmdetection's SSD300/SSD512 COCO schedule: 24 runner epochs over the train set repeated 5 times
# (RepeatDataset times=5 in the dataset config) = 120 effective epochs, decays at 80 and 110.
max_epochs = 24
base_lr = 2e-3

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    # `end` stated explicitly: a resumed run with more epochs would otherwise keep the old end.
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[16, 22], gamma=0.1),
]

# clip_grad with an infinite norm never clips; it makes the optimizer wrapper log `grad_norm`.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=float('inf')))

# The LR above is for 8 devices x 8 images. Scale it linearly to the real total batch: running the
# published LR on fewer devices is the most common reason users miss the published mAP.
auto_scale_lr = dict(enable=True, base_batch_size=64)
