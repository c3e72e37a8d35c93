"""Read mmengine's json training logs; plot loss / metric curves; summarise iteration times.

mmengine's ``LoggerHook`` writes ``<work_dir>/<timestamp>/vis_data/<timestamp>.json``, one json dict
per line. Training lines carry ``lr``, the losses, ``time``, ``data_time``, ``epoch`` (epoch-based
runs), ``iter`` and ``step`` (both the global iteration); validation lines carry the metrics under
the metric's prefix (``coco/bbox_mAP``, ``pascal_voc/mAP``), ``time``, ``data_time`` and ``step``
(the epoch, or the iteration for iteration-based runs).
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


@dataclass
class JsonLog:
    """One json log, split into training and validation records (each a dict of one line)."""

    path: str
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)

    @property
    def by_epoch(self) -> bool:
        """Whether validation ``step`` counts epochs (training lines then carry ``epoch``)."""
        return any('epoch' in record for record in self.train)


def load_json_log(path: str) -> JsonLog:
    """Parse one mmengine json log.

    Raises:
        ValueError: a line is not a json object (the message names the file and line).
    """
    log = JsonLog(path=path)
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{number} is not a json line ({err}); expected mmengine\'s '
                                 'vis_data/<timestamp>.json log') from err
            if not isinstance(record, dict):
                raise ValueError(f'{path}:{number} is not a json object')
            # Only training lines have 'iter' (validation lines only have 'step').
            (log.train if 'iter' in record else log.val).append(record)
    return log


def load_json_logs(paths: Sequence[str]) -> List[JsonLog]:
    """Parse several logs (see :func:`load_json_log`)."""
    return [load_json_log(path) for path in paths]


def resolve_key(log: JsonLog, key: str) -> Tuple[str, str]:
    """Find ``key`` in a log: an exact name, or a metric name without its prefix (``bbox_mAP``
    finds ``coco/bbox_mAP``).

    Returns:
        (full key, ``'train'`` or ``'val'``).

    Raises:
        KeyError: the key is absent or ambiguous; the message lists the keys the log has.
    """
    for mode, records in (('train', log.train), ('val', log.val)):
        names = {name for record in records for name in record}
        if key in names:
            return key, mode
        matches = sorted(name for name in names if name.split('/')[-1] == key)
        if len(matches) > 1:
            raise KeyError(f'{key!r} is ambiguous in {log.path}: {matches}; give the full name')
        if matches:
            return matches[0], mode
    available = sorted({name for record in log.train + log.val for name in record})
    raise KeyError(f'{log.path} has no {key!r}; its keys are {available}. A metric is missing when the '
                   'run never validated; a loss is missing when the log interval exceeds the epoch')


def curve(log: JsonLog, key: str) -> Tuple[np.ndarray, np.ndarray, str]:
    """(x, y, x label) of one key: training keys over the global iteration, validation keys over
    the epoch (or iteration for iteration-based runs)."""
    full_key, mode = resolve_key(log, key)
    records = [r for r in (log.train if mode == 'train' else log.val) if full_key in r]
    xs = np.array([r.get('step', r.get('iter')) for r in records], dtype=np.float64)
    ys = np.array([r[full_key] for r in records], dtype=np.float64)
    label = 'iter' if mode == 'train' or not log.by_epoch else 'epoch'
    return xs, ys, label


def plot_curves(logs: Sequence[JsonLog], keys: Sequence[str], out: Optional[str] = None,
                legend: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """One subplot per key, one line per log.

    Args:
        logs: parsed logs.
        keys: names to plot (``loss``, ``loss_cls``, ``bbox_mAP``, ``coco/bbox_mAP_50`` ...).
        out: image file to write (format from the extension); None keeps the figure open for
            ``plt.show()``.
        legend: one label per log, or one per (log, key) in log-major order (mmdetection's form);
            default ``<file name>_<key>``.
        title: figure title.

    Returns:
        The matplotlib figure (closed when written to ``out``).
    """
    import matplotlib.pyplot as plt

    if legend is not None and len(legend) not in (len(logs), len(logs) * len(keys)):
        raise ValueError(f'--legend needs {len(logs)} (one per log) or {len(logs) * len(keys)} '
                         f'(one per log and key) names, got {len(legend)}')
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), squeeze=False)
    for k, key in enumerate(keys):
        ax = axes[k, 0]
        for i, log in enumerate(logs):
            xs, ys, xlabel = curve(log, key)
            if legend is None:
                label = f'{osp.basename(log.path)}_{key}'
            else:
                label = legend[i] if len(legend) == len(logs) else legend[i * len(keys) + k]
            style = dict(marker='o') if xlabel == 'epoch' else dict(linewidth=0.8)
            ax.plot(xs, ys, label=label, **style)
            ax.set_xlabel(xlabel)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out)
        plt.close(fig)
    return fig


def train_time_stats(log: JsonLog, include_outliers: bool = False) -> Dict[str, float]:
    """Seconds per training iteration, per epoch and overall.

    The first logged interval of each epoch includes dataloader start-up; it is left out unless
    ``include_outliers``. Iteration-based logs count as one epoch.

    Returns:
        ``slowest_epoch``, ``slowest_time``, ``fastest_epoch``, ``fastest_time``,
        ``std_over_epochs`` (of the per-epoch means) and ``mean_iter_time``.

    Raises:
        KeyError: the log has no training ``time`` records.
    """
    per_epoch: Dict[int, List[float]] = {}
    for record in log.train:
        if 'time' in record:
            per_epoch.setdefault(int(record.get('epoch', 1)), []).append(float(record['time']))
    if not include_outliers:
        per_epoch = {epoch: times[1:] for epoch, times in per_epoch.items() if len(times) > 1}
    if not per_epoch:
        raise KeyError(f'{log.path} has no training time records (beyond the first of each epoch); '
                       'lower the LoggerHook interval below the iterations of one epoch')
    epochs = sorted(per_epoch)
    means = np.array([np.mean(per_epoch[epoch]) for epoch in epochs])
    return dict(slowest_epoch=epochs[int(means.argmax())], slowest_time=float(means.max()),
                fastest_epoch=epochs[int(means.argmin())], fastest_time=float(means.min()),
                std_over_epochs=float(means.std()),
                mean_iter_time=float(np.mean(np.concatenate([per_epoch[e] for e in epochs]))))
