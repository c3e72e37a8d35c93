"""Ours (eager and compiled) beside mmdetection 3.3 on identical inputs, in one run, alternating.

mmdetection runs in its own venv (see ../shared/PEERS.md) through ``mmdet_peer.py``; the inputs
are saved once and loaded by both sides. Each round times ours eagerly, ours compiled and
mmdetection; the best round of each is reported, with the speed-up (mmdetection's time / ours).

    python tools/benchmarks/compare_with_mmdet.py head_loss --mmdet-python PEER/bin/python --json
    python tools/benchmarks/compare_with_mmdet.py postprocess --mmdet-python PEER/bin/python
    python tools/benchmarks/compare_with_mmdet.py train --model ssdlite --mmdet-python PEER/bin/python
"""
import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_head import build_head, loss_step, parse_gt_pad_size, with_backward  # noqa: E402
from head_inputs import make_head_inputs, median_ms  # noqa: E402
from train_benchmark import synthetic_batch  # noqa: E402

from ssd_npu.config import load_config
from ssd_npu.registry import MODELS  # noqa: E402
from ssd_npu.setup_env import register_all_modules  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODELS_TO_COMPARE = {   # ours, mmdetection's (relative to its package), input size
    'ssd300': ('configs/ssd300_coco.py', '.mim/configs/ssd/ssd300_coco.py', 300),
    'ssdlite': ('configs/ssdlite_mobilenetv2_coco.py',
                '.mim/configs/ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py', 320),
}
# COCO-like: 640x480 originals resized to the network input.
META = dict(img_shape=(300, 300), pad_shape=(300, 300), batch_input_shape=(300, 300), ori_shape=(480, 640),
            scale_factor=(300 / 640, 300 / 480))


def ours_head_loss(args, inputs) -> Dict[str, Callable[[], None]]:
    steps = {'ours eager': with_backward(loss_step(build_head(args.gt_pad_size, 'cpu'), inputs, 'cpu'), True)}
    if args.compile:
        steps['ours compiled'] = with_backward(loss_step(build_head(100, 'cpu'), inputs, 'cpu', {}), True)
    return steps


def ours_postprocess(args, inputs) -> Dict[str, Callable[[], None]]:
    from benchmark_postprocess import SSD300_CODER, SSD300_TEST_CFG

    from ssd_npu.models.dense_heads import SSDHead
    head = SSDHead(num_classes=80, bbox_coder=SSD300_CODER, test_cfg=SSD300_TEST_CFG).eval()
    metas = inputs['metas']

    def predict(batch_detections) -> Callable[[], None]:
        @torch.no_grad()
        def step() -> None:
            shapes, inv_scale = head.shape_tensors(metas, True, torch.device('cpu'))
            cls, reg = inputs['cls_scores'], inputs['bbox_preds']
            dets = batch_detections(cls, reg, shapes, inv_scale)
            step.result = head.final_detections(dets, head.outputs_of_image(cls, reg), shapes, inv_scale)
        return step
    steps = {'ours eager': predict(head.batch_detections)}
    if args.compile:
        steps['ours compiled'] = predict(torch.compile(head.batch_detections, fullgraph=True, dynamic=False))
    return steps


def ours_train(args, inputs, config: str) -> Dict[str, Callable[[], None]]:
    register_all_modules()
    cfg = load_config(str(REPO / config))
    cfg.model.backbone.init_cfg = None
    samples = synthetic_batch(len(inputs['images']), inputs['images'][0].shape[-1], 80)
    for sample, boxes, labels in zip(samples['data_samples'], inputs['boxes'], inputs['labels']):
        sample.gt_instances = InstanceData(bboxes=boxes, labels=labels)
    data = dict(inputs=list(inputs['images']), data_samples=samples['data_samples'])
    steps = {}
    for name, compiled in (('ours eager', False), ('ours compiled', True)):
        if compiled and not args.compile:
            continue
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).train()
        if compiled:
            model.compile_graphs()
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4))
        steps[name] = (lambda model=model, optim=optim: model.train_step(data, optim))
    return steps


