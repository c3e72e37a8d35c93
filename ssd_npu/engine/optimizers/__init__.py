from .amp_optim_wrapper import DEFAULT_AMP_DTYPE, AmpOptimWrapper
from .fused_sgd_builder import fused_sgd, npu_fused_sgd
from .non_finite_check import NonFiniteLossCheck
from .optim_wrapper import OptimWrapper

__all__ = ['DEFAULT_AMP_DTYPE', 'AmpOptimWrapper', 'NonFiniteLossCheck', 'OptimWrapper', 'fused_sgd',
           'npu_fused_sgd']
