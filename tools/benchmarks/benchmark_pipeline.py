"""Measure the data pipeline in images/s per CPU core, step by step, on real JPEG files.

    python tools/benchmarks/benchmark_pipeline.py                       # synthetic 640x480 JPEGs
    python tools/benchmarks/benchmark_pipeline.py --data-root data/coco/ \
        --ann-file annotations/instances_val2017.json --img-prefix val2017/ --num-images 500
    python tools/benchmarks/benchmark_pipeline.py --workers 2           # also a multi-process loader

Prints, for the config's train and test pipelines, each step's milliseconds per image and
share, and the throughput of one process (= one core; OpenCV threads off as in the workers).
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import cv2
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from pipeline_benchmark import time_pipeline
from torch.utils.data import DataLoader

from ssd_npu.config import load_config
from ssd_npu.datasets import CocoDataset
from ssd_npu.datasets.coco import load_coco_json
from ssd_npu.datasets.synthetic import ensure_synthetic_coco


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/_base_/datasets/coco_detection.py',
                        help='config whose train_pipeline and test_pipeline are timed')
    parser.add_argument('--data-root', help='COCO-format dataset (default: synthetic 640x480 '
                        'images generated into a temporary folder)')
    parser.add_argument('--ann-file', default='annotations/instances_train.json')
    parser.add_argument('--img-prefix', default='train/')
    parser.add_argument('--num-images', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=3, help='passes over the images')
    parser.add_argument('--workers', type=int, default=0,
                        help='also time a DataLoader with this many worker processes')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object: the loader img/s (with --workers) and the settings')
    return parser.parse_args()


def time_loader(dataset: CocoDataset, workers: int, repeats: int) -> float:
    """Images/s of a DataLoader (batch 8) over the dataset, after one warm-up batch."""
    loader = DataLoader(dataset, batch_size=8, num_workers=workers, collate_fn=pseudo_collate,
                        shuffle=True, persistent_workers=True)
    images, start = 0, None
    for _ in range(repeats):
        for batch in loader:
            if start is None:  # exclude worker start-up
                start = time.perf_counter()
                continue
            images += len(batch['inputs'])
    return images / (time.perf_counter() - start)


def main() -> None:
    args = parse_args()
    init_default_scope('ssd_npu')
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        data_root = args.data_root
        if data_root is None:
            data_root = ensure_synthetic_coco(osp.join(tmp, 'synthetic640'),
                                              num_train=args.num_images, num_val=1, width=640,
                                              height=480, size_jitter=0, min_object=32,
                                              max_object=400, max_objects=8)
        # Every category of the file: the classes do not matter for speed.
        categories = load_coco_json(osp.join(data_root, args.ann_file))['categories']
        metainfo = dict(classes=tuple(cat['name'] for cat in categories))
        dataset = CocoDataset(ann_file=args.ann_file, data_root=data_root, metainfo=metainfo,
                              data_prefix=dict(img=args.img_prefix), pipeline=cfg.train_pipeline,
                              indices=args.num_images)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        if args.json:
            rate = time_loader(dataset, args.workers, args.repeats) if args.workers else None
            print(json.dumps(dict(benchmark='data_pipeline', config=args.config, images=len(infos),
                                  workers=args.workers, img_per_s=rate)))
            return
        print(f'{len(infos)} images from {osp.join(data_root, args.img_prefix)}, '
              f'{args.repeats} passes, config {args.config}')
        for name in ('train_pipeline', 'test_pipeline'):
            timing = time_pipeline(cfg[name], infos, repeats=args.repeats)
            print(f'\n{name}:\n{timing.table()}')
        if args.workers:
            rate = time_loader(dataset, args.workers, args.repeats)
            print(f'\nDataLoader, {args.workers} workers, train pipeline: {rate:.1f} img/s '
                  f'({rate / args.workers:.1f} img/s per worker)')


if __name__ == '__main__':
    main()
