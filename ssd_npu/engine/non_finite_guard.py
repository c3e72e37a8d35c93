"""Skip training steps whose loss is not finite, and stop a run that keeps producing them."""
from typing import Optional, Sequence

import torch
from mmengine.logging import MessageHub, print_log

from ssd_npu.errors import NonFiniteLossError

from .overflow_check import OverflowCheck


class NonFiniteLossGuard:
    """Decide per step whether the loss may update the weights.

    A NaN/inf loss is skipped (no backward, no optimizer step) with one warning naming the
    iteration and the images of the batch; ``max_consecutive`` skips in a row stop the run with
    :class:`NonFiniteLossError`, since the model or the learning rate is then broken and silent
    NaN training would only waste device hours. The check costs one device-to-host copy of a
    scalar per step.

    Args:
        max_consecutive: Consecutive non-finite losses tolerated before stopping.
    """

    def __init__(self, max_consecutive: int = 10):
        if max_consecutive < 1:
            raise ValueError(f'max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.skipped = 0

    def allows(self, loss: torch.Tensor, image_paths: Sequence[str],
               overflow_check: Optional[OverflowCheck] = None) -> bool:
        """True when ``loss`` is finite on every rank; otherwise warn, count, and raise past the limit.

        All ranks take the same decision: a rank that skipped its backward while the others ran
        theirs would leave DDP's gradient all-reduce waiting forever.

        Args:
            loss: the step's loss.
            image_paths: the batch's images, named in the warning.
            overflow_check: the device's check (on a saturating NPU it reads the float-status
                flag of the forward pass, then clears it for the backward's own check);
                default: ``isfinite`` on the loss's device.
        """
        check = overflow_check or OverflowCheck(loss.device.type)
        overflowed = check.on_any_rank(check.found_here([loss]), loss.device)
        check.clear()
        if not overflowed:
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.skipped += 1
        iteration = MessageHub.get_current_instance().get_info('iter', 0) + 1
        print_log(f'Non-finite loss {loss.detach().float().item()} (on this or another rank) at iteration '
                  f'{iteration}: step skipped ({self.consecutive} in a row). '
                  f'Images: {", ".join(image_paths)}',
                  logger='current', level=30)
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f'{self.consecutive} consecutive non-finite losses (last at iteration {iteration}); '
                'stopping. Lower the learning rate, enable warmup, or check the data for broken boxes.')
        return False
