"""Export a trained SSD to one ONNX file with its post-processing inside.

    ssd_npu export CONFIG CHECKPOINT --out model.onnx \
        [--batch-size N | --dynamic-batch] [--opset 18] [--score-thr T] [--max-per-img K] [--simplify]
    (= python tools/deployment/export_onnx.py with the same arguments)

The file holds normalisation, the network, box decoding, score thresholding, per-class NMS
(ONNX NonMaxSuppression) and the top-k; a deployment needs no Python post-processing.

  input   images    float32 [B, 3, H, W], BGR, 0..255, already resized to the model's input size
                    (what the config's test pipeline gives before normalisation)
  outputs boxes     float32 [B, K, 4], xyxy, input pixels
          scores    float32 [B, K]
          labels    int64   [B, K], 0-based
          num_dets  int64   [B]; rows past num_dets are padding (zeros); K = max_per_img

The file's metadata holds the class names ("classes", JSON) and "input_size" ("H,W").
"""
import argparse
from typing import List, Optional

from ssd_npu.apis import init_detector
from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.deployment import export_onnx


def parse_args(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (loaded safely: no pickled code runs)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument('--batch-size', type=int, default=1, help='fixed batch size of the file (default 1)')
    batch.add_argument('--dynamic-batch', action='store_true', help='one file for any batch size')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset (18 or newer; default 18)')
    parser.add_argument('--score-thr', type=float, help="override the config's test_cfg.score_thr")
    parser.add_argument('--max-per-img', type=int, help="override test_cfg.max_per_img (K)")
    parser.add_argument('--simplify', action='store_true', help='simplify the graph with onnxslim')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    args = parse_args(argv, prog)
    with friendly_errors():
        model = init_detector(resolve_config(args.config), args.checkpoint, device='cpu')
        path = export_onnx(model, args.out, batch_size=args.batch_size, dynamic_batch=args.dynamic_batch,
                           opset=args.opset, score_thr=args.score_thr, max_per_img=args.max_per_img,
                           simplify=args.simplify)
    print(f'wrote {path} (checked with onnx.checker)')