def make_inputs(args) -> dict:
    if args.task in ('head_loss', 'postprocess'):
        inputs = make_head_inputs(args.batch, 7, trained_like=args.task == 'postprocess')
        return dict(inputs, metas=[META] * args.batch)
    size = MODELS_TO_COMPARE[args.model][2]
    batch = synthetic_batch(args.batch, size, 80)
    meta = dict(META, img_shape=(size, size), pad_shape=(size, size), batch_input_shape=(size, size),
                scale_factor=(size / 640, size / 480))
    samples = batch['data_samples']
    return dict(images=torch.stack(batch['inputs']), boxes=[s.gt_instances.bboxes for s in samples],
                labels=[s.gt_instances.labels for s in samples], metas=[meta] * args.batch)


def run_peer(args, inputs_file: str, mmdet_config: Optional[str]) -> float:
    command = [args.mmdet_python, str(REPO / 'tools/benchmarks/mmdet_peer.py'), args.task, inputs_file,
               '--shim-dir', args.shim_dir, '--iters', str(args.iters)]
    if mmdet_config:
        command += ['--config', mmdet_config]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f'mmdetection peer failed:\n{result.stderr[-3000:]}')
    return json.loads(result.stdout.strip().splitlines()[-1])['ms']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('task', choices=['head_loss', 'postprocess', 'train'])
    parser.add_argument('--mmdet-python', required=True, help="python of mmdetection 3.3's venv")
    parser.add_argument('--shim-dir', default=str(REPO.parent / 'shared' / 'peers'))
    parser.add_argument('--model', choices=sorted(MODELS_TO_COMPARE), default='ssdlite', help='for train')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--gt-pad-size', type=parse_gt_pad_size, default='100',
                        help='ours eager: an int or comma-separated buckets (compiled: 100)')
    parser.add_argument('--compile', action='store_true', help='also ours compiled (Inductor)')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()

    inputs = make_inputs(args)
    mmdet_config = None
    if args.task == 'train':
        ours_config, peer_config, _ = MODELS_TO_COMPARE[args.model]
        where = 'import mmdet, os; print(os.path.dirname(mmdet.__file__))'
        package = subprocess.run([args.mmdet_python, '-c', where], capture_output=True, text=True,
                                 check=True).stdout.strip()
        mmdet_config = str(Path(package) / peer_config)
        steps = ours_train(args, inputs, ours_config)
    else:
        steps = ours_head_loss(args, inputs) if args.task == 'head_loss' else ours_postprocess(args, inputs)
    first_call_s = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        first_call_s[name] = time.perf_counter() - start
    best: Dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        inputs_file = str(Path(folder) / 'inputs.pt')
        torch.save(inputs, inputs_file)
        for _ in range(args.rounds):
            for name, step in itertools.chain(steps.items(), [('mmdetection 3.3', None)]):
                if step is None:
                    ms = run_peer(args, inputs_file, mmdet_config)
                else:
                    ms = median_ms(step, args.iters)
                best[name] = min(ms, best.get(name, float('inf')))
    result = dict(benchmark=f'{args.task}' + (f'_{args.model}' if args.task == 'train' else ''),
                  device='cpu', batch=args.batch, threads=torch.get_num_threads(), rounds=args.rounds,
                  ms=best, speed_up={name: best['mmdetection 3.3'] / ms for name, ms in best.items()},
                  first_call_s=first_call_s)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['benchmark']}: batch {args.batch}, best of {args.rounds} alternating rounds, "
          f"{result['threads']} threads")
    for name, ms in best.items():
        print(f'{name:<18} {ms:10.1f} ms   speed-up vs mmdetection {result["speed_up"][name]:.2f}x   '
              f'first call {first_call_s.get(name, float("nan")):.1f} s')


if __name__ == '__main__':
    main()
