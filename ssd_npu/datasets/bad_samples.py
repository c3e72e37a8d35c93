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
import multiprocessing
from collections import Counter
from typing import Dict

from mmengine.logging import print_log

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
    """An integer in shared memory, incremented by any process that inherited it.

    Create it in the main process (at dataset construction): forked dataloader workers share
    its memory, and spawned workers receive it with the pickled dataset, as
    :mod:`multiprocessing` allows for objects passed to a new process.
    """

    def __init__(self) -> None:
        self._value = multiprocessing.Value('q', 0)

    def increment(self) -> None:
        with self._value.get_lock():
            self._value.value += 1

    @property
    def value(self) -> int:
        return int(self._value.value)

    def __deepcopy__(self, memo: dict) -> 'SharedCounter':
        # mmengine deep-copies datasets to build subsets (``get_subset``); shared memory cannot
        # be deep-copied, and a subset's skips belong to the same data, so it shares the count.
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
