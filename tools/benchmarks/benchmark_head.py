"""Time SSDHead's batched loss against the per-image reference implementation.

Both compute the same thing from fixed head outputs: anchor assignment,
target encoding, hard-negative mining, softmax CE and SmoothL1 (SSD300:
8732 anchors, 81 classes). Besides milliseconds, the table counts per
iteration the leaf aten ops that compute something (an estimate of kernel
launches on a GPU/NPU; views and allocations excluded) and the ops that make
the host wait for the device (``nonzero``, ``.item()``). On a CPU neither
costs much, so there the per-image loop is not at a disadvantage; on an
accelerator those two counts dominate the time of the per-image version.

    python tools/benchmarks/benchmark_head.py --batch 8 --gts 7 --iters 20 [--device cuda] [--backward]
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
from mmengine.structures import InstanceData
from torch.profiler import profile

import ssd_npu.models  # noqa: F401  (registers the types)
from ssd_npu.models.dense_heads import SSDHead
from ssd_npu.models.dense_heads.ssd_head_reference import ssd_loss_reference

SSD300_FEATMAPS = [38, 19, 10, 5, 3, 1]
SSD300_TRAIN_CFG = dict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., ignore_iof_thr=-1,
                  gt_max_assign_all=False),
    sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1, neg_pos_ratio=3)
HOST_SYNC_OPS = {'aten::nonzero', 'aten::_local_scalar_dense'}
METADATA_OPS = {'aten::as_strided', 'aten::as_strided_', 'aten::view', 'aten::_reshape_alias',
                'aten::empty', 'aten::empty_strided', 'aten::resize_', 'aten::lift_fresh', 'aten::detach_',
                'aten::unsqueeze_', 'aten::squeeze_', 'aten::alias', 'aten::_unsafe_view', 'aten::set_'}


def build_head(gt_pad_size: int, device: str) -> SSDHead:
    coder = dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[.1, .1, .2, .2])
    return SSDHead(num_classes=80, bbox_coder=coder,
                   train_cfg=dict(SSD300_TRAIN_CFG, gt_pad_size=gt_pad_size)).to(device)


def make_inputs(head: SSDHead, batch: int, gts: int, device: str, seed: int = 0):
    """Random head outputs and 300x300 GT with about ``gts`` boxes per image (gts - 3 ... gts + 3)."""
    g = torch.Generator().manual_seed(seed)
    cls = [torch.randn(batch, a * 81, s, s, generator=g).to(device).requires_grad_()
           for a, s in zip(head.num_base_priors, SSD300_FEATMAPS)]
    reg = [torch.randn(batch, a * 4, s, s, generator=g).to(device).requires_grad_()
           for a, s in zip(head.num_base_priors, SSD300_FEATMAPS)]
    instances = []
    for _ in range(batch):
        n = int(torch.randint(max(gts - 3, 0), gts + 4, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 260
        wh = 10 + torch.rand(n, 2, generator=g) * 150
        instances.append(InstanceData(bboxes=torch.cat([xy, (xy + wh).clamp(max=300)], 1).to(device),
                                      labels=torch.randint(0, 80, (n,), generator=g).to(device)))
    return cls, reg, instances


def step_fn(loss_fn: Callable[[], Dict[str, torch.Tensor]], backward: bool) -> Callable[[], None]:
    def step() -> None:
        losses = loss_fn()
        if backward:
            sum(losses.values()).backward()
    return step


def median_ms(step: Callable[[], None], iters: int, device: str) -> float:
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    for _ in range(3):
        step()
    times: List[float] = []
    for _ in range(iters):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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
    args = parser.parse_args()

    reference_head = build_head(100, args.device)
    cls, reg, gts = make_inputs(reference_head, args.batch, args.gts, args.device)
    rows = [('per-image reference', reference_head,
             lambda: ssd_loss_reference(reference_head, cls, reg, gts))]
    for pad in (100, 0):
        head = build_head(pad, args.device)
        rows.append((f'batched, gt_pad_size={pad}', head, lambda head=head: head.loss_by_feat(cls, reg, gts)))

    expected = rows[0][2]()
    print(f'device {args.device}, batch {args.batch}, {sum(len(g) for g in gts)} GT boxes, 8732 anchors, '
          f'81 classes, torch threads {torch.get_num_threads()}, backward {args.backward}')
    header = f"{'implementation':<26}{'ms/iter':>10}{'speed-up':>10}{'kernels':>10}{'host syncs':>12}" \
             f"{'max |loss diff|':>17}"
    print(header)
    print('-' * len(header))
    reference_ms = None
    for name, _, loss_fn in rows:
        losses = loss_fn()
        diff = max(abs(losses[k].item() - expected[k].item()) for k in expected)
        step = step_fn(loss_fn, args.backward)
        ms = median_ms(step, args.iters, args.device)
        reference_ms = reference_ms or ms
        ops, syncs = op_counts(step)
        print(f'{name:<26}{ms:>10.2f}{reference_ms / ms:>9.2f}x{ops:>10d}{syncs:>12d}{diff:>17.2e}')


if __name__ == '__main__':
    main()
