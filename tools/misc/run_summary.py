"""The summary lines of a finished training run, as the Ascend ModelZoo's tooling reads them from the log.

    python tools/misc/run_summary.py WORK_DIR [--duration SECONDS]

run_1p.sh and run_8p.sh print them after a training that succeeded, in the old port's wording:

    Final Performance images/sec : X    the last logged img_per_s_all (all devices; mmengine averages it
                                        over the logger's window, so it is the speed of the last iterations)
    E2E Training Duration sec : Y       --duration: the run script's wall clock around tools/train.py
    Final Train Accuracy : Z            the last validation's coco/bbox_mAP (or its first metric)

They come from the JSON scalars mmengine writes, WORK_DIR/<timestamp>/vis_data/scalars.json, of the
newest run in WORK_DIR. A figure the run did not log (no validation, say) has no line. The standard
library only: it starts in a moment and needs no device.
"""
import argparse
import json
from pathlib import Path
from typing import List, Optional

THROUGHPUT_KEY = 'img_per_s_all'  # ssd_npu's ThroughputHook: images/s of all devices together
ACCURACY_KEY = 'coco/bbox_mAP'


def newest_scalars(work_dir: Path) -> Optional[Path]:
    """The ``scalars.json`` written last under ``work_dir/<timestamp>/vis_data/``, or None."""
    found = list(work_dir.glob('*/vis_data/scalars.json'))
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def read_records(path: Path) -> List[dict]:
    """The JSON records of a scalars file, one a line; a line cut short (a killed run) is skipped."""
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def final_throughput(records: List[dict]) -> Optional[float]:
    """The last training record's images/s of all devices."""
    values = [record[THROUGHPUT_KEY] for record in records if THROUGHPUT_KEY in record]
    return float(values[-1]) if values else None


def final_accuracy(records: List[dict]) -> Optional[float]:
    """``coco/bbox_mAP`` of the last validation, else its first metric (``prefix/name``: training scalars
    have no prefix)."""
    for record in reversed(records):
        metrics = [key for key in record if '/' in key]
        if metrics:
            return float(record[ACCURACY_KEY if ACCURACY_KEY in record else metrics[0]])
    return None


def summary_lines(work_dir: Path, duration: Optional[float] = None) -> List[str]:
    """The summary lines of the newest run in ``work_dir``, those whose figures were logged."""
    scalars = newest_scalars(work_dir)
    records = read_records(scalars) if scalars is not None else []
    throughput, accuracy = final_throughput(records), final_accuracy(records)
    lines = []
    if throughput is not None:
        lines.append(f'Final Performance images/sec : {throughput:.2f}')
    if duration is not None:
        lines.append(f'E2E Training Duration sec : {round(duration)}')
    if accuracy is not None:
        lines.append(f'Final Train Accuracy : {accuracy:.4f}')
    return lines


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', type=Path, help="the run's --work-dir")
    parser.add_argument('--duration', type=float, help='seconds the training command took')
    args = parser.parse_args(argv)
    if newest_scalars(args.work_dir) is None:
        print(f'(no {args.work_dir}/<timestamp>/vis_data/scalars.json: no logged figures to summarize)')
    for line in summary_lines(args.work_dir, args.duration):
        print(line)


if __name__ == '__main__':
    main()
