"""Time SSD300's test-time post-processing of a batch (softmax, per-level top-k, decode, NMS, top-k).

Ours post-processes the whole batch at once with static shapes; ``--compile`` runs that through
``torch.compile(fullgraph=True)``. The per-image oracle (tests/) is mmdetection's algorithm with
torchvision's NMS kernel. The logits are biased toward background as a trained SSD300's are
(``--untrained`` leaves them uniform: almost every pair passes the score threshold).

    python tools/benchmarks/benchmark_postprocess.py --batch 8 [--compile] [--json]
"""
import argparse
import json
import time

import torch
from head_inputs import make_head_inputs, median_ms  # noqa: E402

import ssd_npu.models  # noqa: E402,F401  (registers the types)
from ssd_npu.models.dense_heads import SSDHead  # noqa: E402
from ssd_npu.testing.ssd_head_oracle import detections_reference  # noqa: E402

SSD300_TEST_CFG = dict(nms_pre=1000, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0,
                       score_thr=0.02, max_per_img=200)
SSD300_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[.1, .1, .2, .2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--untrained', action='store_true', help='uniform random logits')
    parser.add_argument('--compile', action='store_true', help='ours through torch.compile (Inductor)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of the table')
    args = parser.parse_args()

    head = SSDHead(num_classes=80, bbox_coder=SSD300_CODER, test_cfg=SSD300_TEST_CFG).to(args.device).eval()
    inputs = make_head_inputs(args.batch, 7, trained_like=not args.untrained)
    cls = [c.to(args.device) for c in inputs['cls_scores']]
    reg = [r.to(args.device) for r in inputs['bbox_preds']]
    # Original images 480x640 resized to 300x300, as in COCO.
    metas = [dict(img_shape=(300, 300), scale_factor=(300 / 640, 300 / 480))] * args.batch
    batch_detections = head.batch_detections
    if args.compile:
        batch_detections = torch.compile(batch_detections, fullgraph=True, dynamic=False)

    @torch.no_grad()
    def ours() -> list:
        # The head's inference path (SSDHead.detections), with the static part compiled or eager.
        return head.detections(metas, True, torch.device(args.device),
                               lambda img_shapes, inv_scale_factors: batch_detections(
                                   cls, reg, img_shapes, inv_scale_factors),
                               head.outputs_of_image(cls, reg))

    @torch.no_grad()
    def oracle() -> list:
        return detections_reference(head, cls, reg, metas, rescale=True)

    start = time.perf_counter()
    got = ours()
    first_call_s = time.perf_counter() - start
    expected = oracle()
    same = all(len(g) == len(e[0]) and torch.equal(g.labels, e[2])
               and torch.allclose(g.bboxes, e[0], atol=1e-3) for g, e in zip(got, expected))
    ms, oracle_ms = median_ms(ours, args.iters), median_ms(oracle, args.iters)
    settings = dict(benchmark='postprocess', device=args.device, batch=args.batch, compile=args.compile,
                    trained_like=not args.untrained, threads=torch.get_num_threads(),
                    detections_per_image=[len(g) for g in got])
    if args.json:
        print(json.dumps(dict(settings, ms=ms, oracle_ms=oracle_ms, first_call_s=first_call_s,
                              equal_to_oracle=same)))
        return
    print(', '.join(f'{k} {v}' for k, v in settings.items()) + f'; first call {first_call_s:.1f} s')
    print(f'ours {ms:.1f} ms, per-image oracle (mmdetection algorithm) {oracle_ms:.1f} ms, '
          f'speed-up {oracle_ms / ms:.2f}x; same detections: {same}')


if __name__ == '__main__':
    main()
