"""mAP against the training clock: how long, and how many images, a run took to reach an accuracy.

Each validation line of an ssd_npu log carries ``train_seconds`` (seconds of training iterations
so far, validation excluded), ``train_images`` and ``val_seconds`` (:class:`~ssd_npu.engine.hooks.
ThroughputHook`). For logs without them (mmdetection's), the clock is estimated from the training
lines: each logged ``time`` (mmengine's mean iteration time over the log window) times the
iterations since the previous line; images are iterations times the dumped config's batch size
(0 when the config does not say).
"""
import glob
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from .log_curves import JsonLog, load_json_log, resolve_key


@dataclass
class AccuracyCurve:
    """One run: at each validation, the metric, the training seconds and images before it."""

    name: str
    metric: str
    values: List[float] = field(default_factory=list)
    train_time: List[float] = field(default_factory=list)
    train_images: List[float] = field(default_factory=list)
    val_time: float = 0.0
    estimated: bool = False

    def time_to(self, target: float) -> Optional[float]:
        """Training seconds at the first validation with the metric >= ``target`` (None: never)."""
        return next((t for t, v in zip(self.train_time, self.values) if v >= target), None)

    def images_to(self, target: float) -> Optional[float]:
        return next((n for n, v in zip(self.train_images, self.values) if v >= target), None)

    @property
    def images_per_second(self) -> float:
        return self.train_images[-1] / self.train_time[-1] if self.train_time and self.train_time[-1] else 0.0


def work_dir_logs(work_dir: str) -> List[JsonLog]:
    """The json logs of ``work_dir`` (one per start of the run: ``<timestamp>/vis_data/scalars.json``),
    oldest first; a resumed run continues in a newer one.

    Raises:
        FileNotFoundError: the folder has none.
    """
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not paths:
        raise FileNotFoundError(f'{work_dir} has no <timestamp>/vis_data/scalars.json: is it the work dir '
                                'of a training run?')
    return [load_json_log(path) for path in paths]


def accuracy_curve(work_dir: str, metric: str = 'bbox_mAP', name: Optional[str] = None) -> AccuracyCurve:
    """The :class:`AccuracyCurve` of one work dir (see the module docstring for the clock)."""
    logs = work_dir_logs(work_dir)
    merged = JsonLog(path=work_dir, train=[r for log in logs for r in log.train],
                     val=[r for log in logs for r in log.val])
    full_key, _ = resolve_key(merged, metric)
    validations = {}
    for record in merged.val:   # a resumed run may validate a step again: the last one counts
        if full_key in record:
            validations[record['step']] = record
    curve = AccuracyCurve(name=name or osp.basename(osp.normpath(work_dir)), metric=full_key)
    exact = all('train_seconds' in record for record in validations.values())
    estimate = None if exact else _estimated_clock(merged, logs[-1].path)
    for step in sorted(validations):
        record = validations[step]
        curve.values.append(float(record[full_key]))
        if exact:
            curve.train_time.append(float(record['train_seconds']))
            curve.train_images.append(float(record['train_images']))
            curve.val_time += float(record.get('val_seconds', 0.0))
        else:
            seconds, images = estimate(step)
            curve.train_time.append(seconds)
            curve.train_images.append(images)
    curve.estimated = not exact
    return curve


def _estimated_clock(log: JsonLog, scalars_path: str):
    """``step -> (seconds, images)`` from the training lines of a log without the clock."""
    # Read from the text: a dumped config need not execute (mmengine writes float('inf') as inf).
    config_path = osp.join(osp.dirname(scalars_path), 'config.py')
    found = re.search(r'^train_dataloader\s*=\s*dict\(\s*batch_size\s*=\s*(\d+)',
                      open(config_path).read() if osp.isfile(config_path) else '', re.M)
    batch_size = int(found.group(1)) if found else 0
    seconds, previous, points = 0.0, 0, []   # (epoch, iteration, seconds so far)
    for record in log.train:
        if 'time' not in record:
            continue
        seconds += float(record['time']) * (record['iter'] - previous)
        previous = record['iter']
        points.append((record.get('epoch'), record['iter'], seconds))

    def at(step: int):
        # Epoch-based runs validate after epoch ``step``; iteration-based ones at iteration ``step``.
        done = [p for p in points if (p[0] is not None and p[0] <= step) or (p[0] is None and p[1] <= step)]
        last = done[-1] if done else (None, 0, 0.0)
        return last[2], float(last[1] * batch_size)

    return at


def format_table(curves: Sequence[AccuracyCurve], targets: Sequence[float]) -> str:
    """A markdown table: final metric, training minutes, img/s, minutes and images to each target,
    validation minutes."""
    def minutes(seconds: Optional[float]) -> str:
        return '-' if seconds is None else f'{seconds / 60:.2f}'

    header = (['run', 'final ' + (curves[0].metric if curves else 'metric'), 'train min', 'img/s']
              + [f'min to {t:g}' for t in targets] + [f'images to {t:g}' for t in targets] + ['val min'])
    rows = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for curve in curves:
        cells = [curve.name + (' (estimated clock)' if curve.estimated else ''),
                 f'{curve.values[-1]:.3f}' if curve.values else '-',
                 minutes(curve.train_time[-1] if curve.train_time else None),
                 f'{curve.images_per_second:.1f}']
        cells += [minutes(curve.time_to(t)) for t in targets]
        cells += ['-' if curve.images_to(t) is None else f'{curve.images_to(t):.0f}' for t in targets]
        cells.append('-' if curve.estimated else minutes(curve.val_time))
        rows.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def plot_accuracy_curves(curves: Sequence[AccuracyCurve], out: str) -> None:
    """Two panels, one line per run: the metric against training minutes and against images seen."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (by_time, by_images) = plt.subplots(1, 2, figsize=(11, 4))
    for curve in curves:
        label = curve.name + (' (estimated clock)' if curve.estimated else '')
        by_time.plot([t / 60 for t in curve.train_time], curve.values, marker='o', label=label)
        by_images.plot(curve.train_images, curve.values, marker='o', label=label)
    by_time.set_xlabel('training time (min, validation excluded)')
    by_images.set_xlabel('training images seen')
    for axis in (by_time, by_images):
        axis.set_ylabel(curves[0].metric if curves else 'metric')
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
