"""Train a detector: ``python tools/train.py CONFIG [options]`` (mmdetection's flags)."""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli import build_runner, build_train_parser, setup_train_config, translate_legacy_train_flags
    from ssd_npu.cli.friendly_errors import friendly_errors
    from ssd_npu.engine.process_group import leave_process_group


def main() -> None:
    args = build_train_parser().parse_args()
    with friendly_errors() as errors:
        translate_legacy_train_flags(args)
        runner = build_runner(args, setup_train_config)
        errors.watch(runner)
        runner.train()
        leave_process_group()


if __name__ == '__main__':
    main()
