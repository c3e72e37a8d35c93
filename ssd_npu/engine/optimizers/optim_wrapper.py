"""``OptimWrapper`` of ssd_npu's scope: mmengine's, with the non-finite loss check."""
from mmengine.optim import OptimWrapper as MMEngineOptimWrapper

from ssd_npu.registry import OPTIM_WRAPPERS

from .non_finite_check import NonFiniteLossCheck


@OPTIM_WRAPPERS.register_module(name='OptimWrapper')
class OptimWrapper(NonFiniteLossCheck, MMEngineOptimWrapper):
    """mmengine's ``OptimWrapper`` (same arguments) that can skip non-finite steps.

    Registered under mmengine's name in ssd_npu's registry, so configs (``type='OptimWrapper'``,
    or no type) under ``default_scope='ssd_npu'`` get it; see :class:`NonFiniteLossCheck`.
    """
