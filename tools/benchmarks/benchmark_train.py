"""Training speed of a config: images/s and time per iteration split into data / forward / backward /
optimizer, first on synthetic batches (data loading excluded), then optionally with the config's
own train dataloader (data loading included).

    python tools/benchmarks/benchmark_train.py configs/ssd300_coco.py --iters 3 --batch-size 8
    python tools/benchmarks/benchmark_train.py configs/synthetic_demo.py --with-data --amp
"""
import argparse
import itertools
import json
import statistics

import torch
from mmengine.config import DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=5, help='measured iterations')
    parser.add_argument('--warmup', type=int, default=1, help='iterations run before measuring')
    parser.add_argument('--batch-size', type=int, help='default: the config\'s train batch size')
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'], help='default: npu > cuda > cpu')
    parser.add_argument('--amp', action='store_true', help='autocast + dynamic loss scaling')
    parser.add_argument('--compile', action='store_true',
                        help='compile the static regions (torch.compile, Inductor); the first step compiles')
    parser.add_argument('--compile-mode', choices=['default', 'reduce-overhead', 'max-autotune'],
                        help="torch.compile mode with --compile ('reduce-overhead': CUDA graphs)")
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of the table')
    parser.add_argument('--with-data', action='store_true',
                        help='also measure with the config\'s train dataloader (needs its dataset)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from ssd_npu.cli.friendly_errors import friendly_errors

    with friendly_errors():
        run(args)


def run(args: argparse.Namespace) -> None:
    from mmengine.runner import Runner
    from train_benchmark import peak_memory_mb, synthetic_batch, time_training

    from ssd_npu.cli import amp_optim_wrapper
    from ssd_npu.config import load_config
    from ssd_npu.setup_env import register_all_modules
    from ssd_npu.utils.device import get_device

    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    device = get_device(args.device)
    if args.amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper, opt_level=None, amp=True, device=device)
    # --amp trains in float32 on a CPU without native bfloat16 (amp_optim_wrapper says so).
    autocast = cfg.optim_wrapper.get('type') == 'AmpOptimWrapper'
    precision = cfg.optim_wrapper.get('dtype', 'float32') if autocast else 'float32'
    batch_size = args.batch_size or cfg.train_dataloader.batch_size
    cfg.train_dataloader.batch_size = batch_size
    # Our configs state `input_size` at the top; mmdetection's state it in the anchor generator.
    input_size = cfg.get('input_size', cfg.model.bbox_head.anchor_generator.get('input_size', 300))
    num_classes = cfg.model.bbox_head.num_classes
    batch = synthetic_batch(batch_size, input_size, num_classes)
    compile_options = None
    if args.compile:
        compile_options = {'mode': args.compile_mode} if args.compile_mode else {}
    rows = [('synthetic batches', time_training(cfg, lambda: itertools.repeat(batch), args.iters,
                                                args.warmup, device, compile_options))]
    if args.with_data:
        dataloader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        rows.append(('train dataloader', time_training(cfg, lambda: itertools.cycle(dataloader), args.iters,
                                                       args.warmup, device, compile_options)))
    if args.json:
        mean = statistics.mean
        print(json.dumps(dict(
            benchmark='train_step', config=args.config, device=str(device), batch=batch_size,
            input_size=input_size, amp=args.amp, precision=precision, compile=args.compile,
            compile_mode=args.compile_mode,
            threads=torch.get_num_threads(),
            img_per_s=batch_size / mean(rows[0][1].total), s_per_iter=mean(rows[0][1].total),
            first_step_s=rows[0][1].first_step,
            **({'img_per_s_with_data': batch_size / mean(rows[1][1].total)} if args.with_data else {}))))
        return
    print(f'{args.config}: device {device}, batch {batch_size}, input {input_size}x{input_size}, '
          f'{precision}{" autocast" if precision != "float32" else ""}, {args.iters} measured iterations')
    print(f'| {"source":<18} | img/s | s/iter | data | forward | backward | optimizer |')
    print('|---|---|---|---|---|---|---|')
    for name, times in rows:
        mean = statistics.mean
        print(f'| {name:<18} | {batch_size / mean(times.total):.2f} | {mean(times.total):.3f} | '
              f'{mean(times.data):.3f} | {mean(times.forward):.3f} | {mean(times.backward):.3f} | '
              f'{mean(times.optimizer):.3f} |')
    memory = peak_memory_mb(device)
    if memory is not None:
        print(f'peak device memory: {memory:.0f} MiB')


if __name__ == '__main__':
    main()
