from .bad_sample_report_hook import BadSampleReportHook
from .epoch_seed_hook import EpochSeedHook, epoch_worker_init_fn
from .num_class_check_hook import NumClassCheckHook
from .throughput_hook import ThroughputHook
from .visualization_hook import DetVisualizationHook

__all__ = ['BadSampleReportHook', 'DetVisualizationHook', 'EpochSeedHook', 'NumClassCheckHook',
           'ThroughputHook', 'epoch_worker_init_fn']
