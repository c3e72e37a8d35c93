"""Export a trained SSD to one ONNX file with its post-processing inside, as ``ssd_npu export``.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out model.onnx \
        [--batch-size N | --dynamic-batch] [--opset 18] [--score-thr T] [--max-per-img K] [--simplify]

``python tools/deployment/export_onnx.py -h`` describes the file's inputs, outputs and metadata
(:mod:`ssd_npu.cli.commands.export`).
"""
from ssd_npu.cli.commands.export import main, parse_args  # noqa: F401  (parse_args: the flags)

if __name__ == '__main__':
    main()
