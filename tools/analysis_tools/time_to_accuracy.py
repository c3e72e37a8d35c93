"""mAP against the training clock for one or more training runs: a plot and a table.

    python tools/analysis_tools/time_to_accuracy.py WORK_DIR [WORK_DIR ...] --out PLOT.png \
        [--metric bbox_mAP] [--targets 0.3 0.5] [--names A B]

Reads each work dir's ``<timestamp>/vis_data/scalars.json`` (a resumed run's newer folders too).
The plot has the metric against training minutes (validation excluded) and against images seen, one
line per run; the table (markdown, printed) gives each run's final metric, training minutes, img/s,
the minutes and images to each target (at the first validation reaching it), and the minutes spent
validating. mmdetection's logs work too, with the clock estimated from their iteration times.
"""
import argparse
from typing import List, Optional

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.errors import UsageError
from ssd_npu.visualization.time_to_accuracy import accuracy_curve, format_table, plot_accuracy_curves


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dirs', nargs='+', help='work dirs of training runs')
    parser.add_argument('--out', required=True, help='the plot to write (PNG, PDF, SVG by extension)')
    parser.add_argument('--metric', default='bbox_mAP', help='validation metric (default bbox_mAP)')
    parser.add_argument('--targets', nargs='+', type=float, default=[0.3, 0.5], help='metric values to time')
    parser.add_argument('--names', nargs='+', help='one name per work dir (default: the folder names)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with friendly_errors():
        if args.names and len(args.names) != len(args.work_dirs):
            raise UsageError(f'--names needs {len(args.work_dirs)} names (one per work dir), '
                             f'got {len(args.names)}')
        names = args.names or [None] * len(args.work_dirs)
        try:
            curves = [accuracy_curve(work_dir, args.metric, name)
                      for work_dir, name in zip(args.work_dirs, names)]
        except (FileNotFoundError, KeyError) as error:
            raise UsageError(str(error).strip('"')) from None
        plot_accuracy_curves(curves, args.out)
    print(format_table(curves, args.targets))
    print(f'plot written to {args.out}')


if __name__ == '__main__':
    main()
