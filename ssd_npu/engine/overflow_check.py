"""Did this step overflow? One answer per device kind, and the same answer on every rank.

Why: most devices write inf/NaN where a computation overflows, so ``torch.isfinite`` sees it. The
Ascend 910A (SoC version < 220, ``torch_npu.npu.utils.is_support_inf_nan()`` is False) only runs
in saturation mode: an fp16 overflow gives +-65504 and a NaN gives 0, so ``isfinite`` never fires
there. The device instead raises a float-status flag, read with
``torch_npu.npu.utils.get_npu_overflow_flag()`` and cleared with ``clear_npu_overflow_flag()``
(torch_npu/npu/utils.py of torch-npu 2.6.0.post5 and 2.14.0).

Each rank sees only its own flag: DDP averages gradients, but a saturated gradient is finite, so
one rank can overflow while the others do not. Skipping on one rank only would let the replicas
drift apart silently; torch_npu's own GradScaler all-reduces an overflow count for the same
reason (``_sync_dist_overflow_count``). :meth:`OverflowCheck.on_any_rank` takes the maximum over
ranks, so every rank takes the same decision.
"""
from typing import Callable, Iterable, Optional

import torch
from mmengine.dist import all_reduce


def npu_saturates() -> bool:
    """True on an NPU that saturates instead of producing inf/NaN (Ascend 910A)."""
    import torch_npu

    return not torch_npu.npu.utils.is_support_inf_nan()


class OverflowCheck:
    """The "is this step finite" decision of the loss guard and the AMP loss scaler.

    Args:
        device_type: the device of the step's tensors (``'npu'``, ``'cuda'``, ``'cpu'``...).

    Attributes:
        device_flag: reads (without clearing) the device's overflow flag; None where the device
            writes inf/NaN instead. A test replaces it to stand in for the device flag.
        clear_device_flag: clears that flag; None where there is none.
    """

    def __init__(self, device_type: str):
        self.device_flag: Optional[Callable[[], bool]] = None
        self.clear_device_flag: Optional[Callable[[], None]] = None
        if device_type == 'npu' and npu_saturates():
            import torch_npu

            self.device_flag = torch_npu.npu.utils.get_npu_overflow_flag
            self.clear_device_flag = torch_npu.npu.utils.clear_npu_overflow_flag

    def found_here(self, tensors: Iterable[torch.Tensor] = ()) -> bool:
        """Whether this rank overflowed: a non-finite value in ``tensors``, or the device's flag."""
        non_finite = any(not bool(torch.isfinite(tensor.detach()).all()) for tensor in tensors)
        return non_finite or (self.device_flag is not None and bool(self.device_flag()))

    def on_any_rank(self, found_here: bool, device: torch.device) -> bool:
        """Whether any rank overflowed, given this rank's answer (one scalar all-reduce; no-op alone)."""
        flag = torch.tensor(float(found_here), device=device)
        all_reduce(flag, op='max')
        return bool(flag)

    def clear(self) -> None:
        """Reset the device's flag (before the next region whose overflow is to be judged)."""
        if self.clear_device_flag is not None:
            self.clear_device_flag()
