"""Report the samples the datasets lost to bad data: parse-time problems once, skips per epoch."""
import logging
from typing import Iterator

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS


def iter_datasets(dataset) -> Iterator:
    """Yield ``dataset`` and every dataset wrapped in it (Repeat/Concat/ClassBalanced wrappers)."""
    yield dataset
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        yield from iter_datasets(inner)
    for child in getattr(dataset, 'datasets', None) or ():
        yield from iter_datasets(child)


@HOOKS.register_module()
class BadSampleReportHook(Hook):
    """Log, once per training epoch, how many samples were skipped because their image could
    not be read, and, once at the start, what the annotation files lost while parsing.

    Each skipped file is warned about by name when it is first met (``LoadImageFromFile``);
    this hook gives the totals, summed over dataloader workers (the datasets count in shared
    memory) and over distributed ranks. Nothing is logged for clean data.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._reported = 0

    def before_train(self, runner) -> None:
        for dataset in iter_datasets(runner.train_dataloader.dataset):
            problems = getattr(dataset, 'parse_problems', None)
            if problems:
                parts = ', '.join(f'{n} x {reason}' for reason, n in sorted(problems.items()))
                runner.logger.warning(f'{dataset.ann_file}: lost or repaired while parsing: {parts}')

    def after_train_epoch(self, runner) -> None:
        total = sum(dataset.skipped_samples.value
                    for dataset in iter_datasets(runner.train_dataloader.dataset)
                    if hasattr(dataset, 'skipped_samples'))
        if is_distributed():
            count = torch.tensor([total], dtype=torch.int64)
            all_reduce(count)
            total = int(count.item())
        new = total - self._reported
        self._reported = total
        if new:
            runner.logger.log(logging.WARNING,
                              f'Epoch {runner.epoch + 1}: {new} training samples were skipped and '
                              f'replaced by others because their image could not be read '
                              f'({total} since the start; the files are named in the warnings above)')
