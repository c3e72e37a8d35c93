from .bad_sample_report_hook import BadSampleReportHook
from .check_invalid_loss_hook import CheckInvalidLossHook
from .epoch_seed_hook import EpochSeedHook, epoch_worker_init_fn
from .non_finite_loss_hook import NonFiniteLossHook
from .num_class_check_hook import NumClassCheckHook
from .throughput_hook import ThroughputHook
from .visualization_hook import DetVisualizationHook

__all__ = ['BadSampleReportHook', 'CheckInvalidLossHook', 'DetVisualizationHook', 'EpochSeedHook',
           'NonFiniteLossHook', 'NumClassCheckHook', 'ThroughputHook', 'epoch_worker_init_fn']
