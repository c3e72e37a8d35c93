# SSD300 that runs torchvision's `ssd300_vgg16` COCO weights (25.1 box AP there) with torchvision's
# normalisation, default boxes and post-processing. Convert the weights first:
#   python tools/model_converters/torchvision_to_ssd_npu.py ssd300_vgg16_coco-b556d3b4.pth ssd300_tv.pth
#   python tools/test.py configs/ssd300_coco_torchvision.py ssd300_tv.pth
# Differences that remain (tests/test_tools/test_torchvision_converter.py pins the rest):
# - torchvision keeps the 400 best boxes per class before NMS; here every box above score_thr
#   goes to NMS (identical whenever no class has more than 400 boxes above 0.01);
# - torchvision resizes the normalised float image; here the uint8 image is resized (cv2), which
#   rounds pixels to integers before normalisation;
# - torchvision does not clamp very negative dw/dh (boxes < 1/62.5 of their default box).
_base_ = [
    './_base_/models/ssd300.py', './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_ssd_120e.py', './_base_/default_runtime.py'
]

# torchvision: RGB in [0, 1] minus mean [0.48235, 0.45882, 0.40784], divided by std 1/255,
# i.e. 0-255 RGB minus 255 * mean.
mean = [122.99925, 116.9991, 103.9992]
model = dict(
    data_preprocessor=dict(mean=mean, std=[1, 1, 1], bgr_to_rgb=True),
    # All weights come from the converted checkpoint.
    backbone=dict(init_cfg=None),
    bbox_head=dict(
        # DefaultBoxGenerator(scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        # steps=[8, 16, 32, 64, 100, 300], clip=True): sizes are scales x 300, and box sides are
        # clamped to the 300-pixel input, which changes the two elongated boxes of the last level.
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            input_size=300,
            strides=[8, 16, 32, 64, 100, 300],
            ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
            min_sizes=[21, 45, 99, 153, 207, 261],
            max_sizes=[45, 99, 153, 207, 261, 315],
            clip_base_wh=True)),
    test_cfg=dict(
        # Every box above score_thr of every level (torchvision has no per-level limit).
        nms_pre=-1,
        score_thr=0.01,
        # torchvision keeps each class's 400 best candidates before NMS (topk_candidates).
        topk_per_class=400,
        nms=dict(type='nms', iou_threshold=0.45),
        # torchvision keeps boxes clipped to zero width or height.
        min_bbox_size=-1,
        max_per_img=200))

# The dataset base's train pipeline (backend_args included), with Expand filling its canvas with
# this normalisation mean, so that the canvas normalises to zero.
train_pipeline = [dict(step, mean=mean) if step.type == 'Expand' else step for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
