"""Print a config with its _base_ files merged and --cfg-options applied.

    ssd_npu print-config ssd300_coco.py [--cfg-options train_dataloader.batch_size=4]
    python tools/misc/print_config.py configs/ssd300_coco.py [--cfg-options train_dataloader.batch_size=4]
"""
import argparse
from typing import List, Optional

from mmengine.config import DictAction

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.config import load_config


def parse_args(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value (e.g. optim_wrapper.optimizer.lr=0.01)')
    parser.add_argument('--save-path', help='also write the merged config to this .py/.json/.yml file')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    args = parse_args(argv, prog)
    with friendly_errors():
        cfg = load_config(resolve_config(args.config), args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config written to {args.save_path}')
