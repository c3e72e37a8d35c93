# SSD300 (VGG16) on COCO 2017, mmdetection 3.x's recipe: 25.5 box AP on val2017 in its model zoo.
# Batch 8 per device; the LR 2e-3 is for 8 devices (total 64) and is scaled to the real total
# batch (auto_scale_lr). 24 runner epochs x 5 repeats = 120 data epochs.
_base_ = [
    '_base_/models/ssd300.py', '_base_/datasets/coco_detection.py',
    '_base_/schedules/schedule_ssd_120e.py', '_base_/default_runtime.py'
]
