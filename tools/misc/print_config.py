"""Print a config with its _base_ files merged and --cfg-options applied, as ``ssd_npu print-config``.

    python tools/misc/print_config.py configs/ssd300_coco.py [--cfg-options train_dataloader.batch_size=4]
"""
from ssd_npu.cli.commands.print_config import main, parse_args  # noqa: F401  (parse_args: the flags)

if __name__ == '__main__':
    main()
