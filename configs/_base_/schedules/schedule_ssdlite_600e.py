# mmdetection's SSDLite-MobileNetV2 schedule: 120 runner epochs over the train set repeated 5 times
# (= 600 effective epochs), cosine decay, batch 24 per device on 8 devices.
max_epochs = 120
base_lr = 0.015

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=0),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=4.0e-5),
    clip_grad=dict(max_norm=float('inf')))

auto_scale_lr = dict(enable=True, base_batch_size=192)
