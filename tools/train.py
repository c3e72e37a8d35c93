"""Train a detector: ``python tools/train.py CONFIG [options]`` (mmdetection's flags)."""
import argparse

from ssd_npu.engine.command_line import (
    add_common_arguments,
    add_legacy_train_arguments,
    build_runner,
    setup_train_config,
    translate_legacy_train_flags,
)
from ssd_npu.engine.friendly_errors import friendly_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an SSD detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='logs and checkpoints (default ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or without a path from the newest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision: autocast + dynamic loss scaling')
    parser.add_argument('--opt-level', choices=['O0', 'O1', 'O2'],
                        help='apex-style level of the old product: O0 = fp32, O1/O2 = --amp')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR to the real total batch (on by default in our configs)')
    parser.add_argument('--seed', type=int, help='random seed')
    parser.add_argument('--deterministic', action='store_true', help='deterministic algorithms')
    add_common_arguments(parser)
    add_legacy_train_arguments(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with friendly_errors() as errors:
        translate_legacy_train_flags(args)
        runner = build_runner(args, setup_train_config)
        errors.watch(runner)
        runner.train()


if __name__ == '__main__':
    main()
