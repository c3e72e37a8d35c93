"""Evaluate a checkpoint: ``ssd_npu test CONFIG CHECKPOINT [options]`` = ``python tools/test.py ...``
(mmdetection's flags; CHECKPOINT may be an exported .onnx file)."""
from typing import List, Optional

from ssd_npu.cli import (
    build_runner,
    build_test_parser,
    setup_onnx_test_config,
    setup_test_config,
    translate_legacy_test_flags,
)
from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.deployment import is_onnx_file
from ssd_npu.engine.process_group import leave_process_group


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    parser = build_test_parser()
    if prog is not None:
        parser.prog = prog
    args = parser.parse_args(argv)
    with friendly_errors() as errors:
        args.config = resolve_config(args.config)
        translate_legacy_test_flags(args)
        setup = setup_onnx_test_config if is_onnx_file(args.checkpoint) else setup_test_config
        runner = build_runner(args, setup)
        errors.watch(runner)
        runner.test()
        leave_process_group()
