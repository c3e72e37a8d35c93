"""Per-epoch reseeding, so that a resumed run repeats an uninterrupted run exactly."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS

from .bad_sample_report_hook import iter_datasets


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Make every random draw of an epoch a function of the seed and the epoch number.

    mmengine seeds once at start-up, so after ``--resume`` the random draws of the resumed
    epoch would differ from those of an uninterrupted run. At every epoch start this hook

    - seeds python, numpy and torch in the main process from ``(seed, epoch)``;
    - tells the training datasets the seed and epoch, so that each sample is augmented with
      the RNGs seeded from ``(seed, epoch, sample index)`` (``ssd_npu.datasets.sample_seeding``),
      in whichever dataloader worker, persistent or not, and on whichever rank it lands.
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
        # The same on every rank: a sample's augmentation must not depend on where it lands.
        for dataset in iter_datasets(runner.train_dataloader.dataset):
            if hasattr(dataset, 'sample_seed'):
                dataset.sample_seed.set(runner.seed, runner.epoch)
