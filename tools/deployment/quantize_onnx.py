"""Int8 (QDQ) static quantization of an exported SSD, calibrated on the config's test images.

    python tools/deployment/quantize_onnx.py CONFIG MODEL.onnx --out MODEL_INT8.onnx \
        [--calib-images 32] [--per-tensor] [--reduce-range] [--activation-type QUInt8] [--weight-type QInt8]

The network is int8; box decoding, NMS and top-k stay float32. The file keeps the fp32 file's
input, outputs and metadata: ``tools/test.py CONFIG MODEL_INT8.onnx`` evaluates it and
``tools/benchmarks/benchmark_inference.py CONFIG MODEL_INT8.onnx`` times it.
"""
import argparse

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.deployment.quantize import quantize_onnx


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help="the model's config (its test, else val, dataset calibrates)")
    parser.add_argument('model', help='fp32 .onnx file from tools/deployment/export_onnx.py')
    parser.add_argument('--out', required=True, help='the int8 .onnx file to write')
    parser.add_argument('--calib-images', type=int, default=32, help='calibration images (default 32)')
    granularity = parser.add_mutually_exclusive_group()
    granularity.add_argument('--per-channel', dest='per_channel', action='store_true', default=True,
                             help='one weight scale per output channel (default)')
    granularity.add_argument('--per-tensor', dest='per_channel', action='store_false',
                             help='one weight scale per tensor')
    parser.add_argument('--reduce-range', action='store_true', help='7-bit weights')
    parser.add_argument('--activation-type', default='QUInt8', choices=['QUInt8', 'QInt8'])
    parser.add_argument('--weight-type', default='QInt8', choices=['QUInt8', 'QInt8'])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with friendly_errors():
        path = quantize_onnx(args.config, args.model, args.out, calib_images=args.calib_images,
                             per_channel=args.per_channel, reduce_range=args.reduce_range,
                             activation_type=args.activation_type, weight_type=args.weight_type)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
