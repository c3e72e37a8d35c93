"""mmengine's ``DefaultSampler`` that can start an epoch part-way, for resuming mid-epoch."""
from typing import Iterator

from mmengine.dataset import DefaultSampler as _DefaultSampler

from ssd_npu.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class DefaultSampler(_DefaultSampler):
    """mmengine's ``DefaultSampler`` (same arguments and order of indices), plus
    :meth:`skip_at_next_epoch_start`: a run resumed from a checkpoint written mid-epoch
    (preemption, ``CheckpointHook(by_epoch=False)``) continues with the samples that the
    interrupted run had not reached, instead of repeating the epoch from its start.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip_at_next_epoch_start(self, num_samples: int) -> None:
        """Drop the first ``num_samples`` indices (of this rank) from the next iteration only."""
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self._skip = self._skip, 0
        return iter(indices[skip:])
