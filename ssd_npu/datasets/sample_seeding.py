"""Per-sample random state: the augmentation of a sample depends on (seed, epoch, index) only.

A training run draws its augmentations from numpy's, python's and torch's global RNGs. Which
state those are in when a sample is processed depends on the dataloader worker that got it,
on whether the workers persist across epochs, on the number of processes and on what was
drawn before a restart -- none of which a checkpoint can capture. So each sample is processed
with the three RNGs seeded from ``(seed, epoch, index)`` (``index``: what the sampler gave the
dataloader, before any dataset wrapper maps it), and the caller's RNG states are restored
afterwards: a sample is augmented the same way whatever the worker count, persistence, process
count or restart.

The seed and epoch are set in the main process (``EpochSeedHook``, at each epoch start) into
shared memory, which dataloader workers see, persistent or not, forked or spawned.
"""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


class SampleSeed:
    """``(seed, epoch)`` in shared memory; per-sample seeding is off until :meth:`set` is called."""

    def __init__(self) -> None:
        # [enabled, seed, epoch]
        self._state = torch.zeros(3, dtype=torch.int64).share_memory_()

    def set(self, seed: int, epoch: int) -> None:
        self._state.copy_(torch.tensor([1, seed, epoch]))

    @property
    def enabled(self) -> bool:
        return bool(self._state[0])

    def for_index(self, index: int) -> int:
        """The 32-bit seed of sample ``index`` in the current epoch."""
        _, seed, epoch = self._state.tolist()
        return int(np.random.SeedSequence([seed % 2**63, epoch, index]).generate_state(1)[0])

    def __deepcopy__(self, memo: dict) -> 'SampleSeed':
        # Subsets built by deep copy (mmengine's get_subset) follow the same epoch.
        return self


_depth = 0


@contextmanager
def seeded_random_state(seed: int) -> Iterator[None]:
    """Run the body with python's, numpy's and torch's (CPU) global RNGs seeded with ``seed``; restore
    the previous states afterwards. Nested uses keep the outermost seeding (a dataset wrapper
    seeds from the sampler's index; the dataset it wraps then must not reseed)."""
    global _depth
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    # torch's CPU generator only: the pipeline runs on the CPU, and torch.manual_seed (which also
    # seeds every accelerator) costs ~100x more per sample.
    cpu_generator = torch.default_generator
    states = random.getstate(), np.random.get_state(), cpu_generator.get_state()
    random.seed(seed)
    np.random.seed(seed)
    cpu_generator.manual_seed(seed)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        random.setstate(states[0])
        np.random.set_state(states[1])
        cpu_generator.set_state(states[2])


class PerSampleSeedMixin:
    """For datasets: ``dataset[index]`` runs with the RNGs seeded from (seed, epoch, index)
    once :attr:`sample_seed` has been set (training); unchanged behaviour before that."""

    def __init__(self, *args, **kwargs) -> None:
        self.sample_seed = SampleSeed()  # before the dataset's own __init__, which may read items
        super().__init__(*args, **kwargs)

    def __getitem__(self, index: int):
        if not self.sample_seed.enabled:
            return super().__getitem__(index)
        with seeded_random_state(self.sample_seed.for_index(index)):
            return super().__getitem__(index)
