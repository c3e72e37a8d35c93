"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmdetection's flags)."""
import argparse

from ssd_npu.deployment import is_onnx_file, setup_onnx_test_config
from ssd_npu.engine.command_line import (
    add_common_arguments,
    add_legacy_test_arguments,
    build_runner,
    setup_test_config,
    translate_legacy_test_flags,
)
from ssd_npu.engine.friendly_errors import friendly_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) an SSD detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (loaded safely: no pickled code runs), '
                        'or an .onnx file from tools/deployment/export_onnx.py (run by onnxruntime)')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show', action='store_true', help='show the predictions in a window')
    parser.add_argument('--show-dir', help='write every test image with its predicted boxes into this folder '
                        '(a relative one under <work_dir>/<timestamp>/, as mmdetection 3.3)')
    parser.add_argument('--show-gt', action='store_true', help='also draw the ground truth')
    parser.add_argument('--wait-time', type=float, help='seconds each --show picture stays up')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (not supported for SSD)')
    add_common_arguments(parser)
    add_legacy_test_arguments(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with friendly_errors() as errors:
        translate_legacy_test_flags(args)
        setup = setup_onnx_test_config if is_onnx_file(args.checkpoint) else setup_test_config
        runner = build_runner(args, setup)
        errors.watch(runner)
        runner.test()


if __name__ == '__main__':
    main()
