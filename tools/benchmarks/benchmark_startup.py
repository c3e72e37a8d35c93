"""Start-up time and host memory of N processes building a COCO-sized train set, as N ranks do.

Starts ``--nproc`` processes at once (each what one rank does before training: import, read
the config, build the train dataset and its dataloader with ``--workers`` workers, load
``--batches`` batches) and samples the proportional set size (PSS) of every process they
start, dataloader workers included, every 0.2 s. Prints per rank the seconds to the dataset
and to the first batch (from the launch, imports included), and for the whole tree the peak PSS,
the PSS once every process has its first batch (each waits for that sample) and after the
last. Linux only (reads /proc).

    python tools/misc/make_coco_sized_annotations.py --out /tmp/coco_sized
    python tools/benchmarks/benchmark_startup.py configs/ssd300_coco.py /tmp/coco_sized --nproc 4
    # mmdetection 3.3 in its own venv (../shared/PEERS.md), on the same files:
    MMDET=PEER/lib/python3.11/site-packages/mmdet/.mim
    python tools/benchmarks/benchmark_startup.py $MMDET/configs/ssd/ssd300_coco.py /tmp/coco_sized \
        --nproc 4 --python PEER/bin/python --mmdet-shim-dir ../shared/peers

Our datasets parse once per machine (the annotation cache); ``--fresh-cache`` starts from an
empty cache folder, so the first run's parse is measured, not a reuse.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('data_root', help='a folder laid out as COCO 2017 (annotations/, train2017/)')
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--workers', type=int, default=4, help='dataloader workers per process')
    parser.add_argument('--batches', type=int, default=300)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--python', default=sys.executable,
                        help="the processes' interpreter (mmdetection's venv for its numbers)")
    parser.add_argument('--mmdet-shim-dir', help='run mmdetection: the folder of mmdet_shim.py')
    parser.add_argument('--fresh-cache', action='store_true',
                        help='our annotation cache in a new empty folder (a first run)')
    parser.add_argument('--json', action='store_true', help='print the result as JSON')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--launched-at', type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- one rank
def _leaf_dataset(dataset_cfg):
    while 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def run_child(args: argparse.Namespace) -> None:
    if args.mmdet_shim_dir:
        sys.path.insert(0, args.mmdet_shim_dir)
        import mmdet_shim  # noqa: F401  (mmdetection on mmcv-lite)
        from mmdet.utils import register_all_modules
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
    else:
        from ssd_npu.config import load_config
        from ssd_npu.setup_env import register_all_modules
        cfg = load_config(args.config)
    from mmengine.runner import Runner
    register_all_modules()
    loader_cfg = cfg.train_dataloader
    loader_cfg.update(batch_size=args.batch_size, num_workers=args.workers,
                      persistent_workers=args.workers > 0, pin_memory=False)
    _leaf_dataset(loader_cfg.dataset).update(
        data_root=args.data_root, ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'))

    def report(phase: str) -> None:
        print(json.dumps(dict(phase=phase, seconds=time.time() - args.launched_at)), flush=True)

    loader = Runner.build_dataloader(loader_cfg, seed=0)
    report('dataset')
    batches = iter(loader)
    next(batches)
    report('first_batch')
    sys.stdin.readline()  # the parent samples the tree's memory after every rank's first batch
    for _ in range(args.batches - 1):
        next(batches)
    report('last_batch')
    sys.stdin.readline()  # the parent samples the memory of the finished tree, then lets go


# ----------------------------------------------------------------------------- the parent
def _descendants(roots: List[int]) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], list(roots)
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def tree_pss_mib(roots: List[int]) -> float:
    """The summed PSS of ``roots`` and everything they started, in MiB."""
    total_kib = 0
    for pid in _descendants(roots):
        try:
            with open(f'/proc/{pid}/smaps_rollup') as f:
                total_kib += sum(int(line.split()[1]) for line in f if line.startswith('Pss:'))
        except OSError:
            continue  # a process that just ended
    return total_kib / 1024


def run_parent(args: argparse.Namespace) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    if args.fresh_cache:
        env['SSD_NPU_CACHE_DIR'] = tempfile.mkdtemp(prefix='ssd_npu_startup_')
    command = [args.python, str(Path(__file__).resolve()), args.config, args.data_root, '--child',
               '--workers', str(args.workers), '--batches', str(args.batches),
               '--batch-size', str(args.batch_size)]
    if args.mmdet_shim_dir:
        command += ['--mmdet-shim-dir', args.mmdet_shim_dir]
    launched_at = time.time()
    procs = [subprocess.Popen(command + ['--launched-at', str(launched_at)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(args.nproc)]
    roots = [p.pid for p in procs]
    phases: List[Dict[str, float]] = [{} for _ in procs]
    memory = dict(peak=0.0)

    def read(rank: int) -> None:
        for line in procs[rank].stdout:
            if line.startswith('{"phase"'):
                event = json.loads(line)
                phases[rank][event['phase']] = event['seconds']

    readers = [threading.Thread(target=read, args=(rank,), daemon=True) for rank in range(args.nproc)]
    for reader in readers:
        reader.start()
    while not all('last_batch' in p for p in phases):
        if any(p.poll() not in (None, 0) for p in procs):
            raise SystemExit(f'a process failed: exit codes {[p.poll() for p in procs]}')
        pss = tree_pss_mib(roots)
        memory['peak'] = max(memory['peak'], pss)
        if 'after_first_batch' not in memory and all('first_batch' in p for p in phases):
            memory['after_first_batch'] = tree_pss_mib(roots)
            for proc in procs:
                proc.stdin.write('\n')
                proc.stdin.flush()
        time.sleep(0.2)
    memory['after_last_batch'] = tree_pss_mib(roots)
    memory['peak'] = max(memory['peak'], memory['after_last_batch'])
    for proc in procs:
        proc.stdin.close()
        proc.wait()
    return dict(nproc=args.nproc, workers=args.workers, batches=args.batches,
                dataset_s=max(p['dataset'] for p in phases),
                first_batch_s=max(p['first_batch'] for p in phases),
                last_batch_s=max(p['last_batch'] for p in phases),
                pss_mib={k: round(v) for k, v in memory.items()})


def main() -> None:
    args = parse_args()
    if args.child:
        run_child(args)
        return
    result = run_parent(args)
    if args.json:
        print(json.dumps(result))
        return
    pss = result['pss_mib']
    print(f"{result['nproc']} process(es), {result['workers']} workers each: dataset built after "
          f"{result['dataset_s']:.1f} s, first batch after {result['first_batch_s']:.1f} s, "
          f"{result['batches']} batches after {result['last_batch_s']:.1f} s (slowest rank); PSS of "
          f"the tree: peak {pss['peak']} MiB, {pss['after_first_batch']} MiB after the first "
          f"batch, {pss['after_last_batch']} MiB after the last")


if __name__ == '__main__':
    main()
