"""Inference speed (images/s) of a config in PyTorch eager, PyTorch compiled and onnxruntime.

    python tools/benchmarks/benchmark_inference.py configs/ssdlite_mobilenetv2_coco.py --batch-size 1
    python tools/benchmarks/benchmark_inference.py CONFIG CHECKPOINT --batch-size 8 --json
    python tools/benchmarks/benchmark_inference.py CONFIG model.onnx --batch-size 1 --no-compile

Every runtime runs the whole test step on the same batch of random uint8 images: normalisation,
network, decoding, NMS, top-k. Without a checkpoint the weights are the config's initialisation
(random: few candidates pass the score threshold, so NMS costs less than with trained weights).
Given an .onnx file, onnxruntime runs it; otherwise the model is exported to a temporary file.
"""
import argparse
import json


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('model', nargs='?', help='checkpoint (.pth) or exported model (.onnx)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--iters', type=int, default=10, help='timed steps per runtime (median reported)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per runtime')
    parser.add_argument('--threads', type=int, help='threads of every runtime (default: torch\'s)')
    parser.add_argument('--no-compile', action='store_true', help='skip PyTorch compiled (Inductor)')
    parser.add_argument('--json', action='store_true', help='print the results as JSON')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from inference_benchmark import benchmark_inference

    from ssd_npu.apis import init_detector
    from ssd_npu.cli.friendly_errors import friendly_errors
    from ssd_npu.deployment import is_onnx_file

    with friendly_errors():
        onnx_file = args.model if args.model and is_onnx_file(args.model) else None
        checkpoint = args.model if args.model and onnx_file is None else None
        model = init_detector(args.config, checkpoint, device='cpu')
        results = benchmark_inference(model, onnx_file, args.batch_size, args.iters, args.warmup,
                                      compiled=not args.no_compile, num_threads=args.threads)
    if args.json:
        print(json.dumps(dict(config=args.config, batch_size=args.batch_size, results=results), indent=2))
        return
    eager = results['pytorch_eager']['images_per_s']
    for name, result in results.items():
        speed, seconds = result['images_per_s'], result['seconds_per_batch']
        print(f'{name:>18s}: {speed:8.2f} img/s  {seconds * 1e3:9.1f} ms/batch  ({speed / eager:.2f}x eager)')


if __name__ == '__main__':
    main()
