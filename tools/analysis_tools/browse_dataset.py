"""Draw the ground truth of the training set as the model sees it (after the training pipeline).

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir vis/ --not-show [--max-samples 20]

Each image goes through the config's train pipeline (augmentations included), so the boxes drawn
are the targets of one training step. Files are named ``<index>_<image file name>``: a repeated
dataset (SSD's RepeatDataset x5) shows the same image several times, differently augmented.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from ssd_npu.config import load_config
from ssd_npu.registry import DATASETS, VISUALIZERS
from ssd_npu.setup_env import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--output-dir', help='write the drawings here (needed without a display)')
    parser.add_argument('--not-show', action='store_true', help='do not open a window per image')
    parser.add_argument('--show-interval', type=float, default=2, help='seconds per shown image')
    parser.add_argument('--max-samples', type=int, help='stop after this many samples')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value (e.g. train_dataloader.dataset.times=1)')
    args = parser.parse_args(argv)
    if args.not_show and args.output_dir is None:
        parser.error('--not-show without --output-dir would produce nothing')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    register_all_modules()

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    visualizer = VISUALIZERS.build(cfg.get('visualizer', dict(type='DetLocalVisualizer')))
    visualizer.dataset_meta = dataset.metainfo
    if args.output_dir is not None:
        os.makedirs(args.output_dir, exist_ok=True)

    count = len(dataset) if args.max_samples is None else min(args.max_samples, len(dataset))
    progress = ProgressBar(count)
    for index in range(count):
        item = dataset[index]
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # CHW BGR -> HWC RGB
        sample = item['data_samples']
        name = f'{index:06d}_{osp.basename(sample.img_path)}'
        out_file = osp.join(args.output_dir, name) if args.output_dir is not None else None
        visualizer.add_datasample(name, image, sample, draw_pred=False, show=not args.not_show,
                                  wait_time=args.show_interval, out_file=out_file)
        progress.update()


if __name__ == '__main__':
    main()
