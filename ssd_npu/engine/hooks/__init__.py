from .bad_sample_report_hook import BadSampleReportHook
from .check_invalid_loss_hook import CheckInvalidLossHook
from .checkpoint_hook import CheckpointHook
from .epoch_seed_hook import EpochSeedHook
from .mid_epoch_resume_hook import MidEpochResumeHook
from .non_finite_loss_hook import NonFiniteLossHook
from .num_class_check_hook import NumClassCheckHook
from .preemption_hook import PreemptionHook
from .throughput_hook import ThroughputHook
from .visualization_hook import DetVisualizationHook

__all__ = ['BadSampleReportHook', 'CheckInvalidLossHook', 'CheckpointHook',
           'DetVisualizationHook', 'EpochSeedHook', 'MidEpochResumeHook', 'NonFiniteLossHook',
           'NumClassCheckHook', 'PreemptionHook', 'ThroughputHook']
