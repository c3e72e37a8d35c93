# SSD512 with a VGG16 base network: SSD300 with one more pyramid level (Liu et al. 2016, Sec. 3.1).
_base_ = ['./ssd300.py']
model = dict(
    neck=dict(
        out_channels=(512, 1024, 512, 256, 256, 256, 256),
        level_strides=(2, 2, 2, 2, 1),
        level_paddings=(1, 1, 1, 1, 1),
        # conv12_2 is a 4x4 conv taking 2x2 (+padding) to 1x1 (paper footnote 5).
        last_kernel_size=4),
    bbox_head=dict(
        in_channels=(512, 1024, 512, 256, 256, 256, 256),
        anchor_generator=dict(
            input_size=512,
            basesize_ratio_range=(0.1, 0.9),
            strides=[8, 16, 32, 64, 128, 256, 512],
            ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]])))
