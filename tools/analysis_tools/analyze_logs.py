"""Plot loss / metric curves from mmengine json logs, or summarise the training iteration time.

    python tools/analysis_tools/analyze_logs.py plot_curve LOG.json [LOG2.json] --keys loss bbox_mAP \
        --out curve.png [--legend run1 run2] [--title ...]
    python tools/analysis_tools/analyze_logs.py cal_train_time LOG.json [--include-outliers]

LOG.json is ``<work_dir>/<timestamp>/vis_data/<timestamp>.json``. A metric may be named without its
prefix (``bbox_mAP`` finds ``coco/bbox_mAP``).
"""
import argparse
from typing import List, Optional

from ssd_npu.visualization.log_curves import load_json_logs, plot_curves, train_time_stats


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = parser.add_subparsers(dest='task', required=True)
    plot = tasks.add_parser('plot_curve', help='plot curves of some keys')
    plot.add_argument('json_logs', nargs='+', help='mmengine json logs')
    plot.add_argument('--keys', nargs='+', default=['bbox_mAP'], help='keys to plot (one subplot each)')
    plot.add_argument('--legend', nargs='+', help='one name per log, or per log and key')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--backend', help='matplotlib backend (e.g. Agg)')
    plot.add_argument('--out', help='image to write; without it the figure is shown')
    timing = tasks.add_parser('cal_train_time', help='seconds per training iteration')
    timing.add_argument('json_logs', nargs='+', help='mmengine json logs')
    timing.add_argument('--include-outliers', action='store_true',
                        help="keep each epoch's first interval (dataloader start-up)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    logs = load_json_logs(args.json_logs)
    if args.task == 'cal_train_time':
        for log in logs:
            stats = train_time_stats(log, include_outliers=args.include_outliers)
            print(f'{"-" * 5} train time of {log.path} {"-" * 5}')
            for which in ('slowest', 'fastest'):
                print(f'{which} epoch {stats[which + "_epoch"]}, average time is '
                      f'{stats[which + "_time"]:.4f} s/iter')
            print(f'time std over epochs is {stats["std_over_epochs"]:.4f}')
            print(f'average iter time: {stats["mean_iter_time"]:.4f} s/iter\n')
        return
    import matplotlib.pyplot as plt
    if args.backend is not None:
        plt.switch_backend(args.backend)
    plot_curves(logs, args.keys, out=args.out, legend=args.legend, title=args.title)
    if args.out is None:
        plt.show()
    else:
        print(f'saved the curves to {args.out}')


if __name__ == '__main__':
    main()
