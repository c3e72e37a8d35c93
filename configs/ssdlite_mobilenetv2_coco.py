# SSDLite (MobileNetV2) at 320x320 on COCO 2017, trained from scratch, as the old product trained
# it (20.1 mAP) and as mmdetection 3.x does (21.3 box AP): batch 24 per device on 8 devices,
# 120 runner epochs x 5 repeats = 600 data epochs, cosine LR from 0.015.
_base_ = [
    '_base_/models/ssdlite_mobilenetv2.py', '_base_/datasets/coco_detection.py',
    '_base_/schedules/schedule_ssdlite_600e.py', '_base_/default_runtime.py'
]
input_size = 320
# The dataset base's pipelines (backend_args included), resizing to 320x320.
train_pipeline = [dict(step, scale=(input_size, input_size)) if step.type == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=(input_size, input_size)) if step.type == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(batch_size=24, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
