"""Detect objects in one image and draw them.

    ssd_npu infer demo.jpg ssd300_coco.py ssd300_coco.pth --out-file out.jpg --score-thr 0.3
    python tools/demo.py demo.jpg configs/ssd300_coco.py ssd300_coco.pth --out-file out.jpg --score-thr 0.3
"""
import argparse
from typing import List, Optional

from ssd_npu.apis import detect_and_draw, init_detector, init_onnx_detector
from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.deployment import is_onnx_file


def parse_args(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file, or an exported .onnx file')
    parser.add_argument('--out-file', default='demo_result.jpg', help='where to write the drawing')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu, cuda:0, npu:0')
    parser.add_argument('--score-thr', type=float, default=0.3, help='draw and list boxes above this score')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    args = parse_args(argv, prog)
    with friendly_errors():
        config = resolve_config(args.config)
    if is_onnx_file(args.checkpoint):
        model = init_onnx_detector(args.checkpoint, config)
    else:
        model = init_detector(config, args.checkpoint, device=args.device)
    _, lines = detect_and_draw(model, args.image, args.out_file, score_thr=args.score_thr)
    print('\n'.join(lines))
    print(f'{len(lines)} detections above {args.score_thr}; drawing written to {args.out_file}')
