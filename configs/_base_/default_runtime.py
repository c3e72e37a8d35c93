# Runtime shared by every config: hooks, logging, checkpoints, environment.
default_scope = 'ssd_npu'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # One checkpoint per epoch, the newest 3 kept; `--resume` picks the newest complete one.
    # (ssd_npu's CheckpointHook: a failed write keeps the previous checkpoint loadable.)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))

custom_hooks = [
    # Stops at start-up when model.bbox_head.num_classes disagrees with the dataset's classes.
    dict(type='NumClassCheckHook'),
    # A NaN/inf loss skips its step (warning with iteration and images); 10 in a row stop the
    # run; a checkpoint with non-finite weights is never written.
    dict(type='NonFiniteLossHook', max_consecutive=10),
    # Images/s per device and in total, device memory, and an end-of-epoch throughput summary.
    dict(type='ThroughputHook'),
    # Reseeds every RNG from (seed, epoch) at each epoch start and augments each sample from
    # (seed, epoch, index), so that a resumed run repeats what an uninterrupted run would do.
    dict(type='EpochSeedHook'),
    # A run resumed from a mid-epoch checkpoint continues that epoch where it stopped.
    dict(type='MidEpochResumeHook'),
    # SIGTERM (Slurm, Kubernetes preemption): finish the iteration on every rank, write
    # iter_<N>.pth, exit 0; `--resume` continues from that iteration.
    dict(type='PreemptionHook'),
    # Counts the samples the datasets skipped (corrupt images, broken boxes) and reports once per epoch.
    dict(type='BadSampleReportHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    # opencv_num_threads=0: each dataloader worker is one process; OpenCV's own threads would only
    # oversubscribe the cores (mmdetection users report the device idling on the CPU pipeline).
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # The backend is chosen per device by mmcv_patches.dist_utils (hccl / nccl / gloo).
    dist_cfg=dict(backend='auto'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
# The loss scale (AMP) is logged as its current value, not averaged over the window.
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     custom_cfg=[dict(data_src='loss_scale', method_name='current')])

log_level = 'INFO'
load_from = None
resume = False

# tools/test.py --tta: each image and its mirror, detections merged by SSD's NMS threshold and count.
# Without a `tta_pipeline`, --tta reads the test pipeline with a horizontal-flip view added; write one
# (mmdetection's TestTimeAug form) for other views, e.g. extra scales.
tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.45), max_per_img=200))
