"""Write an mmdetection 2.x config (e.g. the old Ascend port's SSD) as a 3.x-style config that trains here.

    python tools/misc/upgrade_config.py OLD.py NEW.py [--cfg-options data.samples_per_gpu=16 ...]

The old config is read with its _base_ files merged (``--cfg-options`` use its 2.x key names);
the new one is self-contained.
"""
import argparse
from typing import List, Optional

from mmengine.config import Config, DictAction

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.config.legacy_config import is_legacy_config, upgrade_config
from ssd_npu.errors import UsageError


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('old', help='the mmdetection 2.x config')
    parser.add_argument('new', help='where to write the 3.x-style config (.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override entries of the old config first (2.x key names)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with friendly_errors():
        old = Config.fromfile(args.old)
        if args.cfg_options:
            old.merge_from_dict(args.cfg_options)
        if not is_legacy_config(old):
            raise UsageError(f'{args.old} is not an mmdetection 2.x config (it has train_dataloader or no '
                             'data/optimizer/lr_config/runner entries); it needs no upgrade')
        upgrade_config(old).dump(args.new)
    print(f'wrote {args.new}: train it with python tools/train.py {args.new}')


if __name__ == '__main__':
    main()
