"""Time SSDHead's loss (SSD300: 8732 anchors, 81 classes) eagerly, compiled, and against the per-image oracle.

The loss takes fixed head outputs and per-image ground truth: anchor assignment, target
encoding, hard-negative mining, softmax CE and SmoothL1, with ``--backward`` the backward pass
too. Ours pads the ground truth to ``--gt-pad-size`` (as the data preprocessor does in
training; the padding is timed) and computes the batch at once; ``--compile`` runs the
static part through ``torch.compile(fullgraph=True)``. The per-image oracle (tests/) follows
mmdetection's algorithm. Besides milliseconds, the table counts the leaf aten ops that compute
something (about the kernel launches on a GPU/NPU) and the ops that make the host wait
(``nonzero``, ``.item()``).

    python tools/benchmarks/benchmark_head.py --batch 8 --gts 7 --backward [--compile] [--json]
"""
import argparse
import json
import time
from typing import Callable, Dict, Tuple

import torch
from head_inputs import make_head_inputs, median_ms  # noqa: E402
from mmengine.structures import InstanceData
from torch.profiler import profile

import ssd_npu.models  # noqa: E402,F401  (registers the types)
from ssd_npu.models.dense_heads import SSDHead  # noqa: E402
from ssd_npu.testing.ssd_head_oracle import ssd_loss_reference  # noqa: E402

SSD300_TRAIN_CFG = dict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., ignore_iof_thr=-1,
                  gt_max_assign_all=False),
    sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1, neg_pos_ratio=3)
SSD300_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[.1, .1, .2, .2])
HOST_SYNC_OPS = {'aten::nonzero', 'aten::_local_scalar_dense'}
METADATA_OPS = {'aten::as_strided', 'aten::as_strided_', 'aten::view', 'aten::_reshape_alias',
                'aten::empty', 'aten::empty_strided', 'aten::resize_', 'aten::lift_fresh', 'aten::detach_',
                'aten::unsqueeze_', 'aten::squeeze_', 'aten::alias', 'aten::_unsafe_view', 'aten::set_'}


def parse_gt_pad_size(text: str):
    values = [int(v) for v in text.split(',')]
    return values[0] if len(values) == 1 else values


def build_head(gt_pad_size, device: str) -> SSDHead:
    return SSDHead(num_classes=80, bbox_coder=SSD300_CODER,
                   train_cfg=dict(SSD300_TRAIN_CFG, gt_pad_size=gt_pad_size)).to(device)


def loss_step(head: SSDHead, inputs: dict, device: str, compile_options=None) -> Callable[[], Dict]:
    """One call of our loss, from per-image ground truth to the normalised per-image losses."""
    cls = [c.to(device).requires_grad_() for c in inputs['cls_scores']]
    reg = [r.to(device).requires_grad_() for r in inputs['bbox_preds']]
    gts = [InstanceData(bboxes=b, labels=lab) for b, lab in zip(inputs['boxes'], inputs['labels'])]
    loss_sums = head.loss_sums
    if compile_options is not None:
        loss_sums = torch.compile(loss_sums, fullgraph=True, dynamic=False, **compile_options)

    def step() -> Dict:
        gt = head.gt_padding.pad(gts, device)
        return head.normalise_losses(*loss_sums(cls, reg, *gt))
    return step


def with_backward(loss_fn: Callable[[], Dict], backward: bool) -> Callable[[], None]:
    def step() -> None:
        losses = loss_fn()
        if backward:
            # Ours returns per-image lists (as mmdetection), the oracle scalars.
            sum(sum(value) if isinstance(value, list) else value for value in losses.values()).backward()
    return step


def op_counts(step: Callable[[], None]) -> Tuple[int, int]:
    """(compute ops, host-synchronising ops) of one call."""
    with profile() as prof:
        step()
    events = [e for e in prof.events() if e.name.startswith('aten::')]
    compute = [e for e in events if not e.cpu_children and e.name not in METADATA_OPS]
    return len(compute), sum(e.name in HOST_SYNC_OPS for e in events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--gts', type=int, default=7, help='mean GT boxes per image')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backward', action='store_true', help='time the loss backward pass too')
    parser.add_argument('--gt-pad-size', type=parse_gt_pad_size, default='100',
                        help='ours: boxes per image after padding, or comma-separated buckets (default 100)')
    parser.add_argument('--compile', action='store_true', help='ours through torch.compile (Inductor)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of the table')
    args = parser.parse_args()

    inputs = make_head_inputs(args.batch, args.gts)
    head = build_head(args.gt_pad_size, args.device)
    ours = loss_step(head, inputs, args.device, {} if args.compile else None)
    start = time.perf_counter()
    ours()
    first_call_s = time.perf_counter() - start
    oracle_cls = [c.to(args.device).requires_grad_() for c in inputs['cls_scores']]
    oracle_reg = [r.to(args.device).requires_grad_() for r in inputs['bbox_preds']]
    gts = [InstanceData(bboxes=b.to(args.device), labels=lab.to(args.device))
           for b, lab in zip(inputs['boxes'], inputs['labels'])]

    def reference() -> Dict:
        return ssd_loss_reference(head, oracle_cls, oracle_reg, gts)

    expected = reference()
    got = {key: sum(values) for key, values in ours().items()}
    diff = max(abs(got[k].item() - expected[k].item()) for k in expected)

    rows = {'per-image oracle (mmdetection algorithm)': reference, 'ours': ours}
    results = {}
    for name, loss_fn in rows.items():
        step = with_backward(loss_fn, args.backward)
        results[name] = (median_ms(step, args.iters), *(op_counts(step) if not args.compile or name != 'ours'
                                                        else (-1, -1)))
    settings = dict(benchmark='head_loss', device=args.device, batch=args.batch, gts=args.gts,
                    backward=args.backward, gt_pad_size=args.gt_pad_size, compile=args.compile,
                    threads=torch.get_num_threads())
    if args.json:
        print(json.dumps(dict(settings, ms=results['ours'][0], oracle_ms=results[next(iter(rows))][0],
                              first_call_s=first_call_s, max_abs_loss_diff=diff)))
        return
    print(', '.join(f'{k} {v}' for k, v in settings.items()) + f'; first call {first_call_s:.1f} s')
    header = f"{'implementation':<42}{'ms/iter':>10}{'kernels':>10}{'host syncs':>12}"
    print(header)
    print('-' * len(header))
    for name, (ms, ops, syncs) in results.items():
        print(f'{name:<42}{ms:>10.2f}{ops:>10d}{syncs:>12d}')
    print(f'max |loss difference| ours vs oracle: {diff:.2e}')


if __name__ == '__main__':
    main()
