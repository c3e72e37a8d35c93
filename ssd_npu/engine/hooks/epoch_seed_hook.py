"""Per-epoch reseeding, so that a resumed run repeats an uninterrupted run exactly."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed python, numpy and torch from ``(seed, epoch)`` at the start of every epoch.

    mmengine seeds once at start-up, so after ``--resume`` the random augmentations of the
    resumed epoch differ from those an uninterrupted run would have drawn. Reseeding at every
    epoch start makes each epoch a function of the seed and its number only: resuming from the
    checkpoint of epoch ``k`` repeats epoch ``k + 1`` exactly (with ``num_workers=0`` or
    non-persistent workers seeded by :func:`epoch_worker_init_fn`).
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed + 1000003 * runner.epoch
        if runner._randomness_cfg.get('diff_rank_seed', False):
            seed += get_rank()
        seed %= 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


@FUNCTIONS.register_module()
def epoch_worker_init_fn(worker_id: int) -> None:
    """Seed numpy and python in a dataloader worker from the seed torch gave that worker.

    torch derives each worker's seed from the main process's RNG when the epoch's workers start,
    and :class:`EpochSeedHook` seeds that RNG per epoch; so augmentations differ between epochs
    (mmengine's default reseeds every epoch's workers identically) and still repeat on resume.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
