# SSD512 (VGG16) on COCO 2017, mmdetection 3.x's recipe: 29.5 box AP on val2017 in its model zoo.
_base_ = [
    '_base_/models/ssd512.py', '_base_/datasets/coco_detection.py',
    '_base_/schedules/schedule_ssd_120e.py', '_base_/default_runtime.py'
]
input_size = 512
# The dataset base's pipelines (backend_args included), resizing to 512x512.
train_pipeline = [dict(step, scale=(input_size, input_size)) if step.type == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=(input_size, input_size)) if step.type == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
