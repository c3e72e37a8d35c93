"""Train a detector: ``ssd_npu train CONFIG [options]`` = ``python tools/train.py CONFIG [options]``
(mmdetection's flags)."""
from typing import List, Optional

from ssd_npu.cli import build_runner, build_train_parser, setup_train_config, translate_legacy_train_flags
from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.engine.process_group import leave_process_group


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    parser = build_train_parser()
    if prog is not None:
        parser.prog = prog
    args = parser.parse_args(argv)
    with friendly_errors() as errors:
        args.config = resolve_config(args.config)
        translate_legacy_train_flags(args)
        runner = build_runner(args, setup_train_config)
        errors.watch(runner)
        runner.train()
        leave_process_group()
