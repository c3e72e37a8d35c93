"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmdetection's flags)."""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli import (
        build_runner,
        build_test_parser,
        setup_onnx_test_config,
        setup_test_config,
        translate_legacy_test_flags,
    )
    from ssd_npu.cli.friendly_errors import friendly_errors
    from ssd_npu.deployment import is_onnx_file
    from ssd_npu.engine.process_group import leave_process_group


def main() -> None:
    args = build_test_parser().parse_args()
    with friendly_errors() as errors:
        translate_legacy_test_flags(args)
        setup = setup_onnx_test_config if is_onnx_file(args.checkpoint) else setup_test_config
        runner = build_runner(args, setup)
        errors.watch(runner)
        runner.test()
        leave_process_group()


if __name__ == '__main__':
    main()
