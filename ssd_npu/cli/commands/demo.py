"""The main job on a fresh machine, no download: train and evaluate on the synthetic dataset.

Generates ``data/synthetic`` unless it is there, trains ``configs/synthetic_demo.py`` (the
package's copy when the current folder has none), evaluates the final model (COCO mAP table),
and draws its detections on a validation image.

    ssd_npu demo [--work-dir work_dirs/synthetic_demo] [--device cpu]
    python tools/demo_synthetic.py [--work-dir work_dirs/synthetic_demo] [--device cpu]
"""
import argparse
import glob
import os.path as osp
from typing import List, Optional

from mmengine.config import DictAction

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config


def parse_args(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='configs/synthetic_demo.py')
    parser.add_argument('--work-dir', default='work_dirs/synthetic_demo')
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'], help='default: npu > cuda > cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=2')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    args = parse_args(argv, prog)
    with friendly_errors() as errors:
        from mmengine.runner import Runner, find_latest_checkpoint

        from ssd_npu.apis import detect_and_draw, init_detector
        from ssd_npu.cli import apply_launch_options
        from ssd_npu.config import load_config
        from ssd_npu.setup_env import register_all_modules
        from ssd_npu.utils import get_device

        config = resolve_config(args.config)
        register_all_modules(init_default_scope=False)
        cfg = load_config(config, args.cfg_options)
        apply_launch_options(cfg, config, args.work_dir, launcher='none', device=args.device)
        device = get_device()
        runner = Runner.from_cfg(cfg)
        errors.watch(runner)
        runner.train()
        metrics = runner.test()

        checkpoint = find_latest_checkpoint(args.work_dir)
        model = init_detector(cfg, checkpoint, device=device)
        val_dir = osp.join(cfg.test_dataloader.dataset.data_root, cfg.test_dataloader.dataset.data_prefix.img)
        image = sorted(glob.glob(osp.join(val_dir, '*.jpg')))[0]
        out_file = osp.join(args.work_dir, 'demo_detections.jpg')
        _, lines = detect_and_draw(model, image, out_file, score_thr=0.3)
        print('\n'.join(lines))
        print(f'\nbbox mAP on the validation split: {metrics["coco/bbox_mAP"]:.3f} '
              f'(mAP@0.5 {metrics["coco/bbox_mAP_50"]:.3f}); detections on {image} drawn to {out_file}')
