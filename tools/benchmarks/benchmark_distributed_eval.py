"""Distributed COCO evaluation of a COCO-sized val set: N gloo ranks, each evaluating its share.

Writes a synthetic val set (``benchmark_coco_eval.synthetic_set``: 5,000 images, 1-15 boxes each,
``--dets-per-image`` detections each) as the metric's ``ann_file``, then starts N processes that
each feed ``CocoMetric`` the predictions of their share (DefaultSampler's layout: rank r gets
images r, r + N, ..., the shorter ranks padded with the first images) and call
``metric.evaluate``, which gathers the results on rank 0 (mmengine's ``collect_results``), scores
them there and broadcasts the numbers. Prints the seconds of ``evaluate`` (slowest rank), the
peak PSS of the tree (Linux, /proc) and of rank 0, and, with several ``--nproc`` values, whether
every run gave the numbers of the first.

    python tools/benchmarks/benchmark_distributed_eval.py --nproc 1 4
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_coco_eval import synthetic_set  # noqa: E402
from benchmark_startup import tree_pss_mib  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nproc', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--num-images', type=int, default=5000)
    parser.add_argument('--dets-per-image', type=int, default=100)
    parser.add_argument('--json', action='store_true', help='print the results as JSON')
    parser.add_argument('--child', nargs=3, metavar=('RANK', 'WORLD', 'FOLDER'), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def write_inputs(folder: Path, num_images: int, dets_per_image: int) -> None:
    """``gt.json`` (the ann_file) and ``preds.npz``: per-detection image index, xyxy box, score,
    0-based label."""
    gt, detections = synthetic_set(num_images, 80, dets_per_image, seed=0)
    (folder / 'gt.json').write_text(json.dumps(gt))
    boxes = np.array([d['bbox'] for d in detections], np.float32)
    boxes[:, 2:] += boxes[:, :2]
    np.savez(folder / 'preds.npz', image=np.array([d['image_id'] - 1 for d in detections]),
             boxes=boxes, scores=np.array([d['score'] for d in detections], np.float32),
             labels=np.array([d['category_id'] - 1 for d in detections]))


def run_rank(rank: int, world: int, folder: Path) -> None:
    import torch.distributed as dist

    from ssd_npu.engine.process_group import leave_process_group
    from ssd_npu.evaluation.metrics import CocoMetric

    dist.init_process_group('gloo', rank=rank, world_size=world)
    gt = json.loads((folder / 'gt.json').read_text())
    num_images = len(gt['images'])
    classes = [c['name'] for c in gt['categories']]
    del gt
    preds = np.load(folder / 'preds.npz')
    starts = np.searchsorted(preds['image'], np.arange(num_images + 1))
    metric = CocoMetric(ann_file=str(folder / 'gt.json'))
    metric.dataset_meta = dict(classes=classes)
    share = list(range(rank, num_images, world))
    share += list(range(len(range(0, num_images, world)) - len(share)))  # DefaultSampler's padding
    for first in range(0, len(share), 8):
        metric.process({}, [dict(img_id=i + 1, pred_instances=dict(
            bboxes=preds['boxes'][starts[i]:starts[i + 1]], scores=preds['scores'][starts[i]:starts[i + 1]],
            labels=preds['labels'][starts[i]:starts[i + 1]])) for i in share[first:first + 8]])
    dist.barrier()
    tic = time.perf_counter()
    numbers = metric.evaluate(num_images)
    seconds = time.perf_counter() - tic
    print(json.dumps(dict(rank=rank, seconds=seconds, numbers=numbers)), flush=True)
    leave_process_group()



def run_world(world: int, folder: Path) -> dict:
    from ssd_npu.utils import free_local_port

    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_local_port()))
    procs = [subprocess.Popen([sys.executable, __file__, '--child', str(rank), str(world), str(folder)],
                              env=env, stdout=subprocess.PIPE, text=True) for rank in range(world)]
    peak_tree = peak_rank0 = 0.0
    while any(p.poll() is None for p in procs):
        per_rank = [tree_pss_mib([p.pid]) for p in procs]
        peak_tree, peak_rank0 = max(peak_tree, sum(per_rank)), max(peak_rank0, per_rank[0])
        time.sleep(0.1)
    if any(p.returncode for p in procs):
        raise SystemExit(f'a rank failed: exit codes {[p.returncode for p in procs]}')
    reports = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in procs]
    return dict(nproc=world, evaluate_s=max(r['seconds'] for r in reports),
                peak_pss_mib=round(peak_tree), rank0_peak_pss_mib=round(peak_rank0),
                numbers=reports[0]['numbers'])


def main() -> None:
    args = parse_args()
    if args.child:
        rank, world, folder = args.child
        run_rank(int(rank), int(world), Path(folder))
        return
    with tempfile.TemporaryDirectory() as folder:
        write_inputs(Path(folder), args.num_images, args.dets_per_image)
        runs = [run_world(world, Path(folder)) for world in args.nproc]
    same = all(run['numbers'] == runs[0]['numbers'] for run in runs)
    if args.json:
        print(json.dumps(dict(runs=runs, same_numbers=same)))
        return
    print(f'{args.num_images} images, {args.dets_per_image} detections each')
    for run in runs:
        print(f"{run['nproc']} process(es): evaluate {run['evaluate_s']:.1f} s (slowest rank), peak PSS "
              f"{run['peak_pss_mib']} MiB in total, {run['rank0_peak_pss_mib']} MiB rank 0; "
              f"bbox_mAP {run['numbers']['coco/bbox_mAP']:.4f}")
    print('every run gave the numbers of the first' if same else 'THE RUNS DISAGREE')


if __name__ == '__main__':
    main()
