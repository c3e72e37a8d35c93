"""Bookkeeping for bad data: one warning line per problem, counts that survive worker processes.

Two kinds of problems are handled, at two times:

- at parse time (``full_init``, main process), per box or per image of an annotation file:
  :class:`ParseProblems` logs one line per problem (the first few of each reason, then a
  summary) and keeps the counts;
- at load time (inside dataloader workers), per sample whose image cannot be read:
  :func:`warn_bad_file` logs one line per file and :class:`SharedCounter` counts the skipped
  samples in shared memory, so the main process (``BadSampleReportHook``) sees the workers'
  counts.
"""
import logging
from collections import Counter
from typing import Dict

import torch
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

# Each process warns once per file: a broken image drawn again in a later epoch (or by the
# RepeatDataset wrapper) is still counted but not re-announced.
_warned_files: set = set()


def warn_bad_file(path: str, reason: str) -> None:
    """Log ``"<path>: <reason>; sample skipped"`` once per file and process."""
    if path in _warned_files:
        return
    _warned_files.add(path)
    print_log(f'{path}: {reason}; sample skipped', logger='current', level=logging.WARNING)


class SharedCounter:
    """A count kept in shared memory, incremented by the process that created it and by every
    dataloader worker that received it.

    Create it in the main process (at dataset construction). Each worker increments its own
    slot (worker id + 1; the main process uses slot 0), so no lock is needed; the slots live
    in a torch shared-memory tensor, which forked workers share and spawned workers receive
    with the pickled dataset alike (a ``multiprocessing`` lock made under ``fork`` cannot be
    sent to a spawned worker).
    """

    _SLOTS = 1024

    def __init__(self) -> None:
        self._slots = torch.zeros(self._SLOTS, dtype=torch.int64).share_memory_()

    def increment(self) -> None:
        worker = get_worker_info()
        self._slots[0 if worker is None else (worker.id + 1) % self._SLOTS] += 1

    @property
    def value(self) -> int:
        return int(self._slots.sum())

    def __deepcopy__(self, memo: dict) -> 'SharedCounter':
        # mmengine deep-copies datasets to build subsets (``get_subset``); a subset's skips
        # belong to the same data, so it shares the count.
        return self


class ParseProblems:
    """Collects the boxes and images an annotation file loses, logging each with its reason.

    Args:
        source: the annotation file, named in every line.
        max_lines_per_reason: lines logged per reason; the rest are summed up by
            :meth:`log_summary`, so that a badly broken file does not flood the log.
    """

    def __init__(self, source: str, max_lines_per_reason: int = 10) -> None:
        self.source = source
        self.max_lines_per_reason = max_lines_per_reason
        self.counts: Dict[str, int] = Counter()

    def add(self, where: str, reason: str, action: str) -> None:
        """Record one problem.

        Args:
            where: what is affected, e.g. ``"image 42 (a.jpg), annotation 7"``.
            reason: what is wrong, e.g. ``"non-finite coordinates"``; also the key of the counts.
            action: what was done, e.g. ``"box dropped"``.
        """
        self.counts[reason] += 1
        if self.counts[reason] <= self.max_lines_per_reason:
            print_log(f'{self.source}: {where}: {reason}; {action}', logger='current',
                      level=logging.WARNING)

    def log_summary(self) -> None:
        """Log one line with the count per reason, if anything was recorded."""
        if not self.counts:
            return
        parts = ', '.join(f'{n} x {reason}' for reason, n in sorted(self.counts.items()))
        print_log(f'{self.source}: problems found while parsing: {parts} '
                  f'(the first {self.max_lines_per_reason} of each are logged above)',
                  logger='current', level=logging.WARNING)
