"""Generate the synthetic shapes dataset in COCO format (see ssd_npu.datasets.synthetic).

    python tools/misc/make_synthetic_coco.py --out data/synthetic
    python tools/misc/make_synthetic_coco.py --out /tmp/bench640 --width 640 --height 480 --size-jitter 0
"""
import argparse
import os.path as osp
import shutil

from ssd_npu.datasets.synthetic import ensure_synthetic_coco


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic', help='output folder')
    parser.add_argument('--num-train', type=int, default=500)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--width', type=int, default=256, help='nominal image width (px)')
    parser.add_argument('--height', type=int, default=256, help='nominal image height (px)')
    parser.add_argument('--size-jitter', type=float, default=0.1,
                        help='each image side varies by up to this fraction')
    parser.add_argument('--min-object', type=int, default=24, help='smallest object side (px)')
    parser.add_argument('--max-object', type=int, default=120, help='largest object side (px)')
    parser.add_argument('--max-objects', type=int, default=5, help='objects per image: 1 to this')
    parser.add_argument('--force', action='store_true', help='delete --out first if it exists')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.force and osp.isdir(args.out):
        shutil.rmtree(args.out)
    out = ensure_synthetic_coco(args.out, num_train=args.num_train, num_val=args.num_val,
                                seed=args.seed, width=args.width, height=args.height,
                                size_jitter=args.size_jitter, min_object=args.min_object,
                                max_object=args.max_object, max_objects=args.max_objects)
    print(f'synthetic COCO dataset ready in {out}')


if __name__ == '__main__':
    main()
